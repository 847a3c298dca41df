// Command-line face of the C++ core, for trying the prober outside
// PostgreSQL: ev_probe [--level syntax|dns|smtp] [--dns ip:port] [--port N] [--per-host N]
// [--source ip,ip...] [--socks5 socks5://[user:password@]host:port] addr...
// (or addresses on stdin). Prints one tab-separated verdict per address.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "net/socks5_url.h"
#include "net/source_addresses.h"
#include "prober/verifier.h"
#include "risk_lists.h"
#include "typo_suggester.h"

int main(int argc, char** argv) {
    ev::prober::VerifierSettings settings;
    settings.probe.session.helo_name = "probe.localhost";
    ev::Level level = ev::Level::Smtp;
    bool quiet = false;
    std::vector<std::string> inputs;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << arg << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--level") {
            auto parsed = ev::parse_level(value());
            if (!parsed) return std::cerr << "bad level\n", 2;
            level = *parsed;
        } else if (arg == "--dns") {
            settings.probe.dns.servers = value();
        } else if (arg == "--port") {
            settings.probe.smtp_port = std::atoi(value().c_str());
        } else if (arg == "--per-host") {
            settings.probe.politeness.max_connections_per_host = std::atoi(value().c_str());
        } else if (arg == "--source") {
            auto sources = ev::net::parse_source_addresses(value());
            if (!sources.error.empty()) return std::cerr << "--source: " << sources.error << '\n', 2;
            settings.probe.session.source_addresses = std::move(sources.addresses);
        } else if (arg == "--socks5") {
            auto proxy = ev::net::parse_socks5_url(value());
            if (!proxy.error.empty()) return std::cerr << "--socks5: " << proxy.error << '\n', 2;
            settings.probe.session.socks5_proxy = std::move(proxy.proxy);
        } else if (arg == "--quiet") {
            quiet = true;
        } else {
            inputs.push_back(arg);
        }
    }
    if (inputs.empty())
        for (std::string line; std::getline(std::cin, line);) inputs.push_back(line);

    ev::RiskLists lists = ev::RiskLists::with_builtin_lists();
    ev::prober::ProberCaches caches;
    ev::prober::Verifier verifier(lists, ev::TypoSuggester::builtin(), caches);
    std::vector<std::string_view> views(inputs.begin(), inputs.end());
    auto started = std::chrono::steady_clock::now();
    std::vector<ev::prober::Verdict> verdicts;
    try {
        verdicts = verifier.verify(views, level, settings);
    } catch (const std::invalid_argument& e) {
        return std::cerr << e.what() << '\n', 2;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (!quiet)
        for (const auto& verdict : verdicts) {
            const auto& r = verdict.result;
            std::cout << r.email << '\t' << ev::to_string(r.status) << '\t' << ev::to_string(r.reason) << '\t'
                      << ev::to_string(r.level)
                      << "\tcatch_all=" << (r.is_catch_all ? (*r.is_catch_all ? "t" : "f") : "null")
                      << "\tmx=" << r.mx_host.value_or("") << '\t' << (r.smtp_code ? std::to_string(*r.smtp_code) : "")
                      << ' ' << r.smtp_message.value_or("") << (verdict.final ? "" : "\t(not final)") << '\n';
        }
    const auto& s = verifier.stats();
    std::cerr << verdicts.size() << " addresses in " << seconds << " s ("
              << static_cast<double>(verdicts.size()) / seconds << "/s); sessions " << s.sessions_opened
              << ", max per host " << s.max_sessions_per_host << ", rcpts " << s.rcpts_sent << ", catch-all probes "
              << s.catch_all_probes << ", tls " << s.tls_sessions << " (unverified " << s.tls_unverified << ")\n";
}
