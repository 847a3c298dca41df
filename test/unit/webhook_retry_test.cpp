#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "webhook/retry_schedule.h"

using namespace ev::webhook;
using namespace std::chrono_literals;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
const WallClock::time_point kNow = WallClock::from_time_t(784111777);

Outcome http(long status, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    Outcome o;
    o.http_status = status;
    o.cause = status >= 200 && status <= 299 ? Cause::None : Cause::HttpStatus;
    o.retry_after = retry_after;
    return o;
}

Outcome failure(Cause cause, std::string error) {
    Outcome o;
    o.cause = cause;
    o.error = std::move(error);
    return o;
}

}  // namespace

TEST(WebhookRetry, DelayDoublesIsCappedAndJittered) {
    RetrySchedule s{8, 30s, 600s};
    EXPECT_EQ(retry_delay(s, 1, 1.0), 30s);
    EXPECT_EQ(retry_delay(s, 2, 1.0), 60s);
    EXPECT_EQ(retry_delay(s, 5, 1.0), 480s);
    EXPECT_EQ(retry_delay(s, 6, 1.0), 600s);
    EXPECT_EQ(retry_delay(s, 1000, 1.0), 600s);
    EXPECT_EQ(retry_delay(s, 1, 0.5), 15s);
    EXPECT_EQ(retry_delay(s, 1, 1.5), 45s);
    EXPECT_EQ(retry_delay(s, 1, 7.0), 45s);  // jitter clamped
    EXPECT_EQ(retry_delay(s, 1, 0.0), 15s);
    EXPECT_EQ(retry_delay(s, 1, std::nan("")), 15s);
    EXPECT_EQ(retry_delay(s, 0, 1.0), 30s);  // fewer than one failure reads as one
    EXPECT_EQ(retry_delay(s, -5, 1.0), 30s);
}

TEST(WebhookRetry, RetryAfterDeltaSeconds) {
    EXPECT_EQ(parse_retry_after("120", kNow), 120s);
    EXPECT_EQ(parse_retry_after(" 0 ", kNow), 0s);
    EXPECT_EQ(parse_retry_after("86400", kNow), 86400s);
    EXPECT_EQ(parse_retry_after("86401", kNow), 86400s);  // clamped to a day
    EXPECT_EQ(parse_retry_after("99999999999999999999999", kNow), 86400s);
}

TEST(WebhookRetry, RetryAfterHttpDate) {
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", kNow), 120s);
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", kNow), 60s);  // RFC 850
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:47 1994", kNow), 10s);        // asctime
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", kNow), 0s);    // past: now
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 2094 08:00:00 GMT", kNow), 86400s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 19994 08:49:37 GMT", kNow), 86400s);  // found by the fuzzer
}

TEST(WebhookRetry, RetryAfterGarbage) {
    for (const char* bad : {"", "   ", "-1", "+5", "1.5", "soon", "12abc", "0x10", "Sun, 99 Foo 1994"})
        EXPECT_FALSE(parse_retry_after(bad, kNow).has_value()) << bad;
    EXPECT_FALSE(parse_retry_after(std::string_view("12\0", 3), kNow).has_value());
}

TEST(WebhookRetry, Decisions) {
    RetrySchedule s{3, 10s, 3600s};
    EXPECT_EQ(decide(http(200), 1, s, 1.0, kNow).kind, Decision::Kind::Delivered);
    EXPECT_EQ(decide(http(204), 3, s, 1.0, kNow).kind, Decision::Kind::Delivered);

    auto retry = decide(http(500), 1, s, 1.0, kNow);
    EXPECT_EQ(retry.kind, Decision::Kind::Retry);
    EXPECT_EQ(retry.at, kNow + 10s);
    EXPECT_EQ(retry.reason, "HTTP 500");
    EXPECT_EQ(decide(http(500), 2, s, 1.0, kNow).at, kNow + 20s);

    auto dead = decide(http(500), 3, s, 1.0, kNow);
    EXPECT_EQ(dead.kind, Decision::Kind::Dead);
    EXPECT_EQ(dead.reason, "gave up after 3 attempts; last: HTTP 500");

    EXPECT_EQ(decide(http(301), 1, s, 1.0, kNow).kind, Decision::Kind::Retry);  // redirects are failures
    EXPECT_EQ(decide(http(404), 1, s, 1.0, kNow).kind, Decision::Kind::Retry);
    EXPECT_EQ(decide(http(410), 1, s, 1.0, kNow).kind, Decision::Kind::EndpointGone);

    for (Cause c : {Cause::Timeout, Cause::Connect, Cause::Tls, Cause::Dns, Cause::Other}) {
        auto d = decide(failure(c, "x"), 1, s, 1.0, kNow);
        EXPECT_EQ(d.kind, Decision::Kind::Retry) << to_string(c);
        EXPECT_EQ(d.reason, "x");
    }
    auto refused = decide(failure(Cause::RefusedAddress, "refused: ..."), 1, s, 1.0, kNow);
    EXPECT_EQ(refused.kind, Decision::Kind::Dead);
    EXPECT_EQ(refused.reason, "refused: ...");
    EXPECT_EQ(decide(failure(Cause::InvalidUrl, "bad"), 1, s, 1.0, kNow).kind, Decision::Kind::Dead);
}

TEST(WebhookRetry, RetryAfterIsHonouredOnlyFor429And503AndStillCounts) {
    RetrySchedule s{3, 10s, 3600s};
    EXPECT_EQ(decide(http(429, 300s), 1, s, 1.0, kNow).at, kNow + 300s);
    EXPECT_EQ(decide(http(503, 300s), 1, s, 1.0, kNow).at, kNow + 300s);
    EXPECT_EQ(decide(http(429, 1s), 1, s, 1.0, kNow).at, kNow + 10s);  // never sooner than the backoff
    EXPECT_EQ(decide(http(500, 300s), 1, s, 1.0, kNow).at, kNow + 10s);
    EXPECT_EQ(decide(http(429, 300s), 3, s, 1.0, kNow).kind, Decision::Kind::Dead);
}
