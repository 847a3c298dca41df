// The local addresses probes leave from (email_verify.source_addresses): a
// list of IPv4/IPv6 addresses, and the choice of one for a connection.
//
// The choice is sticky per MX host: the same mail server always sees the
// same one of our addresses (of its family) while the list is unchanged, so
// a server that counts connections, errors or greylisting triplets per
// client IP sees one consistent client, while different servers spread over
// the whole list. The key is the server's IP address, not its MX name: the
// prober shares one connection queue among all the names that point at an
// address, and whichever domain named it first must not decide.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "net/socket.h"

namespace ev::net {

struct SourceAddressList {
    std::vector<Endpoint> addresses;  // in the order given, port 0
    std::string error;                // "" when the text was valid
};

// "192.0.2.10, 2001:db8::10,[2001:db8::11]": comma-separated IPv4/IPv6
// addresses (IPv6 with or without brackets), spaces around entries ignored;
// "" is the empty list. Duplicates, ports and names are errors.
SourceAddressList parse_source_addresses(std::string_view text);

// The address to leave from for `sticky_key` (the MX host's IP address)
// towards an address of `family` (AF_INET, AF_INET6), or nullptr when the
// list has none of that family. A stable hash of the key picks it: the same
// key, list and family give the same address in every process and build.
// Keys compare case-insensitively, a final dot ignored (a name works too).
const Endpoint* choose_source(const std::vector<Endpoint>& sources, std::string_view sticky_key, int family);

}  // namespace ev::net
