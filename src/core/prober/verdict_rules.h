// The rules a verdict passes between the examination and the caller, for
// both forms of the verifier (verifier.h: a batch; stream_verifier.h: a
// rolling window): the result cache's answer for an address, and the
// stamping of a probed item (checked_at, duration, final or not, and what
// the result cache keeps). See verifier.h for what is cached and why.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "prober/caches.h"
#include "prober/verifier.h"

namespace ev::prober {

// What examining an item found before any probe.
struct Examined {
    double examine_ms = 0;
    std::uint32_t offline_bits = 0;
};

// The result cache's verdict for an examined address at a network level,
// stamped as reused (from_cache, its own duration since `started`).
std::optional<VerificationResult> cached_verdict(ProberCaches& caches, Level level, const OfflineFindings& found,
                                                 std::string_view input, std::chrono::steady_clock::time_point started);

// The verdict of an item that has settled (probed, or never to be probed).
// results: where a settled network verdict is kept until `expires`; null
// when the result cache is off.
Verdict stamp(OfflineFindings& item, Level level, const Examined& examined, ProberCaches* results,
              std::chrono::steady_clock::time_point expires);

}  // namespace ev::prober
