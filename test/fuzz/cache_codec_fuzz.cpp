// libFuzzer target: bytes read back from the server's shared cache (another
// build's layout, a torn or corrupt entry) must decode to a verdict or route
// that encodes back to the same bytes, or to nothing; never a crash, an
// out-of-range enum or a read past the end.
//
// Input layout: the first byte chooses the decoder (even: verdict, odd:
// route), the rest is the stored value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dns/route_codec.h"
#include "prober/verdict_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2 == 0) {
        auto verdict = ev::prober::decode_verdict(bytes);
        if (verdict && ev::prober::encode_verdict(*verdict) != bytes) std::abort();
    } else {
        auto route = ev::dns::decode_route(bytes);
        if (route && ev::dns::encode_route(*route) != bytes) std::abort();
    }
    return 0;
}
