// The queue item's transitions and the retry policy (src/core/queue).
#include "queue/item_lifecycle.h"

#include <gtest/gtest.h>

using ev::queue::ItemEvent;
using ev::queue::ItemState;
using ev::queue::RetryPolicy;
using ev::queue::transition;
using namespace std::chrono_literals;

TEST(ItemLifecycle, AClaimedItemEndsWrittenRetriedOrParked) {
    auto written = transition(ItemState::Claimed, ItemEvent::VerdictWritten);
    ASSERT_TRUE(written);
    EXPECT_FALSE(written->to);  // deleted
    auto retry = transition(ItemState::Claimed, ItemEvent::RetryLater);
    ASSERT_TRUE(retry);
    EXPECT_EQ(retry->to, ItemState::Pending);
    EXPECT_TRUE(retry->counts_attempt);
    auto failed = transition(ItemState::Claimed, ItemEvent::WriteFailed);
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->to, ItemState::Failed);
}

TEST(ItemLifecycle, WhatTheAddressDidNotCauseCostsNoAttempt) {
    auto put_back = transition(ItemState::Claimed, ItemEvent::PutBack);
    ASSERT_TRUE(put_back);
    EXPECT_EQ(put_back->to, ItemState::Pending);
    EXPECT_FALSE(put_back->counts_attempt);
    EXPECT_TRUE(transition(ItemState::Claimed, ItemEvent::LeaseExpired)->counts_attempt);
    EXPECT_TRUE(transition(ItemState::Claimed, ItemEvent::Released)->counts_attempt);
}

TEST(ItemLifecycle, ImpossibleEventsAreRefused) {
    EXPECT_FALSE(transition(ItemState::Pending, ItemEvent::VerdictWritten));
    EXPECT_FALSE(transition(ItemState::Failed, ItemEvent::Claim));
    EXPECT_FALSE(transition(ItemState::Claimed, ItemEvent::Claim));
    EXPECT_FALSE(transition(ItemState::Failed, ItemEvent::GivenUp));
    EXPECT_EQ(transition(ItemState::Pending, ItemEvent::GivenUp)->to, ItemState::Failed);
}

TEST(RetryPolicy, RetriesUntilTheLastAttempt) {
    RetryPolicy policy{3, 60s};
    EXPECT_TRUE(policy.retries(false, 0));
    EXPECT_TRUE(policy.retries(false, 1));
    EXPECT_FALSE(policy.retries(false, 2));  // the third attempt's verdict is written as it is
    EXPECT_FALSE(policy.retries(true, 0));   // a final verdict is written
    EXPECT_EQ(policy.claim_limit(), 5);
}

TEST(RetryPolicy, BackoffDoublesWithJitterAndACap) {
    RetryPolicy policy{5, 60s};
    EXPECT_EQ(policy.backoff(0, 1.0), 60s);
    EXPECT_EQ(policy.backoff(3, 1.0), 480s);
    EXPECT_EQ(policy.backoff(3, 0.5), 240s);
    EXPECT_EQ(policy.backoff(40, 1.0), policy.backoff(16, 1.0));
    EXPECT_EQ(RetryPolicy({5, 1s}).backoff(0, 0.5), 1s);  // never below a second
}
