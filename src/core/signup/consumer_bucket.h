// A role's budget of network-level checks (email_verify.consumer_limits):
// at most per_minute in any minute and per_day in any day, as two leaky
// buckets (each drains at its limit per window, so a role that used its
// minute's worth may go on at the limit's pace, never faster). Plain data,
// so that it can live in shared memory; the caller holds the lock.
#pragma once

#include <cstdint>
#include <optional>

namespace ev::signup {

struct ConsumerLimits {
    std::int64_t per_minute = 0;  // 0: no limit
    std::int64_t per_day = 0;
};

struct ConsumerBucket {
    double minute_level = 0;  // checks still counted in the minute window
    double day_level = 0;
    double updated_at = 0;  // seconds, of the caller's monotonic clock
    std::int64_t checks = 0;
    std::int64_t refusals = 0;
    double last_refusal_unix = 0;  // 0: never
};

enum class Window : std::uint8_t { Minute, Day };

struct TakeResult {
    bool granted = true;
    // When refused: the window whose limit was reached, and how long until
    // `count` checks would fit (never, for a count over the limit itself).
    std::optional<Window> spent;
    double retry_after_seconds = 0;
};

// Takes `count` checks at `now` (monotonic seconds), all or none; a refusal
// is counted with `now_unix` as its time.
TakeResult take(ConsumerBucket& bucket, const ConsumerLimits& limits, std::int64_t count, double now, double now_unix);

}  // namespace ev::signup
