// smtp::Session and the server's error limits, against the in-process fake
// server playing Postfix's (error sleep, 421 "too many errors") and a
// server that drops the connection: what the session reports of each
// (SessionReport::errors), that it stops at the first slowed reply, and
// that a session trying a larger budget sends the refusals past the known
// ones one at a time.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_smtp_server.h"
#include "session_harness.h"

using ev::smtp::SessionEnd;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using ev::test::SessionHarness;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;

namespace {

MtaBehaviour everyone_unknown() {
    MtaBehaviour mta;
    mta.rcpt = [](const std::string& r) { return "550 5.1.1 <" + r + ">: Recipient address rejected: User unknown"; };
    return mta;
}

void add_unknown(SessionHarness& h, int count) {
    for (int i = 0; i < count; ++i) h.add("nobody" + std::to_string(i) + "@fake.test");
}

}  // namespace

TEST(SmtpSessionBudget, ASpentBudgetWithoutASignIsReportedClean) {
    FakeSmtpServer server(ev::test::mta_script(everyone_unknown()));
    SessionHarness h;
    add_unknown(h, 20);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    const auto& seen = h.owner.report->errors;
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(seen.budget, 9);
    EXPECT_EQ(seen.pipelined, 9);
    EXPECT_EQ(seen.refusals, 9);
    EXPECT_EQ(seen.slowed_after, 0);
    EXPECT_EQ(seen.cut_after, 0);
    EXPECT_TRUE(seen.finished);
}

// Past the refusals known to pass, each RCPT waits for the reply before it.
TEST(SmtpSessionBudget, ATryingSessionGoesOneAtATimePastWhatIsKnown) {
    std::mutex mutex;
    std::vector<bool> waiting;  // per RCPT: another command had come before its reply
    FakeSmtpServer server([&](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        while (auto line = peer.read_line()) {
            std::string verb = line->substr(0, 4);
            if (verb == "EHLO") peer.send("250-mx.fake.test\r\n250 PIPELINING\r\n");
            if (verb == "MAIL") peer.send("250 2.1.0 Ok\r\n");
            if (verb == "RCPT") {
                std::this_thread::sleep_for(2ms);  // let pipelined commands arrive
                {
                    std::lock_guard<std::mutex> lock(mutex);
                    waiting.push_back(peer.line_waiting());
                }
                peer.send("550 5.1.1 User unknown\r\n");
            }
            if (verb == "QUIT") {
                peer.send("221 Bye\r\n");
                return;
            }
        }
    });
    SessionHarness h;
    h.config.max_errors = 20;
    h.config.pipelined_errors = 5;
    add_unknown(h, 30);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.owner.report->errors.refusals, 20);
    EXPECT_EQ(h.owner.report->errors.budget, 20);
    EXPECT_EQ(h.owner.report->errors.pipelined, 5);
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(waiting.size(), 20u);
    EXPECT_TRUE(waiting[0]) << "the first five go out together";
    for (std::size_t i = 5; i < waiting.size(); ++i) EXPECT_FALSE(waiting[i]) << "RCPT " << i + 1;
}

// Postfix's defaults, with a short sleep: the reply after the 10th error is
// slowed; the session stops there, without waiting for a slowed 221 either.
TEST(SmtpSessionBudget, ThePostfixErrorSleepIsMetOnceAndEndsTheSession) {
    MtaBehaviour mta = everyone_unknown();
    mta.soft_error_limit = 10;
    mta.error_sleep = 400ms;
    mta.hard_error_limit = 20;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.error_sleep_threshold = 200ms;
    h.config.max_errors = 36;
    h.config.pipelined_errors = 9;
    add_unknown(h, 40);
    auto took = h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    const auto& seen = h.owner.report->errors;
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(seen.slowed_after, 10);
    EXPECT_EQ(seen.refusals, 11);  // the slowed reply was a refusal too
    EXPECT_EQ(seen.cut_after, 0);
    EXPECT_EQ(server.received_starting("RCPT").size(), 11u);
    EXPECT_EQ(h.owner.answered.size(), 11u);
    EXPECT_EQ(h.owner.queue.size(), 29u);  // never taken: the next session's
    // The server counts a slowed reply once it has sent it, which may be
    // after the client has read it and left: give its thread a moment.
    for (int i = 0; i < 100 && mta.counters->slowed_rcpts == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(mta.counters->slowed_rcpts, 1);
    EXPECT_LT(took, 800ms) << "one sleep, not two";
}

// Postfix with a soft limit of 3, nine RCPTs pipelined: it keeps the first
// replies back and writes them with the first slowed one.
TEST(SmtpSessionBudget, ALowSoftLimitIsFoundInAPipelinedBurst) {
    MtaBehaviour mta = everyone_unknown();
    mta.soft_error_limit = 3;
    mta.error_sleep = 200ms;
    mta.batch_replies = true;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.error_sleep_threshold = 100ms;
    add_unknown(h, 9);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.owner.report->errors.slowed_after, 3);
    EXPECT_EQ(h.owner.answered.size(), 9u);  // those in flight are still answers
}

TEST(SmtpSessionBudget, TooManyErrorsAfterNIsReported) {
    MtaBehaviour mta = everyone_unknown();
    mta.hard_error_limit = 5;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    add_unknown(h, 9);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.end(), SessionEnd::ServiceClosing);
    EXPECT_EQ(h.owner.report->errors.cut_after, 5);
    EXPECT_EQ(h.owner.report->errors.refusals, 5);
    EXPECT_EQ(h.owner.answered.size(), 5u);
    EXPECT_EQ(mta.counters->too_many_errors, 1);
}

TEST(SmtpSessionBudget, ADropAfterNIsReported) {
    MtaBehaviour mta = everyone_unknown();
    mta.hard_error_limit = 5;
    mta.hard_limit_drops = true;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    add_unknown(h, 9);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.end(), SessionEnd::Dropped);
    EXPECT_EQ(h.owner.report->errors.cut_after, 5);
    EXPECT_EQ(h.owner.answered.size(), 5u);
}

// A budget exactly at the hard limit: the refusals pass, QUIT gets the 421.
TEST(SmtpSessionBudget, TooManyErrorsAnsweringQuitIsReported) {
    MtaBehaviour mta = everyone_unknown();
    mta.hard_error_limit = 5;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.max_errors = 5;
    add_unknown(h, 9);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(h.owner.report->errors.cut_after, 5);
    EXPECT_EQ(h.owner.answered.size(), 5u);
}

// A server that stops answering after 12 errors: the try past the known 9
// reports it, or each later try would wait for the same timeout.
TEST(SmtpSessionBudget, SilenceDuringATryIsReported) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        int errors = 0;
        while (auto line = peer.read_line()) {
            std::string verb = line->substr(0, 4);
            if (verb == "EHLO") peer.send("250-mx.fake.test\r\n250 PIPELINING\r\n");
            if (verb == "MAIL") peer.send("250 2.1.0 Ok\r\n");
            if (verb == "RCPT" && errors < 12) {
                ++errors;
                peer.send("550 5.1.1 User unknown\r\n");
            } else if (verb == "RCPT") {
                return peer.stall(3000ms);
            }
            if (verb == "QUIT") return peer.send("221 Bye\r\n");
        }
    });
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    h.config.max_errors = 36;
    h.config.pipelined_errors = 9;
    add_unknown(h, 40);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_EQ(h.owner.report->errors.cut_after, 12);
}

// The same silence in a session that was not trying anything says nothing
// of error limits: the server may just have stalled.
TEST(SmtpSessionBudget, SilenceOutsideATryIsNoLimit) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        int errors = 0;
        while (auto line = peer.read_line()) {
            std::string verb = line->substr(0, 4);
            if (verb == "EHLO") peer.send("250-mx.fake.test\r\n250 PIPELINING\r\n");
            if (verb == "MAIL") peer.send("250 2.1.0 Ok\r\n");
            if (verb == "RCPT" && errors < 3) {
                ++errors;
                peer.send("550 5.1.1 User unknown\r\n");
            } else if (verb == "RCPT") {
                return peer.stall(3000ms);
            }
        }
    });
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    add_unknown(h, 9);
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_EQ(h.owner.report->errors.cut_after, 0);
}
