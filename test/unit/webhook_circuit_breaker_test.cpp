#include "webhook/circuit_breaker.h"

#include <gtest/gtest.h>

using namespace ev::webhook;
using namespace std::chrono_literals;

namespace {
const WallClock::time_point kT0 = WallClock::from_time_t(1700000000);
const std::string kA = "https://a.example";
const std::string kB = "https://b.example";
}  // namespace

TEST(WebhookBreaker, OpensAfterConsecutiveFailuresOnly) {
    CircuitBreaker breaker;
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(breaker.allows(kA, kT0));
        breaker.record(kA, false, kT0);
    }
    breaker.record(kA, true, kT0);  // a success resets the run
    EXPECT_FALSE(breaker.state(kA).has_value());
    for (int i = 0; i < 4; ++i) breaker.record(kA, false, kT0);
    EXPECT_TRUE(breaker.allows(kA, kT0));
    EXPECT_TRUE(breaker.open_origins(kT0).empty());
    breaker.record(kA, false, kT0);
    EXPECT_FALSE(breaker.allows(kA, kT0));
    EXPECT_FALSE(breaker.allows(kA, kT0 + 29s));
    EXPECT_EQ(breaker.open_origins(kT0 + 10s), std::vector<std::string>{kA});
    auto s = breaker.state(kA);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->consecutive_failures, 5);
    EXPECT_EQ(s->open_until, kT0 + 30s);
    EXPECT_TRUE(breaker.allows(kB, kT0));  // per origin
}

TEST(WebhookBreaker, HalfOpenLetsOneTrialThroughAndItsResultDecides) {
    CircuitBreaker breaker(BreakerOptions{2, 30s, 100s});
    breaker.record(kA, false, kT0);
    breaker.record(kA, false, kT0);
    EXPECT_FALSE(breaker.allows(kA, kT0 + 1s));
    auto t = kT0 + 30s;
    EXPECT_TRUE(breaker.allows(kA, t));   // the trial
    EXPECT_FALSE(breaker.allows(kA, t));  // only one
    EXPECT_EQ(breaker.open_origins(t), std::vector<std::string>{kA});
    breaker.record(kA, false, t);  // trial failed: re-open, twice as long
    EXPECT_EQ(breaker.state(kA)->open_until, t + 60s);
    EXPECT_FALSE(breaker.allows(kA, t + 59s));
    t += 60s;
    EXPECT_TRUE(breaker.allows(kA, t));
    breaker.record(kA, false, t);
    EXPECT_EQ(breaker.state(kA)->open_until, t + 100s);  // capped
    t += 100s;
    EXPECT_TRUE(breaker.allows(kA, t));
    breaker.record(kA, true, t);  // trial succeeded: closed, history forgotten
    EXPECT_FALSE(breaker.state(kA).has_value());
    EXPECT_TRUE(breaker.allows(kA, t));
    EXPECT_TRUE(breaker.open_origins(t).empty());
}

TEST(WebhookBreaker, LateResultsDoNotExtendTheOpenPeriod) {
    CircuitBreaker breaker(BreakerOptions{2, 30s, 1800s});
    breaker.record(kA, false, kT0);
    breaker.record(kA, false, kT0);
    breaker.record(kA, false, kT0 + 5s);  // started before it opened
    EXPECT_EQ(breaker.state(kA)->open_until, kT0 + 30s);
    EXPECT_EQ(breaker.state(kA)->opened_times, 1);
}

TEST(WebhookBreaker, ALostTrialLapses) {
    CircuitBreaker breaker(BreakerOptions{1, 30s, 1800s});
    breaker.record(kA, false, kT0);
    auto t = kT0 + 30s;
    EXPECT_TRUE(breaker.allows(kA, t));  // its result never comes
    EXPECT_FALSE(breaker.allows(kA, t + 29s));
    EXPECT_TRUE(breaker.allows(kA, t + 30s));
}

TEST(WebhookBreaker, DefaultPeriodsReachThirtyMinutes) {
    CircuitBreaker breaker;
    for (int i = 0; i < 5; ++i) breaker.record(kA, false, kT0);
    auto t = kT0;
    std::vector<std::int64_t> periods;
    for (int i = 0; i < 8; ++i) {
        auto until = *breaker.state(kA)->open_until;
        periods.push_back(std::chrono::duration_cast<std::chrono::seconds>(until - t).count());
        t = until;
        ASSERT_TRUE(breaker.allows(kA, t));
        breaker.record(kA, false, t);
    }
    EXPECT_EQ(periods, (std::vector<std::int64_t>{30, 60, 120, 240, 480, 960, 1800, 1800}));
}
