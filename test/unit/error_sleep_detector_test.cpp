// The error-sleep detector (smtp/error_sleep_detector.h) on made-up reply
// times: Postfix's 1 s sleep after 10 errors, met one command at a time and
// in a pipelined burst (also split over TCP segments), against servers that
// are merely slow or uneven.
#include "smtp/error_sleep_detector.h"

#include <gtest/gtest.h>

using ev::smtp::ErrorSleepDetector;
using namespace std::chrono_literals;
using Time = ErrorSleepDetector::Clock::time_point;

namespace {

// Feeds replies by hand: times in microseconds from an origin.
struct Feed {
    ErrorSleepDetector detector{800ms};
    Time origin = ErrorSleepDetector::Clock::now();
    Time at(std::chrono::microseconds us) const { return origin + us; }
    // One command at a time: sent at `now`, answered `took` later.
    std::chrono::microseconds lockstep(std::chrono::microseconds now, std::chrono::microseconds took, int refusals) {
        detector.on_reply(at(now), at(now + took), refusals);
        return now + took + 50us;  // the next command goes out just after
    }
};

}  // namespace

TEST(ErrorSleepDetector, PostfixOneCommandAtATime) {
    Feed f;
    auto now = f.lockstep(0us, 300us, 0);  // MAIL
    for (int refusals = 0; refusals < 10; ++refusals) now = f.lockstep(now, 300us, refusals);
    EXPECT_FALSE(f.detector.slowed());
    f.lockstep(now, 1000300us, 10);  // the 11th RCPT: after 10 errors, a second late
    EXPECT_TRUE(f.detector.slowed());
    EXPECT_EQ(f.detector.slowed_after(), 10);
}

TEST(ErrorSleepDetector, PostfixPipelinedBurstIsPinnedToItsLastReply) {
    // Soft limit 5, nine RCPTs pipelined: Postfix keeps replies 1-5 back,
    // sleeps before the 6th and writes 1-6 together, then 7, 8, 9 a second
    // apart each.
    Feed f;
    f.lockstep(0us, 300us, 0);  // MAIL, answered at 300 us
    Time sent = f.at(400us);
    for (int reply = 1; reply <= 6; ++reply) f.detector.on_reply(sent, f.at(1000400us), reply - 1);
    EXPECT_TRUE(f.detector.slowed());
    EXPECT_EQ(f.detector.slowed_after(), 5);
    for (int reply = 7; reply <= 9; ++reply)
        f.detector.on_reply(sent, f.at(std::chrono::microseconds(1000400 * (reply - 5))), reply - 1);
    EXPECT_EQ(f.detector.slowed_after(), 5);  // later bursts change nothing
}

TEST(ErrorSleepDetector, ABurstSplitOverSegmentsIsOneBurst) {
    Feed f;
    f.lockstep(0us, 300us, 0);
    Time sent = f.at(400us);
    for (int reply = 1; reply <= 4; ++reply) f.detector.on_reply(sent, f.at(1000400us), reply - 1);
    for (int reply = 5; reply <= 11; ++reply) f.detector.on_reply(sent, f.at(1001400us), reply - 1);
    EXPECT_EQ(f.detector.slowed_after(), 10);
}

TEST(ErrorSleepDetector, AServerSlowAtEveryRcptIsNotSlowed) {
    // A delay on every RCPT (a tarpit ACL), each reply written on its own.
    Feed f;
    auto now = f.lockstep(0us, 300us, 0);
    for (int refusals = 0; refusals < 30; ++refusals) now = f.lockstep(now, 1000000us, refusals);
    EXPECT_FALSE(f.detector.slowed());
}

TEST(ErrorSleepDetector, AServerSlowAtEveryRcptPipelinedIsNotSlowed) {
    Feed f;
    f.lockstep(0us, 300us, 0);
    Time sent = f.at(400us);
    for (int reply = 1; reply <= 20; ++reply)
        f.detector.on_reply(sent, f.at(std::chrono::microseconds(400 + 1000000 * reply)), reply - 1);
    EXPECT_FALSE(f.detector.slowed());
}

TEST(ErrorSleepDetector, JitterUnderTheThresholdIsNotASleep) {
    Feed f;
    auto now = f.lockstep(0us, 300us, 0);
    for (int refusals = 0; refusals < 20; ++refusals)
        now = f.lockstep(now, refusals % 3 == 0 ? 600000us : 20000us, refusals);
    EXPECT_FALSE(f.detector.slowed());
}

TEST(ErrorSleepDetector, SlowBeforeAnyRefusalIsThePace) {
    // The first RCPT waits on the server's DNS lookups; no refusal yet.
    Feed f;
    auto now = f.lockstep(0us, 300us, 0);
    now = f.lockstep(now, 1500000us, 0);
    EXPECT_FALSE(f.detector.slowed());
    for (int refusals = 1; refusals < 5; ++refusals) now = f.lockstep(now, 300us, refusals);
    EXPECT_FALSE(f.detector.slowed());
}
