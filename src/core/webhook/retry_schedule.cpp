#include "webhook/retry_schedule.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace ev::webhook {

namespace {

constexpr std::chrono::seconds kMaxRetryAfter{24 * 3600};

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

const char* to_string(Cause cause) {
    switch (cause) {
        case Cause::None: return "none";
        case Cause::HttpStatus: return "http_status";
        case Cause::Timeout: return "timeout";
        case Cause::Connect: return "connect";
        case Cause::Tls: return "tls";
        case Cause::Dns: return "dns";
        case Cause::RefusedAddress: return "refused_address";
        case Cause::InvalidUrl: return "invalid_url";
        case Cause::Other: return "other";
    }
    return "other";
}

const char* to_string(Decision::Kind kind) {
    switch (kind) {
        case Decision::Kind::Delivered: return "delivered";
        case Decision::Kind::Retry: return "retry";
        case Decision::Kind::Dead: return "dead";
        case Decision::Kind::EndpointGone: return "endpoint_gone";
    }
    return "dead";
}

std::chrono::seconds retry_delay(const RetrySchedule& schedule, int failed_attempts, double jitter) {
    if (!(jitter >= 0.5)) jitter = 0.5;  // NaN too
    jitter = std::min(jitter, 1.5);
    int exponent = std::clamp(failed_attempts, 1, 64) - 1;
    // In double: 2^63 seconds would overflow before the cap applies.
    double base =
        static_cast<double>(std::max<std::int64_t>(schedule.first_delay.count(), 0)) * std::ldexp(1.0, exponent);
    double cap = static_cast<double>(std::max<std::int64_t>(schedule.max_delay.count(), 0));
    return std::chrono::seconds(static_cast<std::int64_t>(std::llround(std::min(base, cap) * jitter)));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, WallClock::time_point now) {
    value = trimmed(value);
    if (value.empty() || value.size() > 64) return std::nullopt;
    if (all_digits(value)) {
        // Ten digits already pass a day by far: no need to read more.
        if (value.size() > 10) return kMaxRetryAfter;
        return std::min(std::chrono::seconds(std::stoll(std::string(value))), kMaxRetryAfter);
    }
    // curl_getdate reads every date form HTTP allows (and a few more); a
    // date needs a letter (a day or month name), which keeps plain numbers
    // with signs or dots from passing as dates.
    if (std::none_of(value.begin(), value.end(), [](char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }))
        return std::nullopt;
    std::string text(value);
    if (text.find('\0') != std::string::npos) return std::nullopt;
    time_t when = curl_getdate(text.c_str(), nullptr);
    if (when == -1) return std::nullopt;
    // In seconds: a date far in the future does not fit the clock's nanoseconds.
    std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::int64_t wait = static_cast<std::int64_t>(when) - now_s;
    return std::chrono::seconds(std::clamp<std::int64_t>(wait, 0, kMaxRetryAfter.count()));
}

Decision decide(const Outcome& outcome, int attempts_so_far, const RetrySchedule& schedule, double jitter,
                WallClock::time_point now) {
    if (outcome.delivered()) return {Decision::Kind::Delivered, {}, ""};
    std::string reason = outcome.error;
    if (reason.empty())
        reason = outcome.http_status != 0 ? "HTTP " + std::to_string(outcome.http_status) : to_string(outcome.cause);
    if (outcome.cause == Cause::HttpStatus && outcome.http_status == 410)
        return {Decision::Kind::EndpointGone, {}, reason};
    if (outcome.cause == Cause::RefusedAddress || outcome.cause == Cause::InvalidUrl)
        return {Decision::Kind::Dead, {}, reason};
    if (attempts_so_far >= schedule.max_attempts)
        return {Decision::Kind::Dead,
                {},
                "gave up after " + std::to_string(attempts_so_far) + " attempts; last: " + reason};
    auto delay = retry_delay(schedule, std::max(attempts_so_far, 1), jitter);
    bool asks_to_wait = outcome.http_status == 429 || outcome.http_status == 503;
    if (asks_to_wait && outcome.retry_after) delay = std::max(delay, *outcome.retry_after);
    return {Decision::Kind::Retry, now + delay, reason};
}

}  // namespace ev::webhook
