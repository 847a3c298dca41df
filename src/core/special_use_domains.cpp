#include "special_use_domains.h"

#include <array>

namespace ev {

namespace {

// Each name covers itself and every name under it.
//  onion      RFC 7686 2: software without Tor must refuse it and must not query DNS
//  invalid    RFC 6761 6.4: never exists; resolvers answer NXDOMAIN
//  localhost  RFC 6761 6.3: the local host (a probe would talk to ourselves)
//  local      RFC 6762 3: link-local multicast DNS, never unicast DNS
//  alt        RFC 9476: reserved for non-DNS name systems
//  arpa       RFC 3172 2: infrastructure names only (home.arpa, RFC 8375, is
//             a home network's own; the reverse-mapping trees hold no mail)
constexpr std::array<std::string_view, 6> kSpecialUse = {"onion", "invalid", "localhost", "local", "alt", "arpa"};

}  // namespace

bool is_special_use_domain(std::string_view domain) {
    for (std::string_view name : kSpecialUse) {
        if (domain.size() < name.size()) continue;
        std::string_view tail = domain.substr(domain.size() - name.size());
        if (tail != name) continue;
        if (domain.size() == name.size() || domain[domain.size() - name.size() - 1] == '.') return true;
    }
    return false;
}

}  // namespace ev
