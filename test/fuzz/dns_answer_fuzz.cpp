// Fuzzes what the resolver does with a DNS reply off the wire: our TTL walk
// (dns/answer_ttl.cpp) and the c-ares parsers it is paired with. Neither may
// read outside the buffer, hang or leak whatever the bytes are.
#include <ares.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dns/answer_ttl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 65535) return 0;  // a DNS message is at most 64 KiB
    // A private copy: ASan then sees any read past the real end.
    std::vector<unsigned char> reply(data, data + size);
    int length = static_cast<int>(size);
    ev::dns::smallest_ttl(reply.data(), length);

    ares_mx_reply* mx = nullptr;
    if (ares_parse_mx_reply(reply.data(), length, &mx) == ARES_SUCCESS) ares_free_data(mx);
    hostent* host = nullptr;
    ares_addrttl ttls[8];
    int count = 8;
    if (ares_parse_a_reply(reply.data(), length, &host, ttls, &count) == ARES_SUCCESS && host) ares_free_hostent(host);
    return 0;
}
