#include "jobs/verdict_slots.h"

#include "byte_codec.h"
#include "prober/verdict_codec.h"

namespace ev::jobs {

namespace {

// Bumped whenever the layout changes.
constexpr std::uint8_t kVersion = 1;

}  // namespace

std::string encode_slots(const VerdictSlots& slots) {
    codec::Writer out;
    out.u8(kVersion);
    out.u32(static_cast<std::uint32_t>(slots.size()));
    for (const auto& slot : slots) {
        if (!slot) {
            out.u8(0);
            continue;
        }
        prober::CachedVerdict verdict{*slot, 0};
        verdict.result.email.clear();
        out.u8(1);
        out.str(prober::encode_verdict(verdict));
    }
    return out.bytes();
}

std::optional<VerdictSlots> decode_slots(std::string_view bytes, std::size_t size) {
    if (bytes.empty()) return VerdictSlots(size);
    codec::Reader in(bytes);
    if (in.u8() != kVersion) return std::nullopt;
    std::uint32_t count = in.u32();
    if (!in.ok() || count != size) return std::nullopt;
    VerdictSlots slots(size);
    for (auto& slot : slots) {
        std::uint8_t present = in.u8();
        if (!in.ok() || present > 1) return std::nullopt;
        if (present == 0) continue;
        std::string encoded = in.str();
        if (!in.ok()) return std::nullopt;
        auto verdict = prober::decode_verdict(encoded);
        if (!verdict) return std::nullopt;
        slot = std::move(verdict->result);
    }
    if (!in.at_end()) return std::nullopt;
    return slots;
}

}  // namespace ev::jobs
