// The verdicts of one chunk of a job's addresses (job_address_chunks.verdicts),
// a slot per address, empty until its verdict is written: one bytea per chunk
// that the workers rewrite as verdicts settle and job_results decodes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verification_result.h"

namespace ev::jobs {

using VerdictSlots = std::vector<std::optional<VerificationResult>>;

// The result's email is not kept: the chunk's keys hold it.
std::string encode_slots(const VerdictSlots& slots);
// nullopt for bytes that are not encoded slots of this version. Empty bytes
// are slots not written yet: size empty slots.
std::optional<VerdictSlots> decode_slots(std::string_view bytes, std::size_t size);

}  // namespace ev::jobs
