#include "net/source_addresses.h"

#include <cstdint>

#include "text.h"

namespace ev::net {

namespace {

constexpr std::size_t kMaxSources = 256;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// FNV-1a, 64 bits: stable across processes, builds and machines (std::hash
// is none of these), and plenty for spreading hosts over a few addresses.
std::uint64_t stable_hash(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ull;
    for (char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    return hash;
}

}  // namespace

SourceAddressList parse_source_addresses(std::string_view text) {
    SourceAddressList list;
    if (trim(text).empty()) return list;
    std::size_t position = 0;
    int number = 0;
    for (;;) {
        std::size_t comma = text.find(',', position);
        std::string_view entry =
            trim(text.substr(position, comma == std::string_view::npos ? text.npos : comma - position));
        ++number;
        std::string label = "entry " + std::to_string(number);
        if (entry.empty()) {
            list.error = label + " is empty";
            break;
        }
        std::string_view ip = entry;
        if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
        auto endpoint = make_endpoint(ip, 1);
        if (!endpoint) {
            list.error = label + " (\"" + text::printable_ascii(std::string(entry)) +
                         "\") is not an IPv4 or IPv6 address (no names, no ports)";
            break;
        }
        for (const auto& seen : list.addresses) {
            if (seen.ip() == endpoint->ip()) {
                list.error = label + " (" + endpoint->ip() + ") is listed twice";
                break;
            }
        }
        if (!list.error.empty()) break;
        if (list.addresses.size() == kMaxSources) {
            list.error = "more than " + std::to_string(kMaxSources) + " addresses";
            break;
        }
        list.addresses.push_back(*endpoint);
        if (comma == std::string_view::npos) break;
        position = comma + 1;
    }
    if (!list.error.empty()) list.addresses.clear();
    return list;
}

const Endpoint* choose_source(const std::vector<Endpoint>& sources, std::string_view sticky_key, int family) {
    std::size_t count = 0;
    for (const auto& s : sources)
        if (s.family() == family) ++count;
    if (count == 0) return nullptr;
    std::string name = text::ascii_lowercase(sticky_key);
    if (!name.empty() && name.back() == '.') name.pop_back();
    std::size_t pick = stable_hash(name) % count;
    for (const auto& s : sources) {
        if (s.family() != family) continue;
        if (pick == 0) return &s;
        --pick;
    }
    return nullptr;
}

}  // namespace ev::net
