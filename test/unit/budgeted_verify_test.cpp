// prober::verify_within: a fast server's verdict within the budget, a
// tarpit cut off at the budget (unknown/timeout, flags kept), an invalid
// syntax never probed, and a cancel still going through.
#include "prober/budgeted_verify.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "fake_smtp_server.h"
#include "probe_world.h"

using ev::Level;
using ev::Reason;
using ev::Status;
using ev::test::FakeSmtpServer;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

class BudgetedVerifyTest : public ::testing::Test {
  protected:
    BudgetedVerifyTest() {
        settings.probe = fake::loopback_settings(dns, 25);
        settings.probe.session.reply_timeout = 5000ms;
        fake::publish_mail_domain(dns, "fast.test", "127.0.0.1");
        fake::publish_mail_domain(dns, "tarpit.test", "127.0.0.2");
        fake::MtaBehaviour mta;
        mta.rcpt = [](const std::string& r) {
            return r.rfind("alice@", 0) == 0 ? std::string("250 2.1.5 Ok") : std::string("550 5.1.1 User unknown");
        };
        fast = std::make_unique<FakeSmtpServer>(fake::mta_script(mta), "127.0.0.1");
        // Accepts and never says a word, until the test ends.
        tarpit = std::make_unique<FakeSmtpServer>(
            [](fake::SmtpPeer& peer) {
                for (int i = 0; i < 100 && !peer.read_line(50ms); ++i) {
                }
            },
            "127.0.0.2", fast->port());
        settings.probe.smtp_port = fast->port();
    }

    ev::prober::BudgetedVerdict check(const std::string& input, std::chrono::milliseconds budget,
                                      const ev::prober::Poll& poll = nullptr) {
        ev::prober::Verifier verifier(fake::small_lists(), fake::no_suggestions(), caches);
        return ev::prober::verify_within(verifier, input, Level::Smtp, settings, budget, poll);
    }

    fake::FakeDnsServer dns;
    std::unique_ptr<FakeSmtpServer> fast;
    std::unique_ptr<FakeSmtpServer> tarpit;
    ev::prober::VerifierSettings settings;
    ev::prober::ProberCaches caches;
};

}  // namespace

TEST_F(BudgetedVerifyTest, AFastServersVerdictComesWithinTheBudget) {
    auto found = check("alice@fast.test", 2000ms);
    EXPECT_FALSE(found.budget_spent);
    EXPECT_EQ(found.verdict.result.status, Status::Valid);
    auto missing = check("zed@fast.test", 2000ms);
    EXPECT_EQ(missing.verdict.result.reason, Reason::MailboxNotFound);
    // Asked again: the result cache answers.
    auto again = check("alice@fast.test", 2000ms);
    EXPECT_TRUE(again.verdict.result.from_cache);
}

TEST_F(BudgetedVerifyTest, ATarpitIsCutOffAtTheBudget) {
    auto started = std::chrono::steady_clock::now();
    auto cut = check("alice@tarpit.test", 150ms);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(cut.budget_spent);
    EXPECT_FALSE(cut.verdict.final);
    EXPECT_EQ(cut.verdict.result.status, Status::Unknown);
    EXPECT_EQ(cut.verdict.result.reason, Reason::Timeout);
    EXPECT_EQ(cut.verdict.result.level, Level::Smtp);
    EXPECT_EQ(cut.verdict.result.is_role, false);
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 400ms);  // generous: ASan and a shared machine

    // What the syntax already says stands: a role address is risky.
    auto role = check("nobody@tarpit.test", 100ms);
    EXPECT_TRUE(role.budget_spent);
    EXPECT_EQ(role.verdict.result.reason, Reason::RoleAccount);
}

TEST_F(BudgetedVerifyTest, AMalformedAddressNeedsNoBudget) {
    auto bad = check("not an address", 1ms);
    EXPECT_FALSE(bad.budget_spent);
    EXPECT_EQ(bad.verdict.result.reason, Reason::Syntax);
}

TEST_F(BudgetedVerifyTest, ACancelStillGoesThrough) {
    struct Cancelled {};
    EXPECT_THROW(check("alice@tarpit.test", 5000ms, [] { throw Cancelled{}; }), Cancelled);
}
