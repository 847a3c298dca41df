// prober::Verifier, the one path verify_email(s), the worker and ev_probe
// share: examine -> probe -> stamp, the result-cache policy (what is reused,
// for how long, what never is), the rule for verdicts reached without any
// DNS or SMTP answer, finality, mixed levels, polling.
#include "prober/verifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fake_smtp_server.h"
#include "probe_world.h"

using ev::Level;
using ev::Reason;
using ev::Status;
using ev::prober::Verdict;
using ev::prober::VerifyRequest;
using ev::test::FakeSmtpServer;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

class VerifierTest : public ::testing::Test {
  protected:
    VerifierTest() {
        settings.probe = fake::loopback_settings(dns, 25);
        fake::MtaBehaviour mta;
        mta.rcpt = [](const std::string& r) {
            if (r.rfind("grey", 0) == 0) return std::string("450 4.2.0 Recipient address rejected: Greylisted");
            if (r.rfind("alice@", 0) == 0 || r.rfind("nobody@", 0) == 0) return std::string("250 2.1.5 Ok");
            return std::string("550 5.1.1 User unknown");
        };
        smtp = std::make_unique<FakeSmtpServer>(fake::mta_script(mta));
        settings.probe.smtp_port = smtp->port();
    }

    std::vector<Verdict> verify(const std::vector<std::string_view>& inputs, Level level,
                                const ev::prober::Poll& poll = nullptr) {
        ev::prober::Verifier verifier(fake::small_lists(), fake::no_suggestions(), caches);
        auto verdicts = verifier.verify(inputs, level, settings, poll);
        stats = verifier.stats();
        return verdicts;
    }

    Verdict verify_one(std::string_view input, Level level) { return verify({input}, level).front(); }

    fake::FakeDnsServer dns;
    std::unique_ptr<FakeSmtpServer> smtp;
    ev::prober::VerifierSettings settings;
    ev::prober::ProberCaches caches;
    ev::prober::RunStats stats;
};

}  // namespace

TEST_F(VerifierTest, SyntaxLevelNeedsNoNetwork) {
    double before = unix_now();
    auto v = verify({"john@example.test", "nobody@example.test", "bad@@example.test"}, Level::Syntax);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0].result.reason, Reason::SyntaxOk);
    EXPECT_EQ(v[1].result.reason, Reason::RoleAccount);
    EXPECT_EQ(v[2].result.reason, Reason::Syntax);
    for (const auto& verdict : v) {
        EXPECT_TRUE(verdict.final);
        EXPECT_EQ(verdict.result.level, Level::Syntax);
        EXPECT_GE(verdict.result.checked_at_unix, before);
        EXPECT_LE(verdict.result.checked_at_unix, unix_now());
        EXPECT_FALSE(verdict.result.from_cache);
    }
    EXPECT_EQ(dns.total_queries(), 0);
    EXPECT_EQ(caches.results.size(), 0u);
}

// The issue's case: nobody@strict.test during a DNS outage came out
// risky/role_account (and was cached for a day). Nothing answered, so it
// is unknown/dns_error, not final, not cached; its flags stay.
TEST_F(VerifierTest, DnsOutageMakesEvenARoleAddressUnknown) {
    dns.set("strict.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    for (Level level : {Level::Dns, Level::Smtp}) {
        Verdict v = verify_one("nobody@strict.test", level);
        EXPECT_EQ(v.result.status, Status::Unknown);
        EXPECT_EQ(v.result.reason, Reason::DnsError);
        EXPECT_EQ(v.result.score, ev::delivery_score(Reason::DnsError, false));
        EXPECT_EQ(v.result.is_role, true);
        EXPECT_FALSE(v.result.mx_found);
        EXPECT_FALSE(v.final);
    }
    EXPECT_EQ(caches.results.size(), 0u);
    int asked = dns.queries("strict.test", fake::kTypeMx);
    Verdict again = verify_one("nobody@strict.test", Level::Dns);
    EXPECT_FALSE(again.result.from_cache);
    EXPECT_GT(dns.queries("strict.test", fake::kTypeMx), asked);
}

TEST_F(VerifierTest, DnsTimeoutIsNoAnswerEither) {
    dns.set("strict.test", fake::kTypeMx, fake::silent_answer());
    Verdict v = verify_one("postmaster@strict.test", Level::Dns);
    EXPECT_EQ(v.result.status, Status::Unknown);
    EXPECT_EQ(v.result.reason, Reason::DnsError);
    EXPECT_FALSE(v.final);
    EXPECT_EQ(caches.results.size(), 0u);
}

// With DNS answering, a role address is what the precedence says (README.md,
// "The result").
TEST_F(VerifierTest, WhenDnsAnswersTheRoleFlagDecides) {
    fake::publish_mail_domain(dns, "strict.test");
    Verdict v = verify_one("nobody@strict.test", Level::Dns);
    EXPECT_EQ(v.result.status, Status::Risky);
    EXPECT_EQ(v.result.reason, Reason::RoleAccount);
    EXPECT_TRUE(v.final);
    EXPECT_EQ(caches.results.size(), 1u);
}

// An unreachable domain literal heard from neither DNS (never asked) nor
// SMTP: the role flag cannot settle it.
TEST_F(VerifierTest, UnreachableDomainLiteralIsUnknown) {
    settings.syntax.allow_domain_literal = true;
    settings.probe.smtp_port = fake::closed_port();
    Verdict v = verify_one("postmaster@[127.0.0.1]", Level::Smtp);
    EXPECT_EQ(v.result.status, Status::Unknown);
    EXPECT_EQ(v.result.reason, Reason::ConnectionFailed);
    EXPECT_FALSE(v.final);
    EXPECT_EQ(caches.results.size(), 0u);
}

TEST_F(VerifierTest, SettledVerdictsAreReusedUnknownOnesAreNot) {
    fake::publish_mail_domain(dns, "strict.test");
    auto first = verify({"alice@strict.test", "ghost@strict.test", "grey@strict.test"}, Level::Smtp);
    EXPECT_EQ(first[0].result.reason, Reason::Accepted);
    EXPECT_EQ(first[1].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(first[2].result.reason, Reason::Greylisted);
    EXPECT_TRUE(first[0].final);
    EXPECT_TRUE(first[1].final);
    EXPECT_FALSE(first[2].final);  // the worker asks again later
    EXPECT_EQ(caches.results.size(), 2u);

    auto second = verify({" alice@strict.test", "ghost@strict.test", "grey@strict.test"}, Level::Smtp);
    EXPECT_TRUE(second[0].result.from_cache);
    EXPECT_EQ(second[0].result.email, " alice@strict.test");                       // the input as given this time
    EXPECT_EQ(second[0].result.checked_at_unix, first[0].result.checked_at_unix);  // the original verdict's
    EXPECT_TRUE(second[0].final);
    EXPECT_TRUE(second[1].result.from_cache);
    EXPECT_FALSE(second[2].result.from_cache);
    EXPECT_EQ(smtp->received_starting("RCPT TO:<grey@").size(), 2u);
    EXPECT_EQ(smtp->received_starting("RCPT TO:<alice@").size(), 1u);
}

TEST_F(VerifierTest, ZeroTtlDisablesTheResultCache) {
    fake::publish_mail_domain(dns, "strict.test");
    settings.result_ttl = 0s;
    verify_one("alice@strict.test", Level::Smtp);
    Verdict again = verify_one("alice@strict.test", Level::Smtp);
    EXPECT_FALSE(again.result.from_cache);
    EXPECT_EQ(caches.results.size(), 0u);
    EXPECT_EQ(smtp->received_starting("RCPT TO:<alice@").size(), 2u);
}

TEST_F(VerifierTest, VerdictsAreCachedPerLevel) {
    fake::publish_mail_domain(dns, "strict.test");
    Verdict dns_level = verify_one("alice@strict.test", Level::Dns);
    EXPECT_EQ(dns_level.result.reason, Reason::DomainOk);
    Verdict smtp_level = verify_one("alice@strict.test", Level::Smtp);
    EXPECT_FALSE(smtp_level.result.from_cache);
    EXPECT_EQ(smtp_level.result.reason, Reason::Accepted);
}

// What one server or identity said is no answer for another.
TEST_F(VerifierTest, ChangedProbeSettingsEmptyTheCaches) {
    fake::publish_mail_domain(dns, "strict.test");
    verify_one("alice@strict.test", Level::Dns);
    EXPECT_TRUE(verify_one("alice@strict.test", Level::Dns).result.from_cache);
    settings.probe.session.helo_name = "other.test";
    EXPECT_FALSE(verify_one("alice@strict.test", Level::Dns).result.from_cache);
    // Level syntax leaves the caches alone, whatever its probe settings.
    settings.probe.session.helo_name = "third.test";
    verify_one("alice@strict.test", Level::Syntax);
    EXPECT_EQ(caches.results.size(), 1u);
}

TEST_F(VerifierTest, ProbedVerdictsAreStamped) {
    fake::publish_mail_domain(dns, "strict.test");
    double before = unix_now();
    auto v = verify({"alice@strict.test", "not an address"}, Level::Smtp);
    for (const auto& verdict : v) {
        EXPECT_GE(verdict.result.checked_at_unix, before);
        EXPECT_LE(verdict.result.checked_at_unix, unix_now());
        EXPECT_GE(verdict.result.duration_ms, 0.0);
    }
    EXPECT_GT(v[0].result.duration_ms, 0.0);
    EXPECT_EQ(v[0].result.level, Level::Smtp);
    EXPECT_EQ(v[1].result.reason, Reason::Syntax);
    EXPECT_TRUE(v[1].final);  // bad syntax is an answer
    EXPECT_EQ(stats.sessions_opened, 1);
}

TEST_F(VerifierTest, MixedLevelsKeepInputOrder) {
    fake::publish_mail_domain(dns, "strict.test");
    std::vector<VerifyRequest> requests = {
        {"alice@strict.test", Level::Smtp}, {"alice@strict.test", Level::Syntax}, {"alice@strict.test", Level::Dns},
        {"ghost@strict.test", Level::Smtp}, {"bad@@x.test", Level::Dns},
    };
    ev::prober::Verifier verifier(fake::small_lists(), fake::no_suggestions(), caches);
    auto v = verifier.verify(requests, settings);
    ASSERT_EQ(v.size(), 5u);
    EXPECT_EQ(v[0].result.reason, Reason::Accepted);
    EXPECT_EQ(v[1].result.reason, Reason::SyntaxOk);
    EXPECT_EQ(v[2].result.reason, Reason::DomainOk);
    EXPECT_EQ(v[3].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(v[4].result.reason, Reason::Syntax);
    EXPECT_EQ(v[2].result.level, Level::Dns);
}

TEST_F(VerifierTest, PollAbandonsTheBatchAndTheCountersSurvive) {
    fake::publish_mail_domain(dns, "tarpit.test");
    FakeSmtpServer tarpit([](fake::SmtpPeer& peer) {
        peer.send("220 tarpit\r\n");
        peer.client_closed(5000ms);
    });
    settings.probe.smtp_port = tarpit.port();
    ev::prober::Verifier verifier(fake::small_lists(), fake::no_suggestions(), caches);
    auto started = std::chrono::steady_clock::now();
    auto poll = [&] {
        if (std::chrono::steady_clock::now() - started > 300ms) throw std::runtime_error("cancelled");
    };
    EXPECT_THROW(verifier.verify({"alice@tarpit.test"}, Level::Smtp, settings, poll), std::runtime_error);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);
    EXPECT_EQ(verifier.stats().sessions_opened, 1);
    EXPECT_EQ(caches.results.size(), 0u);
}

// Each verdict is handed over as soon as it is reached: what needs no probe
// at once, a domain that answers long before one that never does, and every
// input exactly once, with the verdict verify() returns.
TEST_F(VerifierTest, VerdictsAreHandedOverAsTheySettle) {
    fake::publish_mail_domain(dns, "strict.test");
    dns.set("silent.test", fake::kTypeMx, fake::silent_answer());
    std::vector<std::string_view> inputs = {"alice@silent.test", "alice@strict.test", "bad@@x.test"};
    ev::prober::Verifier verifier(fake::small_lists(), fake::no_suggestions(), caches);
    std::vector<std::size_t> order;
    std::vector<Verdict> handed(inputs.size());
    auto v = verifier.verify(inputs, Level::Dns, settings, nullptr, [&](std::size_t i, const Verdict& verdict) {
        order.push_back(i);
        handed[i] = verdict;
    });
    ASSERT_EQ(order.size(), 3u);
    EXPECT_EQ(order[0], 2u);  // bad syntax: no probe
    EXPECT_EQ(order[1], 1u);  // strict.test answers at once
    EXPECT_EQ(order[2], 0u);  // silent.test only when its lookup times out
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        EXPECT_EQ(handed[i].result.reason, v[i].result.reason);
        EXPECT_EQ(handed[i].final, v[i].final);
        EXPECT_EQ(handed[i].result.checked_at_unix, v[i].result.checked_at_unix);
    }
    EXPECT_EQ(v[1].result.reason, Reason::DomainOk);
    EXPECT_EQ(v[0].result.reason, Reason::DnsError);
}

// A long batch at level syntax still looks for a cancel.
TEST_F(VerifierTest, PollRunsWhileExamining) {
    std::vector<std::string> many(20000, "someone@example.test");
    std::vector<std::string_view> inputs(many.begin(), many.end());
    int polls = 0;
    verify(inputs, Level::Syntax, [&] { ++polls; });
    EXPECT_GE(polls, 1);
}

TEST_F(VerifierTest, ABadDnsServerListIsAnInvalidArgument) {
    settings.probe.dns.servers = "not-an-ip";
    EXPECT_THROW(verify_one("alice@strict.test", Level::Dns), std::invalid_argument);
    // Level syntax never builds a resolver.
    EXPECT_NO_THROW(verify_one("alice@strict.test", Level::Syntax));
}

TEST(VerifierPolicy, TransientReasons) {
    for (Reason r : {Reason::Greylisted, Reason::TemporaryFailure, Reason::Timeout, Reason::DnsError})
        EXPECT_TRUE(ev::prober::is_transient(r)) << ev::to_string(r);
    for (Reason r : {Reason::Accepted, Reason::MailboxNotFound, Reason::SmtpBlocked, Reason::ConnectionFailed,
                     Reason::CatchAll, Reason::NoDomain, Reason::RoleAccount})
        EXPECT_FALSE(ev::prober::is_transient(r)) << ev::to_string(r);
}
