// libFuzzer target: provider rules built from any bytes (the table's rows
// are text of the user's), matched against any MX host name, and the note
// they put in smtp_message. Nothing may crash, and what is accepted must be
// stable: a normalized pattern normalizes to itself and matches itself.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "prober/provider_rules.h"
#include "text.h"

namespace {

// "name|behaviour|pattern pattern ..." per line; other lines are MX hosts.
std::vector<std::string_view> split(std::string_view s, char by) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (std::size_t at = s.find(by); at != std::string_view::npos; at = s.find(by, start)) {
        parts.push_back(s.substr(start, at - start));
        start = at + 1;
    }
    parts.push_back(s.substr(start));
    return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    ev::prober::ProviderRules rules;
    std::vector<std::string_view> hosts;
    for (std::string_view line : split(input, '\n')) {
        auto fields = split(line, '|');
        if (fields.size() != 3) {
            hosts.push_back(line);
            continue;
        }
        std::vector<std::string> patterns;
        for (std::string_view p : split(fields[2], ' ')) {
            patterns.emplace_back(p);
            if (auto normalized = ev::prober::normalize_mx_pattern(p)) {
                if (ev::prober::normalize_mx_pattern(*normalized) != normalized) std::abort();
                if (normalized->empty() || normalized->size() > 253) std::abort();
            }
        }
        auto behaviour = ev::prober::parse_provider_behaviour(fields[1]);
        if (rules.add(std::string(fields[0]), behaviour.value_or(ev::prober::ProviderBehaviour::Undocumented),
                      patterns)) {
            // Each pattern of an added provider matches some provider: this
            // one, or another whose pattern is as long or longer.
            for (const auto& p : patterns)
                if (!rules.match(*ev::prober::normalize_mx_pattern(p))) std::abort();
        }
    }
    for (std::string_view host : hosts) {
        const ev::prober::Provider* provider = rules.match(host);
        if (!provider) continue;
        for (bool probed : {false, true}) {
            ev::Findings findings;
            findings.add(ev::Reason::Accepted);
            ev::VerificationResult result;
            result.smtp_message = std::string(host);
            ev::prober::apply_provider(*provider, probed, &findings, &result);
            if (!result.smtp_message || findings.empty()) std::abort();
            std::string_view note = std::string_view(*result.smtp_message).substr(host.size());
            if (!ev::text::is_ascii(note)) std::abort();  // the name is made printable ASCII
        }
    }
    return 0;
}
