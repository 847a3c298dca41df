// A settled verdict as a CacheStore keeps it: the result, and the findings
// the network contributed, so that a hit can be decided again with the risk
// lists of the moment (a list change refreshes the flags of cached verdicts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "verification_result.h"

namespace ev::prober {

struct CachedVerdict {
    VerificationResult result;
    std::uint32_t probe_findings = 0;  // Findings::bits() of what DNS and SMTP found
};

std::string encode_verdict(const CachedVerdict& verdict);
// nullopt for bytes that are not an encoded verdict of this version.
std::optional<CachedVerdict> decode_verdict(std::string_view bytes);

}  // namespace ev::prober
