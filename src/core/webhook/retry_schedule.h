// When to try a webhook delivery again: exponential backoff with jitter, the
// receiver's Retry-After honoured, and the outcomes not worth retrying.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "webhook/outcome.h"

namespace ev::webhook {

using WallClock = std::chrono::system_clock;

struct RetrySchedule {
    int max_attempts = 8;                      // attempts in all, the first one included
    std::chrono::seconds first_delay{30};      // after the first failure
    std::chrono::seconds max_delay{3600 * 6};  // cap before jitter
};

// The delay after `failed_attempts` (>= 1) failures: first_delay * 2^(n-1),
// capped at max_delay, times jitter (clamped to 0.5..1.5; pass a uniform
// random number from that range).
std::chrono::seconds retry_delay(const RetrySchedule& schedule, int failed_attempts, double jitter);

// A Retry-After value: delta-seconds or an HTTP-date (read by curl_getdate),
// as the wait from `now`, clamped to 0..1 day. nullopt for anything else.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, WallClock::time_point now);

struct Decision {
    enum class Kind {
        Delivered,
        Retry,         // try again at `at`
        Dead,          // give up: to the dead letters
        EndpointGone,  // 410 Gone: the receiver asks us to stop sending
    };
    Kind kind = Kind::Dead;
    WallClock::time_point at{};  // Retry only
    std::string reason;          // for a person; empty when delivered
};

const char* to_string(Decision::Kind kind);

// What to do after an attempt with `outcome`; attempts_so_far counts the
// attempts made, this one included. Every non-2xx answer (3xx too: redirects
// are not followed), timeout and connection, TLS or DNS failure is retried
// until max_attempts; a refused address or an invalid URL is dead at once.
// A 429 or 503 with Retry-After is retried no sooner than it asks.
Decision decide(const Outcome& outcome, int attempts_so_far, const RetrySchedule& schedule, double jitter,
                WallClock::time_point now);

}  // namespace ev::webhook
