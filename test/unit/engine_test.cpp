// prober::Engine in a loopback mail world (fake DNS + fake SMTP): several
// domains in one run, every dns-level outcome, catch-all detection and its
// cache, duplicates, the per-host connection limit, fall-through to the next
// MX host, timeouts, the error budget, "too many recipients", domain
// literals, and a poll that abandons the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fake_smtp_server.h"
#include "probe_world.h"
#include "prober/engine.h"
#include "syntax_verifier.h"

using ev::Level;
using ev::Reason;
using ev::Status;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

// strict.test knows alice, bob and user*; catchall.test takes anything;
// grey.test greylists; full.test is over quota.
std::string world_rcpt(const std::string& recipient) {
    std::string local = recipient.substr(0, recipient.find('@'));
    std::string domain = recipient.substr(recipient.find('@') + 1);
    if (domain == "catchall.test") return "250 2.1.5 Ok";
    if (domain == "grey.test") return "450 4.2.0 <" + recipient + ">: Recipient address rejected: Greylisted";
    if (domain == "full.test") return "552 5.2.2 <" + recipient + ">: Mailbox full";
    if (local == "alice" || local == "bob" || local.rfind("user", 0) == 0) return "250 2.1.5 Ok";
    return "550 5.1.1 <" + recipient + ">: Recipient address rejected: User unknown in local recipient table";
}

MtaBehaviour world_mta() {
    MtaBehaviour mta;
    mta.rcpt = world_rcpt;
    return mta;
}

class EngineTest : public ::testing::Test {
  protected:
    EngineTest() { settings = fake::loopback_settings(dns, 25); }

    void start_smtp(fake::SmtpScript script) {
        smtp = std::make_unique<FakeSmtpServer>(std::move(script));
        settings.smtp_port = smtp->port();
    }

    std::vector<ev::OfflineFindings> run(const std::vector<std::string>& inputs, Level level = Level::Smtp,
                                         const ev::prober::Poll& poll = nullptr, ev::SyntaxOptions options = {}) {
        ev::SyntaxVerifier examiner(fake::small_lists(), fake::no_suggestions());
        std::vector<ev::OfflineFindings> items;
        for (const auto& input : inputs) items.push_back(examiner.examine(input, options));
        ev::prober::Engine engine(settings, caches);
        engine.run(items, level, poll);
        stats = engine.stats();
        return items;
    }

    fake::FakeDnsServer dns;
    std::unique_ptr<FakeSmtpServer> smtp;
    ev::prober::ProbeSettings settings;
    ev::prober::ProberCaches caches;
    ev::prober::RunStats stats;
};

}  // namespace

TEST_F(EngineTest, SeveralDomainsInOneRun) {
    fake::publish_mail_domain(dns, "strict.test");
    fake::publish_mail_domain(dns, "catchall.test");
    fake::publish_mail_domain(dns, "grey.test");
    fake::publish_mail_domain(dns, "full.test");
    start_smtp(fake::mta_script(world_mta()));
    auto items = run(
        {"alice@strict.test", "ghost@strict.test", "x@catchall.test", "a@grey.test", "a@full.test", "not an address"});
    const auto& alice = items[0].result;
    EXPECT_EQ(alice.status, Status::Valid);
    EXPECT_EQ(alice.reason, Reason::Accepted);
    EXPECT_EQ(alice.level, Level::Smtp);
    EXPECT_EQ(alice.mx_host, "mx.strict.test");
    EXPECT_EQ(alice.mx_found, true);
    EXPECT_EQ(alice.smtp_code, 250);
    EXPECT_EQ(alice.is_catch_all, false);
    EXPECT_TRUE(items[0].network_answered);

    EXPECT_EQ(items[1].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(items[1].result.smtp_code, 550);
    ASSERT_TRUE(items[1].result.smtp_message);
    EXPECT_EQ(items[1].result.smtp_message->rfind("5.1.1 ", 0), 0u);

    EXPECT_EQ(items[2].result.status, Status::Risky);
    EXPECT_EQ(items[2].result.reason, Reason::CatchAll);
    EXPECT_EQ(items[2].result.is_catch_all, true);

    EXPECT_EQ(items[3].result.status, Status::Unknown);
    EXPECT_EQ(items[3].result.reason, Reason::Greylisted);
    EXPECT_EQ(items[4].result.reason, Reason::MailboxFull);

    EXPECT_EQ(items[5].result.reason, Reason::Syntax);  // left as the syntax check had it
    EXPECT_EQ(items[5].result.level, Level::Syntax);

    EXPECT_EQ(stats.catch_all_probes, 4);  // one per domain
    EXPECT_EQ(stats.rcpts_sent, 5 + 4);
    // One MX address for all four domains: one host queue, one session drains it.
    EXPECT_EQ(smtp->connections(), stats.sessions_opened);
    EXPECT_EQ(smtp->received_starting("RCPT").size(), 9u);
}

TEST_F(EngineTest, EveryDnsLevelOutcome) {
    fake::publish_mail_domain(dns, "ok.test");
    dns.set("null.test", fake::kTypeMx, fake::mx_answer({{0, ""}}));
    dns.set("bare.test", fake::kTypeMx, fake::negative_answer(fake::kNoError));
    dns.set("servfail.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    dns.set("silent.test", fake::kTypeMx, fake::silent_answer());
    dns.set("implicit.test", fake::kTypeMx, fake::negative_answer(fake::kNoError));
    dns.set("implicit.test", fake::kTypeA, fake::address_answer({"192.0.2.7"}));
    auto items = run({"a@ok.test", "a@missing.test", "a@null.test", "a@bare.test", "a@servfail.test", "a@silent.test",
                      "a@implicit.test"},
                     Level::Dns);
    struct Expect {
        Reason reason;
        std::optional<bool> mx_found;
        bool answered;
    } expected[] = {
        {Reason::DomainOk, true, true},          {Reason::NoDomain, false, true},
        {Reason::NullMx, false, true},           {Reason::NoMailServer, false, true},
        {Reason::DnsError, std::nullopt, false}, {Reason::DnsError, std::nullopt, false},
        {Reason::DomainOk, true, true},
    };
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& r = items[i].result;
        EXPECT_EQ(r.reason, expected[i].reason) << r.email;
        EXPECT_EQ(r.level, Level::Dns) << r.email;
        EXPECT_EQ(r.mx_found, expected[i].mx_found) << r.email;
        EXPECT_EQ(items[i].network_answered, expected[i].answered) << r.email;
        EXPECT_FALSE(r.smtp_code) << r.email;
    }
    EXPECT_EQ(items[0].result.mx_host, "mx.ok.test");
    EXPECT_EQ(items[6].result.mx_host, "implicit.test");
    EXPECT_EQ(stats.sessions_opened, 0);
}

// The engine leaves the offline flags' precedence alone: it is the Verifier
// that decides what a verdict without any answer is worth.
TEST_F(EngineTest, FindingsGainWhatTheProbeFound) {
    dns.set("strict.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    auto items = run({"nobody@strict.test"}, Level::Dns);
    EXPECT_TRUE(items[0].findings.has(Reason::RoleAccount));
    EXPECT_TRUE(items[0].findings.has(Reason::DnsError));
    EXPECT_EQ(items[0].result.reason, Reason::RoleAccount);
    EXPECT_FALSE(items[0].network_answered);
}

TEST_F(EngineTest, DuplicatesAreProbedOnce) {
    fake::publish_mail_domain(dns, "strict.test");
    start_smtp(fake::mta_script(world_mta()));
    auto items = run({"bob@strict.test", "bob@strict.test", "bob@STRICT.test"});
    for (const auto& item : items) EXPECT_EQ(item.result.reason, Reason::Accepted) << item.result.email;
    EXPECT_EQ(smtp->received_starting("RCPT TO:<bob@").size(), 1u);
    EXPECT_EQ(dns.queries("strict.test", fake::kTypeMx), 1);
}

TEST_F(EngineTest, CatchAllAnswerIsCachedPerDomain) {
    fake::publish_mail_domain(dns, "catchall.test");
    start_smtp(fake::mta_script(world_mta()));
    run({"a@catchall.test"});
    EXPECT_EQ(stats.catch_all_probes, 1);
    auto items = run({"b@catchall.test"});
    EXPECT_EQ(stats.catch_all_probes, 0);
    EXPECT_EQ(items[0].result.reason, Reason::CatchAll);
    EXPECT_EQ(dns.queries("catchall.test", fake::kTypeMx), 1);  // the route is cached too
}

TEST_F(EngineTest, PerHostConnectionLimitIsKept) {
    fake::publish_mail_domain(dns, "strict.test");
    MtaBehaviour mta = world_mta();
    mta.rcpt_delay = 20ms;  // sessions overlap
    start_smtp(fake::mta_script(mta));
    settings.politeness.max_connections_per_host = 2;
    settings.recipients_per_extra_session = 1;
    std::vector<std::string> inputs;
    for (int i = 0; i < 12; ++i) inputs.push_back("user" + std::to_string(i) + "@strict.test");
    auto items = run(inputs);
    for (const auto& item : items) EXPECT_EQ(item.result.reason, Reason::Accepted) << item.result.email;
    EXPECT_EQ(stats.max_sessions_per_host, 2);
    EXPECT_LE(smtp->max_concurrent(), 2);
    EXPECT_GE(smtp->connections(), 2);
}

// Two domains whose MX names differ but point at one server: the server
// still sees one connection (the limit holds per MX address too).
TEST_F(EngineTest, OneConnectionPerHostWhenTheLimitIsOne) {
    fake::publish_mail_domain(dns, "strict.test");
    fake::publish_mail_domain(dns, "catchall.test");
    start_smtp(fake::mta_script(world_mta()));
    settings.politeness.max_connections_per_host = 1;
    settings.recipients_per_extra_session = 1;
    std::vector<std::string> inputs;
    for (int i = 0; i < 8; ++i) inputs.push_back("user" + std::to_string(i) + "@strict.test");
    for (int i = 0; i < 8; ++i) inputs.push_back("user" + std::to_string(i) + "@catchall.test");
    run(inputs);
    EXPECT_EQ(stats.max_sessions_per_host, 1);
    EXPECT_EQ(smtp->max_concurrent(), 1);
}

// A dead preferred MX (nothing listens) or one that 421s at the banner
// hands its recipients to the next MX host.
TEST_F(EngineTest, FallsThroughToTheNextMxHost) {
    start_smtp(fake::mta_script(world_mta()));
    FakeSmtpServer closing(
        [](SmtpPeer& peer) {
            peer.send("421 4.3.2 mx1 going down\r\n");
            peer.client_closed();
        },
        "127.0.0.3", smtp->port());
    for (const char* domain : {"dead.test", "closing.test"}) {
        std::string d = domain;
        dns.set(d, fake::kTypeMx, fake::mx_answer({{10, "mx1." + d}, {20, "mx2." + d}}));
        dns.set("mx1." + d, fake::kTypeA, fake::address_answer({d == "dead.test" ? "127.0.0.2" : "127.0.0.3"}));
        dns.set("mx2." + d, fake::kTypeA, fake::address_answer({"127.0.0.1"}));
        dns.set("mx1." + d, fake::kTypeAaaa, fake::negative_answer(fake::kNoError));
        dns.set("mx2." + d, fake::kTypeAaaa, fake::negative_answer(fake::kNoError));
    }
    auto items = run({"alice@dead.test", "alice@closing.test"});
    EXPECT_EQ(items[0].result.reason, Reason::Accepted);
    EXPECT_EQ(items[0].result.mx_host, "mx2.dead.test");
    EXPECT_EQ(items[1].result.reason, Reason::Accepted);
    EXPECT_EQ(items[1].result.mx_host, "mx2.closing.test");
    EXPECT_GE(closing.connections(), 1);
}

TEST_F(EngineTest, NoReachableHostIsConnectionFailed) {
    fake::publish_mail_domain(dns, "dead.test", "127.0.0.2");
    settings.smtp_port = ev::test::closed_port();
    auto items = run({"alice@dead.test"});
    EXPECT_EQ(items[0].result.status, Status::Unknown);
    EXPECT_EQ(items[0].result.reason, Reason::ConnectionFailed);
    EXPECT_EQ(items[0].result.level, Level::Smtp);
    EXPECT_TRUE(items[0].network_answered);  // DNS did answer
}

TEST_F(EngineTest, StalledServerEndsInATimeout) {
    fake::publish_mail_domain(dns, "tarpit.test");
    start_smtp([](SmtpPeer& peer) {
        peer.send("220 tarpit ESMTP\r\n");
        peer.answer("250 tarpit\r\n");
        peer.answer("250 2.1.0 Ok\r\n");
        peer.stall(5000ms);
    });
    settings.session.reply_timeout = 200ms;
    auto started = std::chrono::steady_clock::now();
    auto items = run({"alice@tarpit.test"});
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    EXPECT_EQ(items[0].result.reason, Reason::Timeout);
    EXPECT_EQ(items[0].result.status, Status::Unknown);
}

TEST_F(EngineTest, ErrorBudgetMeansReconnectingNotGivingUp) {
    fake::publish_mail_domain(dns, "strict.test");
    start_smtp(fake::mta_script(world_mta()));
    settings.session.max_errors = 3;
    settings.session.max_errors_learned = 3;  // no learning: every session keeps to 3
    std::vector<std::string> inputs;
    for (int i = 0; i < 10; ++i) inputs.push_back("ghost" + std::to_string(i) + "@strict.test");
    auto items = run(inputs);
    for (const auto& item : items) EXPECT_EQ(item.result.reason, Reason::MailboxNotFound) << item.result.email;
    // 10 unknown users and the catch-all probe, at most 3 refusals a session.
    EXPECT_GE(stats.sessions_opened, 4);
}

TEST_F(EngineTest, TooManyRecipientsIsLearnedForTheHost) {
    fake::publish_mail_domain(dns, "strict.test");
    start_smtp([](SmtpPeer& peer) {
        peer.send("220 mx ESMTP\r\n");
        int in_transaction = 0;
        while (auto line = peer.read_line()) {
            std::string verb = line->substr(0, 4);
            if (verb == "EHLO") peer.send("250 mx\r\n");
            if (verb == "MAIL" || verb == "RSET") {
                in_transaction = 0;
                peer.send(verb == "MAIL" ? "250 2.1.0 Ok\r\n" : "250 2.0.0 Ok\r\n");
            }
            if (verb == "RCPT")
                peer.send(++in_transaction > 3 ? "452 4.5.3 Error: too many recipients\r\n"
                                               : world_rcpt(ev::test::rcpt_address(*line)) + "\r\n");
            if (verb == "QUIT") {
                peer.leave();
                peer.send("221 Bye\r\n");
                return;
            }
        }
    });
    std::vector<std::string> inputs;
    for (int i = 0; i < 9; ++i) inputs.push_back("user" + std::to_string(i) + "@strict.test");
    auto items = run(inputs);
    for (const auto& item : items) EXPECT_EQ(item.result.reason, Reason::Accepted) << item.result.email;
    EXPECT_GE(smtp->received_starting("MAIL").size(), 4u);  // 10 recipients, 3 a transaction
}

TEST_F(EngineTest, DomainLiteralIsProbedWithoutDns) {
    start_smtp(fake::mta_script(world_mta()));
    ev::SyntaxOptions options;
    options.allow_domain_literal = true;
    auto items = run({"alice@[127.0.0.1]"}, Level::Smtp, nullptr, options);
    EXPECT_EQ(items[0].result.reason, Reason::Accepted);
    EXPECT_EQ(dns.total_queries(), 0);
    EXPECT_EQ(smtp->received_starting("RCPT TO:<alice@[127.0.0.1]>").size(), 1u);
}

// The poll runs at least every 50 ms, and its exception abandons the run
// with every socket closed (a query cancel inside PostgreSQL).
TEST_F(EngineTest, PollRunsOftenAndMayAbandonTheRun) {
    fake::publish_mail_domain(dns, "tarpit.test");
    std::mutex mutex;
    bool closed_by_client = false;
    start_smtp([&](SmtpPeer& peer) {
        peer.send("220 tarpit ESMTP\r\n");
        bool closed = peer.client_closed(5000ms);
        std::lock_guard<std::mutex> lock(mutex);
        closed_by_client = closed;
    });
    std::vector<std::chrono::steady_clock::time_point> polls;
    auto started = std::chrono::steady_clock::now();
    auto poll = [&] {
        polls.push_back(std::chrono::steady_clock::now());
        if (polls.back() - started > 400ms) throw std::runtime_error("cancelled");
    };
    EXPECT_THROW(run({"alice@tarpit.test"}, Level::Smtp, poll), std::runtime_error);
    ASSERT_GE(polls.size(), 5u);
    std::vector<std::chrono::steady_clock::duration> gaps;
    for (std::size_t i = 1; i < polls.size(); ++i) gaps.push_back(polls[i] - polls[i - 1]);
    std::sort(gaps.begin(), gaps.end());
    // 50 ms by design; the median and a loose maximum keep a loaded machine
    // from failing the test.
    EXPECT_LE(gaps[gaps.size() / 2], 60ms);
    EXPECT_LE(gaps.back(), 250ms);
    for (int i = 0; i < 100 && smtp->connections() > 0; ++i) {
        std::lock_guard<std::mutex> lock(mutex);
        if (closed_by_client) break;
        std::this_thread::sleep_for(20ms);
    }
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_TRUE(closed_by_client);
}
