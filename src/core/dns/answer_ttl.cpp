#include "dns/answer_ttl.h"

#include <ares.h>

#include <algorithm>
#include <climits>

namespace ev::dns {

namespace {

std::uint16_t read16(const unsigned char* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t read32(const unsigned char* p) {
    return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
           (static_cast<std::uint32_t>(p[2]) << 8) | p[3];
}

}  // namespace

std::uint32_t smallest_ttl(const unsigned char* abuf, int alen) {
    if (abuf == nullptr || alen < 12) return kDefaultTtl;
    unsigned questions = read16(abuf + 4);
    unsigned records = read16(abuf + 6) + read16(abuf + 8);
    const unsigned char* p = abuf + 12;
    const unsigned char* end = abuf + alen;
    auto skip_name = [&]() -> bool {
        char* name = nullptr;
        long length = 0;
        if (p >= end) return false;
        if (ares_expand_name(p, abuf, alen, &name, &length) != ARES_SUCCESS) return false;
        ares_free_string(name);
        p += length;
        return p <= end;
    };
    for (unsigned i = 0; i < questions; ++i) {
        if (!skip_name() || end - p < 4) return kDefaultTtl;
        p += 4;
    }
    std::uint32_t smallest = UINT32_MAX;
    for (unsigned i = 0; i < records; ++i) {
        if (!skip_name() || end - p < 10) break;
        std::uint32_t ttl = read32(p + 4);
        unsigned rdlength = read16(p + 8);
        p += 10;
        if (end - p < static_cast<long>(rdlength)) break;
        p += rdlength;
        smallest = std::min(smallest, ttl);
    }
    return smallest == UINT32_MAX ? kDefaultTtl : smallest;
}

}  // namespace ev::dns
