// What email-verify-prober and the extension say to each other
// (extension/src/99_remote_probers.sql), as the prober holds it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "verdict.h"

namespace ev::remote {

// The protocol this prober speaks; prober_hello refuses any other.
constexpr int kProtocol = 1;

// One claimed item: a watched row's queue item, or a job's address.
struct ClaimedItem {
    bool job = false;
    std::int64_t queue_id = 0;
    std::int64_t job_id = 0;
    std::int32_t address = 0;
    std::optional<std::int64_t> claim;  // the job claim (range) it belongs to; none for a retry
    std::string email;
    Level level = Level::Smtp;
    int attempts = 0;
};

}  // namespace ev::remote
