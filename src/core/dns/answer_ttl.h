// How long a DNS answer may be cached. c-ares 1.18 parses MX records but
// drops their TTLs, so the raw reply is walked once more (names skipped with
// ares_expand_name) for the smallest TTL of its answer and authority
// sections; the SOA in the latter gives a negative answer its lifetime
// (RFC 2308).
#pragma once

#include <cstdint>

namespace ev::dns {

constexpr std::uint32_t kDefaultTtl = 60;  // when the reply names none

// Never reads outside abuf[0, alen); any malformed reply gives kDefaultTtl or
// the smallest TTL seen before the damage.
std::uint32_t smallest_ttl(const unsigned char* abuf, int alen);

}  // namespace ev::dns
