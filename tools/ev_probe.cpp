// Command-line face of the C++ core, for trying the prober outside
// PostgreSQL: ev_probe [--level dns|smtp] [--dns ip:port] [--port N] addr...
// (or addresses on stdin). Prints one tab-separated verdict per address.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "prober/engine.h"
#include "risk_lists.h"
#include "syntax_verifier.h"
#include "typo_suggester.h"

int main(int argc, char** argv) {
    ev::prober::ProbeSettings settings;
    settings.session.helo_name = "probe.localhost";
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
            settings.dns.servers = value();
        } else if (arg == "--port") {
            settings.smtp_port = std::atoi(value().c_str());
        } else if (arg == "--per-host") {
            settings.max_connections_per_host = std::atoi(value().c_str());
        } else if (arg == "--quiet") {
            quiet = true;
        } else {
            inputs.push_back(arg);
        }
    }
    if (inputs.empty())
        for (std::string line; std::getline(std::cin, line);) inputs.push_back(line);

    ev::RiskLists lists = ev::RiskLists::with_builtin_lists();
    ev::SyntaxVerifier verifier(lists, ev::TypoSuggester::builtin());
    std::vector<ev::OfflineFindings> items;
    for (const auto& input : inputs) items.push_back(verifier.examine(input, {}));

    ev::prober::ProberCaches caches;
    ev::prober::Engine engine(settings, caches);
    auto started = std::chrono::steady_clock::now();
    engine.run(items, level, nullptr);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (!quiet)
        for (const auto& item : items) {
            const auto& r = item.result;
            std::cout << r.email << '\t' << ev::to_string(r.status) << '\t' << ev::to_string(r.reason) << '\t'
                      << ev::to_string(r.level) << "\tcatch_all=" << (r.is_catch_all ? (*r.is_catch_all ? "t" : "f") : "null")
                      << "\tmx=" << r.mx_host.value_or("") << '\t' << (r.smtp_code ? std::to_string(*r.smtp_code) : "")
                      << ' ' << r.smtp_message.value_or("") << '\n';
        }
    const auto& s = engine.stats();
    std::cerr << items.size() << " addresses in " << seconds << " s (" << items.size() / seconds
              << "/s); sessions " << s.sessions_opened << ", max per host " << s.max_sessions_per_host << ", rcpts "
              << s.rcpts_sent << ", catch-all probes " << s.catch_all_probes << ", tls " << s.tls_sessions
              << " (unverified " << s.tls_unverified << ")\n";
}
