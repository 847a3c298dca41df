// smtp::Session's deadlines are deadlines: reply_timeout bounds a whole
// reply however its bytes trickle in (banner, multi-line EHLO, RCPT) and the
// STARTTLS handshake however its records trickle in; pipelined replies each
// get their own time; session_timeout bounds the whole dialogue and hands the
// unanswered recipients back uncharged.
#include <gtest/gtest.h>

#include <string>

#include "fake_smtp_server.h"
#include "session_harness.h"

using ev::smtp::SessionEnd;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using ev::test::SessionHarness;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;

// A banner dripped one byte every 50 ms would take 2.5 s; the reply must
// end at reply_timeout, not be kept alive by each byte.
TEST(SmtpSessionDeadline, DrippedBannerEndsAtReplyTimeout) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send_slowly("220 mx.fake.test ESMTP and a long, long greeting\r\n", 50ms);
        peer.client_closed(1000ms);
    });
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    h.add("a@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 700ms);
    EXPECT_EQ(h.owner.queue.size(), 1u);  // never sent: still the owner's
}

// Each line of a multi-line reply comes in time for "the gap between two
// bytes", never for the whole reply.
TEST(SmtpSessionDeadline, DrippedMultiLineReplyEndsAtReplyTimeout) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        if (!peer.read_line()) return;
        for (int i = 0; i < 20 && !peer.client_closed(100ms); ++i) peer.send("250-mx.fake.test line\r\n");
    });
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    h.add("a@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_LT(took, 800ms);
}

// A RCPT reply dripped: the recipient in front of the server pays for it,
// as with a silent server.
TEST(SmtpSessionDeadline, DrippedRcptReplyIsChargedToItsRecipient) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250 mx.fake.test\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        if (!peer.read_line()) return;
        peer.send_slowly("250 2.1.5 Ok, eventually\r\n", 40ms);
        peer.client_closed(1000ms);
    });
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    h.add("slow@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_LT(took, 800ms);
    ASSERT_EQ(h.owner.returned.size(), 1u);
    EXPECT_TRUE(h.owner.returned[0].charged);
}

// Pipelined RCPTs are answered in order: each reply's time starts when the
// one before it is complete, so five replies 120 ms apart all count
// although together they take longer than reply_timeout.
TEST(SmtpSessionDeadline, PipelinedRepliesEachGetTheirOwnTime) {
    MtaBehaviour mta;
    mta.rcpt_delay = 120ms;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    for (int i = 0; i < 5; ++i) h.add("user" + std::to_string(i) + "@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(h.owner.answered.size(), 5u);
    EXPECT_GE(took, 500ms);
}

// The TLS handshake trickles: a record header, then its body a byte at a
// time. The handshake has reply_timeout from its start, whatever arrives.
TEST(SmtpSessionDeadline, DrippedTlsHandshakeEndsAtReplyTimeout) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        peer.answer("220 2.0.0 Ready to start TLS\r\n");
        peer.stall(50ms);  // not in the 220's segment: that would be an injection
        // A handshake record of 64 bytes (the client's hello is left unread).
        peer.send(std::string("\x16\x03\x03\x00\x40", 5));
        peer.send_slowly(std::string(64, '\x02'), 30ms);
    });
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    h.add("a@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_EQ(h.owner.report->detail, "TLS handshake not done in time");
    EXPECT_LT(took, 900ms);
}

// Every reply comes in time (100 ms each, reply_timeout 300 ms), but the
// dialogue as a whole may not outlast session_timeout; what was not
// answered goes back uncharged, what was answered stays answered.
TEST(SmtpSessionDeadline, SessionTimeoutBoundsTheWholeDialogue) {
    MtaBehaviour mta;
    mta.pipelining = false;
    mta.rcpt_delay = 100ms;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.reply_timeout = 300ms;
    h.config.session_timeout = 600ms;
    for (int i = 0; i < 20; ++i) h.add("user" + std::to_string(i) + "@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::SessionTimeout);
    EXPECT_GE(took, 550ms);
    EXPECT_LT(took, 1000ms);
    EXPECT_GE(h.owner.answered.size(), 2u);
    EXPECT_LT(h.owner.answered.size(), 20u);
    ASSERT_EQ(h.owner.returned.size(), 1u);  // the RCPT in flight
    EXPECT_FALSE(h.owner.returned[0].charged);
    EXPECT_EQ(h.owner.returned[0].why, SessionEnd::SessionTimeout);
    EXPECT_EQ(h.owner.answered.size() + h.owner.returned.size() + h.owner.queue.size(), 20u);
    EXPECT_EQ(h.loop.pending_timers(), 0u);
}

// A dripped banner that would outlast both deadlines: the sooner wins.
TEST(SmtpSessionDeadline, SessionTimeoutShorterThanReplyTimeoutWins) {
    FakeSmtpServer server(
        [](SmtpPeer& peer) { peer.send_slowly("220 mx.fake.test ESMTP and a long, long greeting\r\n", 50ms); });
    SessionHarness h;
    h.config.reply_timeout = 2000ms;
    h.config.session_timeout = 200ms;
    h.add("a@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::SessionTimeout);
    EXPECT_LT(took, 600ms);
}
