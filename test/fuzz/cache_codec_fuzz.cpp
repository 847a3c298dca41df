// libFuzzer target: bytes read back from the server's shared cache (another
// build's layout, a torn or corrupt entry) must decode to a verdict or route
// that encodes back to the same bytes, or to nothing; never a crash, an
// out-of-range enum or a read past the end.
//
// The same holds for a bulk job's chunk of verdicts (job_address_chunks),
// read back from a table.
//
// Input layout: the first byte chooses the decoder (0 mod 3: verdict, 1:
// route, 2: a job's verdict slots, as many as the second byte says), the
// rest is the stored value.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dns/route_codec.h"
#include "jobs/verdict_slots.h"
#include "prober/verdict_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 3 == 0) {
        auto verdict = ev::prober::decode_verdict(bytes);
        if (verdict && ev::prober::encode_verdict(*verdict) != bytes) std::abort();
    } else if (data[0] % 3 == 1) {
        auto route = ev::dns::decode_route(bytes);
        if (route && ev::dns::encode_route(*route) != bytes) std::abort();
    } else if (!bytes.empty()) {
        std::size_t count = static_cast<std::uint8_t>(bytes[0]);
        bytes.remove_prefix(1);
        // Slots drop the stored email: one more round trip is exact.
        auto slots = ev::jobs::decode_slots(bytes, count);
        if (slots) {
            std::string again = ev::jobs::encode_slots(*slots);
            auto twice = ev::jobs::decode_slots(again, count);
            if (!twice || ev::jobs::encode_slots(*twice) != again) std::abort();
        }
    }
    return 0;
}
