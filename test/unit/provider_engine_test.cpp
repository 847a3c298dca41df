// prober::Engine with provider rules, in a loopback mail world (fake DNS +
// fake SMTP) whose servers answer as each documented behaviour does: an
// accept-all provider (no catch-all probe, never valid), a tarpit (never
// connected to), one recipient per transaction (no 452 provoked), a
// per-domain provider (acceptance counts only after the domain refused an
// unknown recipient), and the provider's name in smtp_message.
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
using ev::Status;
using ev::prober::ProviderBehaviour;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

std::string local_of(const std::string& recipient) { return recipient.substr(0, recipient.find('@')); }

class ProviderEngineTest : public ::testing::Test {
  protected:
    ProviderEngineTest() { settings = fake::loopback_settings(dns, 25); }

    void start_smtp(fake::SmtpScript script) {
        smtp = std::make_unique<FakeSmtpServer>(std::move(script));
        settings.smtp_port = smtp->port();
    }

    void start_mta(std::function<std::string(const std::string&)> rcpt) {
        MtaBehaviour mta;
        mta.rcpt = std::move(rcpt);
        start_smtp(fake::mta_script(mta));
    }

    // One provider whose pattern is the MX host of `domain`.
    void provider_for(const std::string& domain, ProviderBehaviour behaviour, const std::string& name = "Replica") {
        auto rules = std::make_shared<ev::prober::ProviderRules>();
        ASSERT_TRUE(rules->add(name, behaviour, {"mx." + domain}));
        settings.providers = rules;
    }

    std::vector<ev::OfflineFindings> run(const std::vector<std::string>& inputs, Level level = Level::Smtp) {
        ev::SyntaxVerifier examiner(fake::small_lists(), fake::no_suggestions());
        std::vector<ev::OfflineFindings> items;
        for (const auto& input : inputs) items.push_back(examiner.examine(input, {}));
        ev::prober::Engine engine(settings, caches);
        engine.run(items, level, nullptr);
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

TEST_F(ProviderEngineTest, AcceptAllProviderIsNeverValidAndCostsNoCatchAllProbe) {
    fake::publish_mail_domain(dns, "yahoo-replica.test");
    start_mta([](const std::string& r) {
        return local_of(r) == "refused" ? "550 5.1.1 no such user" : "250 recipient <" + r + "> ok";
    });
    provider_for("yahoo-replica.test", ProviderBehaviour::AcceptsAll, "Yahoo/AOL");
    auto items = run({"alice@yahoo-replica.test", "ghost@yahoo-replica.test", "refused@yahoo-replica.test"});
    for (int i : {0, 1}) {
        const auto& r = items[i].result;
        EXPECT_EQ(r.status, Status::Risky) << r.email;
        EXPECT_EQ(r.reason, Reason::CatchAll) << r.email;
        EXPECT_EQ(r.is_catch_all, true) << r.email;
        EXPECT_EQ(r.level, Level::Smtp) << r.email;
        EXPECT_EQ(r.smtp_code, 250) << r.email;
        ASSERT_TRUE(r.smtp_message);
        EXPECT_NE(r.smtp_message->find("(provider: Yahoo/AOL - accepts every recipient"), std::string::npos)
            << *r.smtp_message;
    }
    EXPECT_EQ(items[2].result.reason, Reason::MailboxNotFound);  // a refusal is still evidence
    EXPECT_EQ(stats.catch_all_probes, 0);
    EXPECT_EQ(smtp->received_starting("RCPT").size(), 3u);
}

TEST_F(ProviderEngineTest, TarpitProviderIsNeverConnectedTo) {
    fake::publish_mail_domain(dns, "tarpit-replica.test");
    start_smtp([](SmtpPeer& peer) { peer.stall(5s); });
    provider_for("tarpit-replica.test", ProviderBehaviour::Tarpits, "Slowpoke");
    auto items = run({"alice@tarpit-replica.test", "bob@tarpit-replica.test"});
    for (const auto& item : items) {
        const auto& r = item.result;
        EXPECT_EQ(r.status, Status::Unknown);
        EXPECT_EQ(r.reason, Reason::SmtpBlocked);
        EXPECT_EQ(r.level, Level::Dns);  // the deepest check performed
        EXPECT_EQ(r.mx_found, true);
        EXPECT_EQ(r.mx_host, "mx.tarpit-replica.test");
        EXPECT_FALSE(r.smtp_code);
        EXPECT_FALSE(r.is_catch_all);
        EXPECT_EQ(r.smtp_message, "(provider: Slowpoke - holds probers' connections without answering; not probed)");
        EXPECT_TRUE(item.network_answered);  // DNS answered: a final verdict
    }
    EXPECT_EQ(smtp->connections(), 0);
    EXPECT_EQ(stats.sessions_opened, 0);
}

TEST_F(ProviderEngineTest, OneRecipientPerTransactionProvokesNo452) {
    fake::publish_mail_domain(dns, "outlook-replica.test");
    start_smtp([](SmtpPeer& peer) {
        peer.send("220 mx ESMTP\r\n");
        int in_transaction = 0;
        while (auto line = peer.read_line()) {
            std::string verb = line->substr(0, 4);
            if (verb == "EHLO") peer.send("250-mx\r\n250 PIPELINING\r\n");
            if (verb == "MAIL" || verb == "RSET") {
                in_transaction = 0;
                peer.send(verb == "MAIL" ? "250 2.1.0 Ok\r\n" : "250 2.0.0 Ok\r\n");
            }
            if (verb == "RCPT") {
                std::string local = local_of(fake::rcpt_address(*line));
                if (++in_transaction > 1) peer.send("452 4.5.3 Recipients belong to multiple regions\r\n");
                else if (local == "alice" || local == "bob") peer.send("250 2.1.5 Recipient OK\r\n");
                else peer.send("550 5.5.0 Requested action not taken: mailbox unavailable\r\n");
            }
            if (verb == "QUIT") {
                peer.leave();
                peer.send("221 Bye\r\n");
                return;
            }
        }
    });
    provider_for("outlook-replica.test", ProviderBehaviour::ThrottlesRcpt, "Outlook.com");
    auto items = run({"alice@outlook-replica.test", "bob@outlook-replica.test", "ghost@outlook-replica.test"});
    EXPECT_EQ(items[0].result.reason, Reason::Accepted);
    EXPECT_EQ(items[0].result.is_catch_all, false);  // the random probe was refused, in a transaction of its own
    EXPECT_EQ(items[1].result.reason, Reason::Accepted);
    EXPECT_EQ(items[2].result.reason, Reason::MailboxNotFound);
    ASSERT_TRUE(items[2].result.smtp_message);
    EXPECT_NE(items[2].result.smtp_message->find("mailbox unavailable (provider: Outlook.com - answers one recipient"),
              std::string::npos)
        << *items[2].result.smtp_message;
    // Each RCPT had a transaction of its own from the start.
    EXPECT_EQ(smtp->received_starting("RCPT").size(), 4u);
    EXPECT_EQ(smtp->received_starting("MAIL").size(), 4u);
}

TEST_F(ProviderEngineTest, PerDomainProviderTrustsAcceptanceOnlyWhereTheDomainRefusedTheProbe) {
    // One tenant refuses unknown recipients (DBEB), one accepts anything, one
    // answers the random probe with a temporary error.
    for (const char* domain : {"dbeb.test", "open.test", "flaky.test"}) fake::publish_mail_domain(dns, domain);
    start_mta([](const std::string& r) -> std::string {
        std::string domain = r.substr(r.find('@') + 1);
        std::string local = local_of(r);
        if (local == "alice" || domain == "open.test") return "250 2.1.5 Recipient OK";
        if (domain == "flaky.test") return "451 4.4.4 Temporary server error. Please try again later";
        return "550 5.4.1 Recipient address rejected: Access denied";
    });
    auto rules = std::make_shared<ev::prober::ProviderRules>();
    ASSERT_TRUE(
        rules->add("Microsoft 365", ProviderBehaviour::PerDomain, {"mx.dbeb.test", "mx.open.test", "mx.flaky.test"}));
    settings.providers = rules;
    auto items = run({"alice@dbeb.test", "ghost@dbeb.test", "alice@open.test", "alice@flaky.test"});
    EXPECT_EQ(items[0].result.reason, Reason::Accepted);
    EXPECT_EQ(items[0].result.is_catch_all, false);
    EXPECT_EQ(items[1].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(items[2].result.reason, Reason::CatchAll);
    EXPECT_EQ(items[2].result.is_catch_all, true);
    EXPECT_EQ(items[3].result.status, Status::Unknown);  // acceptance proves nothing there yet
    EXPECT_EQ(items[3].result.reason, Reason::TemporaryFailure);
    EXPECT_EQ(items[3].result.smtp_code, 250);
    EXPECT_FALSE(items[3].result.is_catch_all);
    for (const auto& item : items) {
        ASSERT_TRUE(item.result.smtp_message);
        EXPECT_NE(item.result.smtp_message->find("(provider: Microsoft 365 - each hosted domain decides"),
                  std::string::npos);
    }
}

TEST_F(ProviderEngineTest, RevealingProviderKeepsTheVerdictAndNamesItself) {
    fake::publish_mail_domain(dns, "google-replica.test");
    fake::publish_mail_domain(dns, "other.test");
    start_mta([](const std::string& r) -> std::string {
        if (local_of(r) == "alice") return "250 2.1.5 OK";
        return "550 5.1.1 The email account that you tried to reach does not exist.";
    });
    provider_for("google-replica.test", ProviderBehaviour::RevealsMailboxes, "Google");
    auto items = run({"alice@google-replica.test", "ghost@google-replica.test", "alice@other.test"});
    EXPECT_EQ(items[0].result.reason, Reason::Accepted);
    EXPECT_EQ(items[0].result.smtp_message, "2.1.5 OK (provider: Google - refuses unknown recipients at RCPT)");
    EXPECT_EQ(items[1].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(items[2].result.reason, Reason::Accepted);
    EXPECT_EQ(items[2].result.smtp_message, "2.1.5 OK");  // no provider there
    EXPECT_EQ(stats.catch_all_probes, 2);
}

TEST_F(ProviderEngineTest, LevelDnsIsUntouched) {
    fake::publish_mail_domain(dns, "yahoo-replica.test");
    provider_for("yahoo-replica.test", ProviderBehaviour::Tarpits);
    auto items = run({"alice@yahoo-replica.test"}, Level::Dns);
    EXPECT_EQ(items[0].result.reason, Reason::DomainOk);
    EXPECT_FALSE(items[0].result.smtp_message);
}
