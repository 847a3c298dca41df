// signup::take: a role's checks per minute and per day, all or none, the
// pace after a burst, refusals counted, and no limit when none is set.
#include "signup/consumer_bucket.h"

#include <gtest/gtest.h>

using ev::signup::ConsumerBucket;
using ev::signup::ConsumerLimits;
using ev::signup::Window;

TEST(ConsumerBucket, AMinutesWorthThenTheLimitsPace) {
    ConsumerBucket b;
    ConsumerLimits limits{60, 0};
    for (int i = 0; i < 60; ++i) ASSERT_TRUE(take(b, limits, 1, 100.0, 0).granted) << i;
    auto refused = take(b, limits, 1, 100.0, 1234);
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.spent, Window::Minute);
    EXPECT_NEAR(refused.retry_after_seconds, 1.0, 1e-9);
    EXPECT_EQ(b.refusals, 1);
    EXPECT_EQ(b.last_refusal_unix, 1234);
    EXPECT_TRUE(take(b, limits, 1, 101.0, 0).granted);  // one a second
    EXPECT_FALSE(take(b, limits, 1, 101.5, 0).granted);
    EXPECT_EQ(b.checks, 61);
}

TEST(ConsumerBucket, AllOrNone) {
    ConsumerBucket b;
    ConsumerLimits limits{10, 0};
    EXPECT_TRUE(take(b, limits, 8, 0, 0).granted);
    EXPECT_FALSE(take(b, limits, 3, 0, 0).granted);
    EXPECT_TRUE(take(b, limits, 2, 0, 0).granted);
    EXPECT_EQ(b.checks, 10);
    ConsumerBucket fresh;
    EXPECT_FALSE(take(fresh, limits, 11, 0, 0).granted);  // more than the limit at once
}

TEST(ConsumerBucket, TheDayLimitIsNamedWhenSpent) {
    ConsumerBucket b;
    ConsumerLimits limits{100, 5};
    EXPECT_TRUE(take(b, limits, 5, 0, 0).granted);
    auto refused = take(b, limits, 1, 60, 0);
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.spent, Window::Day);
    EXPECT_GT(refused.retry_after_seconds, 3600);
}

TEST(ConsumerBucket, NoLimitNoRefusal) {
    ConsumerBucket b;
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(take(b, ConsumerLimits{}, 1000, 0, 0).granted);
    EXPECT_EQ(b.checks, 1000 * 1000);
    EXPECT_EQ(b.refusals, 0);
}
