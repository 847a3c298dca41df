// smtp::Session through every state of a dialogue that goes right, against
// the in-process fake server: banner, EHLO or HELO, MAIL FROM, RCPT answered
// every way, pipelining, the transaction limit, RSET, QUIT; multi-line
// replies and replies that arrive one byte per TCP segment.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_smtp_server.h"
#include "session_harness.h"

using ev::smtp::Meaning;
using ev::smtp::SessionEnd;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using ev::test::SessionHarness;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;

using Lines = std::vector<std::string>;

TEST(SmtpSession, PlainDialogueInOrderEndsWithQuit) {
    MtaBehaviour mta;
    mta.pipelining = false;
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.add("alice@fake.test");
    h.run(server.endpoint());
    ASSERT_TRUE(h.owner.report);
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(server.received(), (Lines{"EHLO probe.test", "MAIL FROM:<>", "RCPT TO:<alice@fake.test>", "QUIT"}));
    ASSERT_EQ(h.owner.answered.size(), 1u);
    EXPECT_EQ(h.owner.answered[0].meaning, Meaning::Accepted);
    EXPECT_EQ(h.owner.answered[0].reply.code, 250);
    EXPECT_EQ(h.owner.report->rcpts_answered, 1);
    EXPECT_FALSE(h.owner.report->pipelining);
    EXPECT_FALSE(h.owner.report->used_tls);
    EXPECT_TRUE(h.owner.returned.empty());
}

TEST(SmtpSession, MailFromCarriesTheConfiguredSender) {
    FakeSmtpServer server(ev::test::mta_script({}));
    SessionHarness h;
    h.config.mail_from = "bounce@sender.test";
    h.add("alice@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(server.received_starting("MAIL"), (Lines{"MAIL FROM:<bounce@sender.test>"}));
}

TEST(SmtpSession, HeloWhenEhloIsRefused) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 old.fake.test SMTP\r\n");
        peer.answer("502 5.5.1 EHLO not implemented\r\n");
        peer.answer("250 old.fake.test\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.answer("550 5.1.1 <bob@fake.test>: Recipient address rejected: User unknown\r\n");
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    h.add("bob@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(server.received(),
              (Lines{"EHLO probe.test", "HELO probe.test", "MAIL FROM:<>", "RCPT TO:<bob@fake.test>", "QUIT"}));
    ASSERT_EQ(h.owner.answered.size(), 1u);
    EXPECT_EQ(h.owner.answered[0].meaning, Meaning::MailboxNotFound);
}

TEST(SmtpSession, EhloAndHeloBothRefusedEndTheSessionRefused) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 picky.fake.test\r\n");
        peer.answer("500 5.5.2 what\r\n");
        peer.answer("501 5.5.4 no\r\n");
        peer.client_closed();
    });
    SessionHarness h;
    h.add("bob@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Refused);
    ASSERT_TRUE(h.owner.report->reply);
    EXPECT_EQ(h.owner.report->reply->code, 501);
    // The recipient was never taken: it stays with the owner for another host.
    EXPECT_EQ(h.owner.queue.size(), 1u);
    EXPECT_TRUE(h.owner.answered.empty());
}

TEST(SmtpSession, BannersThatEndTheSession) {
    struct Case {
        const char* banner;
        SessionEnd end;
    } cases[] = {
        {"554 5.7.1 You are not welcome here\r\n", SessionEnd::Blocked},
        {"421 4.3.2 Service shutting down\r\n", SessionEnd::ServiceClosing},
        {"450 4.3.2 Try later\r\n", SessionEnd::TemporaryFailure},
        {"hello, this is not SMTP\r\n", SessionEnd::ProtocolError},
    };
    for (const auto& c : cases) {
        std::string banner = c.banner;
        FakeSmtpServer server([banner](SmtpPeer& peer) {
            peer.send(banner);
            peer.client_closed();
        });
        SessionHarness h;
        h.add("alice@fake.test");
        h.run(server.endpoint());
        ASSERT_TRUE(h.owner.report) << banner;
        EXPECT_EQ(h.end(), c.end) << banner;
        EXPECT_TRUE(server.received().empty()) << banner;  // not even an EHLO
        EXPECT_EQ(h.owner.queue.size(), 1u) << banner;
    }
}

TEST(SmtpSession, MultiLineRepliesAreReadWhole) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220-mx.fake.test ESMTP\r\n220-No UCE\r\n220 Welcome\r\n");
        peer.answer("250-mx.fake.test Hello\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.answer(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
            "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
            "550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser\r\n");
        peer.leave();
        peer.answer("221 2.0.0 closing connection\r\n");
    });
    SessionHarness h;
    h.add("nobody@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    // SMTPUTF8 offered: MAIL FROM says so (RFC 6531).
    EXPECT_EQ(server.received_starting("MAIL"), (Lines{"MAIL FROM:<> SMTPUTF8"}));
    ASSERT_EQ(h.owner.answered.size(), 1u);
    const auto& a = h.owner.answered[0];
    EXPECT_EQ(a.meaning, Meaning::MailboxNotFound);
    ASSERT_TRUE(a.reply.enhanced);
    EXPECT_EQ(a.reply.enhanced->klass, 5);
    EXPECT_EQ(a.reply.enhanced->subject, 1);
    EXPECT_EQ(a.reply.enhanced->detail, 1);
    EXPECT_EQ(a.reply.lines.size(), 3u);
    EXPECT_NE(a.reply.text.find("double-checking"), std::string::npos);
}

// Every reply in one-byte TCP segments: the reader must join them.
TEST(SmtpSession, RepliesSplitIntoSingleBytes) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send_bytewise("220-mx.fake.test\r\n220 ESMTP\r\n");
        peer.read_line();
        peer.send_bytewise("250-mx.fake.test\r\n250 PIPELINING\r\n");
        peer.read_line();
        peer.send_bytewise("250 2.1.0 Ok\r\n");
        // Pipelined: three RCPTs, answered in order, each reply split.
        for (const char* reply : {"250 2.1.5 Ok\r\n", "550 5.1.1 User unknown\r\n",
                                  "450 4.2.0 <c@fake.test>: Recipient address rejected: Greylisted\r\n"}) {
            peer.read_line();
            peer.send_bytewise(reply);
        }
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.add("b@fake.test");
    h.add("c@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    ASSERT_EQ(h.owner.answered.size(), 3u);
    EXPECT_EQ(h.owner.answer_for("a@fake.test")->meaning, Meaning::Accepted);
    EXPECT_EQ(h.owner.answer_for("b@fake.test")->meaning, Meaning::MailboxNotFound);
    EXPECT_EQ(h.owner.answer_for("c@fake.test")->meaning, Meaning::Greylisted);
    EXPECT_TRUE(h.owner.report->pipelining);
}

TEST(SmtpSession, EveryRcptAnswerHasItsMeaning) {
    struct Case {
        const char* recipient;
        const char* reply;
        Meaning meaning;
    } cases[] = {
        {"ok@fake.test", "250 2.1.5 Ok", Meaning::Accepted},
        {"gone@fake.test", "550 5.1.1 <gone@fake.test>: Recipient address rejected: User unknown",
         Meaning::MailboxNotFound},
        {"off@fake.test", "550 5.2.1 The email account that you tried to reach is disabled", Meaning::MailboxDisabled},
        {"full@fake.test", "452 4.2.2 The email account that you tried to reach is over quota", Meaning::MailboxFull},
        {"grey@fake.test", "450 4.2.0 <grey@fake.test>: Recipient address rejected: Greylisted, see ...",
         Meaning::Greylisted},
        {"temp@fake.test", "451 4.3.0 Temporary lookup failure", Meaning::TemporaryFailure},
        {"spam@fake.test", "550 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",
         Meaning::Blocked},
    };
    MtaBehaviour mta;
    mta.rcpt = [&cases](const std::string& recipient) {
        for (const auto& c : cases)
            if (recipient == c.recipient) return std::string(c.reply);
        return std::string("550 5.1.1 unexpected");
    };
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.max_errors = 20;  // every refusal in one session
    for (const auto& c : cases) h.add(c.recipient);
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    for (const auto& c : cases) {
        const auto* a = h.owner.answer_for(c.recipient);
        ASSERT_NE(a, nullptr) << c.recipient;
        EXPECT_EQ(a->meaning, c.meaning) << c.recipient;
    }
    EXPECT_EQ(server.received_starting("MAIL").size(), 1u);  // one transaction
}

TEST(SmtpSession, PipeliningSendsTheRecipientsBeforeTheFirstReply) {
    int before_first_reply = 0;
    FakeSmtpServer server([&before_first_reply](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 PIPELINING\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        while (peer.read_line(before_first_reply == 0 ? 2000ms : 300ms)) ++before_first_reply;
        for (int i = 0; i < before_first_reply; ++i) peer.send("250 2.1.5 Ok\r\n");
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    for (int i = 0; i < 5; ++i) h.add("user" + std::to_string(i) + "@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(before_first_reply, 5);
    EXPECT_EQ(h.owner.answered.size(), 5u);
}

TEST(SmtpSession, WithoutPipeliningOneRecipientAtATime) {
    bool second_line_early = false;
    FakeSmtpServer server([&second_line_early](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250 mx.fake.test\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.read_line();
        second_line_early = peer.read_line(200ms).has_value();
        peer.send("250 2.1.5 Ok\r\n");
        peer.answer("250 2.1.5 Ok\r\n");
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.add("b@fake.test");
    h.run(server.endpoint());
    EXPECT_FALSE(second_line_early);
    EXPECT_EQ(h.owner.answered.size(), 2u);
}

// "452 4.5.3 Too many recipients": the transaction is full, not the
// mailbox. RSET, a new MAIL FROM, and the recipient again.
TEST(SmtpSession, TooManyRecipientsStartsANewTransaction) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250 mx.fake.test\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.answer("250 2.1.5 Ok\r\n");
        peer.answer("452 4.5.3 Error: too many recipients\r\n");
        peer.answer("250 2.0.0 Ok\r\n");  // RSET
        peer.answer("250 2.1.0 Ok\r\n");  // MAIL
        peer.answer("250 2.1.5 Ok\r\n");  // the second recipient again
        peer.leave();
        peer.answer("221 Bye\r\n");
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.add("b@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(server.received(),
              (Lines{"EHLO probe.test", "MAIL FROM:<>", "RCPT TO:<a@fake.test>", "RCPT TO:<b@fake.test>", "RSET",
                     "MAIL FROM:<>", "RCPT TO:<b@fake.test>", "QUIT"}));
    ASSERT_EQ(h.owner.returned.size(), 1u);
    EXPECT_FALSE(h.owner.returned[0].charged);  // not the recipient's fault
    EXPECT_EQ(h.owner.report->learned_rcpt_limit, 1);
    ASSERT_NE(h.owner.answer_for("b@fake.test"), nullptr);
    EXPECT_EQ(h.owner.answer_for("b@fake.test")->meaning, Meaning::Accepted);
}

// Postfix slows down after 10 errors: a session spends at most max_errors
// refusals and leaves the rest to a new session.
TEST(SmtpSession, ErrorBudgetEndsTheSessionEarly) {
    MtaBehaviour mta;
    mta.rcpt = [](const std::string&) { return std::string("550 5.1.1 User unknown"); };
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.max_errors = 2;
    for (int i = 0; i < 5; ++i) h.add("nobody" + std::to_string(i) + "@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(server.received_starting("RCPT").size(), 2u);
    EXPECT_EQ(h.owner.answered.size(), 2u);
    EXPECT_EQ(h.owner.queue.size(), 3u);
    EXPECT_EQ(server.received().back(), "QUIT");
}

// Recipients known not to fail (on a catch-all domain) cannot cost the
// budget: they still go out once refusable ones may not.
TEST(SmtpSession, RecipientsThatCannotFailIgnoreTheBudget) {
    MtaBehaviour mta;
    mta.rcpt = [](const std::string& r) {
        return std::string(r.rfind('x', 0) == 0 ? "550 5.1.1 User unknown" : "250 2.1.5 Ok");
    };
    FakeSmtpServer server(ev::test::mta_script(mta));
    SessionHarness h;
    h.config.max_errors = 1;
    h.add("x@strict.test");
    h.add("a@catchall.test", /*may_fail=*/false);
    h.add("y@strict.test");
    h.run(server.endpoint());
    EXPECT_EQ(server.received_starting("RCPT"), (Lines{"RCPT TO:<x@strict.test>", "RCPT TO:<a@catchall.test>"}));
    EXPECT_EQ(h.owner.answered.size(), 2u);
    ASSERT_EQ(h.owner.queue.size(), 1u);
    EXPECT_EQ(h.owner.queue.front().recipient, "y@strict.test");
}

TEST(SmtpSession, QuitAnsweredByAClosedConnectionStillFinishes) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250 mx.fake.test\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.answer("250 2.1.5 Ok\r\n");
        peer.read_line();  // QUIT, and no 221
        peer.close();
    });
    SessionHarness h;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::Finished);
    EXPECT_EQ(h.owner.answered.size(), 1u);
}
