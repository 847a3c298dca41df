// smtp::Session when the server misbehaves, and STARTTLS: connection
// refused, a server that stalls (reply timeout), closes mid-reply, sends
// garbage or 421 mid-dialogue; TLS upgraded, refused, declined by
// configuration, broken, and the STARTTLS injection attack.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_smtp_server.h"
#include "session_harness.h"

using ev::smtp::Meaning;
using ev::smtp::SessionEnd;
using ev::test::FakeSmtpServer;
using ev::test::SessionHarness;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;

using Lines = std::vector<std::string>;

namespace {

// Banner, EHLO (with `ehlo` as its reply), MAIL accepted.
void greet(SmtpPeer& peer, const char* ehlo = "250 mx.fake.test\r\n") {
    peer.send("220 mx.fake.test ESMTP\r\n");
    peer.answer(ehlo);
    peer.answer("250 2.1.0 Ok\r\n");
}

}  // namespace

TEST(SmtpSessionFailure, ConnectionRefused) {
    SessionHarness h;
    h.add("a@fake.test");
    auto took = h.run(ev::test::closed_endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ConnectFailed);
    EXPECT_LT(took, 1000ms);
    EXPECT_EQ(h.owner.queue.size(), 1u);  // for the next MX host
}

TEST(SmtpSessionFailure, SilentServerAfterConnectTimesOut) {
    FakeSmtpServer server([](SmtpPeer& peer) { peer.stall(3000ms); });
    SessionHarness h;
    h.config.reply_timeout = 200ms;
    h.add("a@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 1500ms);
}

TEST(SmtpSessionFailure, StallAtRcptReturnsTheRecipientCharged) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        greet(peer);
        peer.read_line();
        peer.stall(3000ms);
    });
    SessionHarness h;
    h.config.reply_timeout = 200ms;
    h.add("slow@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_LT(took, 1500ms);
    ASSERT_EQ(h.owner.returned.size(), 1u);
    EXPECT_EQ(h.owner.returned[0].why, SessionEnd::ReplyTimeout);
    EXPECT_TRUE(h.owner.returned[0].charged);
}

// Only the recipient in front of the server pays for a failure; those
// pipelined behind it were never looked at.
TEST(SmtpSessionFailure, ClosedMidReplyChargesOnlyTheFirstPending) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        greet(peer, "250-mx.fake.test\r\n250 PIPELINING\r\n");
        peer.read_line();
        peer.send("250-2.1.5 this reply never ends");
        peer.close();
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.add("b@fake.test");
    h.add("c@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Dropped);
    ASSERT_EQ(h.owner.returned.size(), 3u);
    EXPECT_TRUE(h.owner.returned[0].charged);
    EXPECT_EQ(h.owner.returned[0].task.recipient, "a@fake.test");
    EXPECT_FALSE(h.owner.returned[1].charged);
    EXPECT_FALSE(h.owner.returned[2].charged);
    EXPECT_TRUE(h.owner.answered.empty());
}

TEST(SmtpSessionFailure, ClosedBeforeTheBannerIsDropped) {
    FakeSmtpServer server([](SmtpPeer& peer) { peer.close(); });
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Dropped);
}

TEST(SmtpSessionFailure, GarbageForAReplyIsAProtocolError) {
    for (const char* garbage :
         {"hello?\r\n", "99 too short\r\n", "250-first\r\n550 other code\r\n", "\x16\x03\x01\x02 binary\r\n"}) {
        std::string bytes = garbage;
        FakeSmtpServer server([bytes](SmtpPeer& peer) {
            greet(peer);
            peer.read_line();
            peer.send(bytes);
            peer.client_closed();
        });
        SessionHarness h;
        h.add("a@fake.test");
        h.run(server.endpoint());
        EXPECT_EQ(h.end(), SessionEnd::ProtocolError) << bytes;
        ASSERT_EQ(h.owner.returned.size(), 1u) << bytes;
        EXPECT_EQ(h.owner.returned[0].why, SessionEnd::ProtocolError) << bytes;
    }
}

TEST(SmtpSessionFailure, OverlongLineIsAProtocolError) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 " + std::string(10000, 'x') + "\r\n");
        peer.client_closed();
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ProtocolError);
}

// "421 4.7.0 Too many errors" at RCPT closes the session, whatever it says.
TEST(SmtpSessionFailure, ServiceClosingAtRcpt) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        greet(peer);
        peer.answer("250 2.1.5 Ok\r\n");
        peer.answer("421 4.7.0 mx.fake.test Error: too many errors\r\n");
        peer.client_closed();
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.add("b@fake.test");
    h.add("c@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ServiceClosing);
    EXPECT_EQ(h.owner.answered.size(), 1u);
    ASSERT_EQ(h.owner.returned.size(), 1u);
    EXPECT_EQ(h.owner.returned[0].task.recipient, "b@fake.test");
    EXPECT_TRUE(h.owner.returned[0].charged);
    EXPECT_EQ(h.owner.queue.size(), 1u);  // c: never sent
}

TEST(SmtpSessionFailure, MailFromRefusals) {
    struct Case {
        const char* reply;
        SessionEnd end;
    } cases[] = {
        {"554 5.7.1 <probe@x>: Sender address rejected: Access denied\r\n", SessionEnd::Blocked},
        {"553 5.1.8 Domain of sender address does not exist\r\n", SessionEnd::Refused},
        {"451 4.3.0 Temporary lookup failure\r\n", SessionEnd::TemporaryFailure},
        {"530 5.7.0 Must issue a STARTTLS command first\r\n", SessionEnd::Blocked},
    };
    for (const auto& c : cases) {
        std::string reply = c.reply;
        FakeSmtpServer server([reply](SmtpPeer& peer) {
            peer.send("220 mx.fake.test ESMTP\r\n");
            peer.answer("250 mx.fake.test\r\n");
            peer.answer(reply);
            peer.client_closed();
        });
        SessionHarness h;
        h.add("a@fake.test");
        h.run(server.endpoint());
        EXPECT_EQ(h.end(), c.end) << reply;
        EXPECT_EQ(h.owner.queue.size(), 1u) << reply;
    }
}

TEST(SmtpSessionFailure, AbortReturnsWhatWasInFlight) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        greet(peer);
        peer.read_line();
        peer.client_closed();
    });
    SessionHarness h;
    h.add("a@fake.test");
    // Run until the RCPT is out, then abandon the session (a cancel).
    h.session = std::make_unique<ev::smtp::Session>(h.loop, h.owner, h.config, server.endpoint(), "mx.fake.test", 0);
    h.session->start();
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (server.received_starting("RCPT").empty() && std::chrono::steady_clock::now() < deadline)
        h.loop.run_once(20ms);
    h.session->abort(SessionEnd::ReplyTimeout);
    EXPECT_TRUE(h.session->done());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    ASSERT_EQ(h.owner.returned.size(), 1u);
    EXPECT_EQ(h.loop.watched(), 0u);  // the socket is gone from the loop
    EXPECT_EQ(h.loop.pending_timers(), 0u);
}

// ---- STARTTLS -------------------------------------------------------------

namespace {

// Offers STARTTLS, upgrades, and runs the rest of the dialogue under TLS.
void tls_server(SmtpPeer& peer) {
    peer.send("220 mx.fake.test ESMTP\r\n");
    peer.answer("250-mx.fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
    if (peer.answer("220 2.0.0 Ready to start TLS\r\n") != "STARTTLS") return;
    if (!peer.start_tls()) return;
    peer.answer("250-mx.fake.test\r\n250 PIPELINING\r\n");
    peer.answer("250 2.1.0 Ok\r\n");
    peer.answer("250 2.1.5 Ok\r\n");
    peer.leave();
    peer.answer("221 Bye\r\n");
}

}  // namespace

TEST(SmtpSessionTls, UpgradesAndRecordsTheUnverifiedCertificate) {
    FakeSmtpServer server(tls_server);
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(server.received(), (Lines{"EHLO probe.test", "STARTTLS", "EHLO probe.test", "MAIL FROM:<>",
                                        "RCPT TO:<a@fake.test>", "QUIT"}));
    EXPECT_TRUE(h.owner.report->used_tls);
    // Self-signed: recorded, never a reason to stop.
    EXPECT_NE(h.owner.report->certificate_problem, "");
    ASSERT_EQ(h.owner.answered.size(), 1u);
    EXPECT_EQ(h.owner.answered[0].meaning, Meaning::Accepted);
}

TEST(SmtpSessionTls, NotUsedWhenConfiguredOff) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.answer("250 2.1.5 Ok\r\n");
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    h.config.starttls = false;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_TRUE(server.received_starting("STARTTLS").empty());
    EXPECT_FALSE(h.owner.report->used_tls);
}

TEST(SmtpSessionTls, RefusedStartTlsCarriesOnInTheClear) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        peer.answer("454 4.7.0 TLS not available due to local problem\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.answer("250 2.1.5 Ok\r\n");
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(server.received_starting("MAIL").size(), 1u);
    EXPECT_FALSE(h.owner.report->used_tls);
    EXPECT_EQ(h.owner.answered.size(), 1u);
}

// Bytes after the 220 would be taken as replies to commands sent under TLS
// (CVE-2011-0411 and its kind): the session must stop.
TEST(SmtpSessionTls, DataAfterTheReadyReplyIsRefused) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        peer.answer("220 2.0.0 Ready\r\n250-injected\r\n250 PIPELINING\r\n");
        peer.client_closed();
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ProtocolError);
    EXPECT_FALSE(h.owner.report->used_tls);
}

TEST(SmtpSessionTls, BrokenHandshakeEndsTlsFailed) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        peer.answer("220 2.0.0 Ready\r\n");
        peer.stall(50ms);
        peer.send("this is not a TLS record at all\r\n");
        peer.client_closed();
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::TlsFailed);
    EXPECT_EQ(h.owner.queue.size(), 1u);
}

TEST(SmtpSessionTls, StalledHandshakeTimesOut) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        peer.answer("220 2.0.0 Ready\r\n");
        peer.stall(3000ms);
    });
    SessionHarness h;
    h.config.reply_timeout = 200ms;
    h.add("a@fake.test");
    auto took = h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::ReplyTimeout);
    EXPECT_LT(took, 1500ms);
}
