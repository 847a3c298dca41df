#include "signup/consumer_bucket.h"

#include <algorithm>

namespace ev::signup {

namespace {

constexpr double kMinute = 60;
constexpr double kDay = 86400;

void drain(double& level, std::int64_t limit, double window, double elapsed) {
    if (limit <= 0) {
        level = 0;
        return;
    }
    level = std::max(0.0, level - elapsed * static_cast<double>(limit) / window);
}

// Seconds until `count` more fit under `limit`; negative when they fit now.
double wait_for(double level, std::int64_t limit, double window, std::int64_t count) {
    if (limit <= 0) return -1;
    double excess = level + static_cast<double>(count) - static_cast<double>(limit);
    return excess <= 0 ? -1 : excess * window / static_cast<double>(limit);
}

}  // namespace

TakeResult take(ConsumerBucket& bucket, const ConsumerLimits& limits, std::int64_t count, double now, double now_unix) {
    double elapsed = std::max(0.0, now - bucket.updated_at);
    drain(bucket.minute_level, limits.per_minute, kMinute, elapsed);
    drain(bucket.day_level, limits.per_day, kDay, elapsed);
    bucket.updated_at = now;

    TakeResult result;
    double minute_wait = wait_for(bucket.minute_level, limits.per_minute, kMinute, count);
    double day_wait = wait_for(bucket.day_level, limits.per_day, kDay, count);
    if (minute_wait < 0 && day_wait < 0) {
        if (limits.per_minute > 0) bucket.minute_level += static_cast<double>(count);
        if (limits.per_day > 0) bucket.day_level += static_cast<double>(count);
        bucket.checks += count;
        return result;
    }
    result.granted = false;
    // The day's limit, when spent, is the one worth naming: it lasts longer.
    result.spent = day_wait >= 0 ? Window::Day : Window::Minute;
    result.retry_after_seconds = std::max(minute_wait, day_wait);
    ++bucket.refusals;
    bucket.last_refusal_unix = now_unix;
    return result;
}

}  // namespace ev::signup
