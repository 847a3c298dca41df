// prober::Engine learning each host's error budget (smtp/error_budget.h)
// in a loopback mail world: a PIPELINING server without error limits takes
// 500 unknown users in at most 10 sessions; one that plays Postfix's
// defaults (here with a short error sleep) never says "too many errors" and
// slows at most one reply; one that says 421, or drops the connection,
// after 5 errors does so only to the sessions that opened before it was
// known. Every address gets its verdict either way.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_smtp_server.h"
#include "probe_world.h"
#include "prober/engine.h"
#include "syntax_verifier.h"

using ev::Level;
using ev::Reason;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

MtaBehaviour everyone_unknown() {
    MtaBehaviour mta;
    mta.rcpt = [](const std::string& r) { return "550 5.1.1 <" + r + ">: Recipient address rejected: User unknown"; };
    return mta;
}

class EngineErrorBudgetTest : public ::testing::Test {
  protected:
    EngineErrorBudgetTest() {
        settings = fake::loopback_settings(dns, 25);
        settings.address_timeout = 20s;
        fake::publish_mail_domain(dns, "strict.test");
    }

    void start_smtp(const MtaBehaviour& mta) {
        smtp = std::make_unique<FakeSmtpServer>(fake::mta_script(mta));
        settings.smtp_port = smtp->port();
    }

    // `count` unknown users at strict.test; expects each to be found unknown.
    void run_unknown(int count) {
        ev::SyntaxVerifier examiner(fake::small_lists(), fake::no_suggestions());
        std::vector<ev::OfflineFindings> items;
        for (int i = 0; i < count; ++i)
            items.push_back(examiner.examine("ghost" + std::to_string(i) + "@strict.test", {}));
        ev::prober::Engine engine(settings, caches);
        engine.run(items, Level::Smtp, nullptr);
        stats = engine.stats();
        for (const auto& item : items) EXPECT_EQ(item.result.reason, Reason::MailboxNotFound) << item.result.email;
    }

    fake::FakeDnsServer dns;
    std::unique_ptr<FakeSmtpServer> smtp;
    ev::prober::ProbeSettings settings;
    ev::prober::ProberCaches caches;
    ev::prober::RunStats stats;
};

}  // namespace

TEST_F(EngineErrorBudgetTest, NoErrorLimitsMeansFewSessions) {
    start_smtp(everyone_unknown());
    run_unknown(500);
    // 501 refusals with the catch-all probe: 9 a session would be 56.
    EXPECT_LE(smtp->connections(), 10);
    EXPECT_EQ(stats.sessions_opened, smtp->connections());
}

TEST_F(EngineErrorBudgetTest, NoErrorLimitsWithoutPipelining) {
    MtaBehaviour mta = everyone_unknown();
    mta.pipelining = false;
    start_smtp(mta);
    run_unknown(300);
    EXPECT_LE(smtp->connections(), 10);
}

// Postfix's defaults (soft limit 10, hard 20); the sleep is shortened and
// the threshold with it.
TEST_F(EngineErrorBudgetTest, PostfixDefaultsCostOneSlowedReply) {
    MtaBehaviour mta = everyone_unknown();
    mta.soft_error_limit = 10;
    mta.error_sleep = 300ms;
    mta.hard_error_limit = 20;
    mta.batch_replies = true;
    settings.session.error_sleep_threshold = 150ms;
    start_smtp(mta);
    run_unknown(200);
    EXPECT_EQ(mta.counters->too_many_errors, 0);
    EXPECT_LE(mta.counters->slowed_rcpts, 1);
    EXPECT_LE(mta.counters->most_errors, 11);
    // 201 refusals, 9 a session once the limit is known.
    EXPECT_GE(stats.sessions_opened, 201 / 11);
}

TEST_F(EngineErrorBudgetTest, TooManyErrorsAfterFiveIsLearned) {
    MtaBehaviour mta = everyone_unknown();
    mta.hard_error_limit = 5;
    start_smtp(mta);
    run_unknown(60);
    // Only the sessions that opened before the first report can meet it.
    EXPECT_LE(mta.counters->too_many_errors, settings.politeness.max_connections_per_host);
    EXPECT_GE(stats.sessions_opened, 61 / 4);
}

TEST_F(EngineErrorBudgetTest, ADropAfterFiveIsLearned) {
    MtaBehaviour mta = everyone_unknown();
    mta.hard_error_limit = 5;
    mta.hard_limit_drops = true;
    start_smtp(mta);
    run_unknown(60);
    EXPECT_LE(mta.counters->drops, settings.politeness.max_connections_per_host);
}
