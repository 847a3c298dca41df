// prober::StreamVerifier, the rolling window of the external prober: inputs
// submitted while earlier ones are still being probed settle as they are
// reached (a slow domain holds back only its own), each exactly once, with
// the batch verifier's verdicts; one engine keeps its sessions and hosts
// from one submission to the next.
#include "prober/stream_verifier.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_smtp_server.h"
#include "probe_world.h"

using ev::Level;
using ev::Reason;
using ev::prober::StreamVerifier;
using ev::prober::Verdict;
using ev::test::FakeSmtpServer;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

class StreamVerifierTest : public ::testing::Test {
  protected:
    StreamVerifierTest() {
        settings.probe = fake::loopback_settings(dns, 25);
        fake::MtaBehaviour mta;
        mta.rcpt = [](const std::string& r) {
            if (r.rfind("alice@", 0) == 0) return std::string("250 2.1.5 Ok");
            return std::string("550 5.1.1 User unknown");
        };
        smtp = std::make_unique<FakeSmtpServer>(fake::mta_script(mta));
        settings.probe.smtp_port = smtp->port();
        fake::publish_mail_domain(dns, "strict.test");
    }

    std::unique_ptr<StreamVerifier> make() {
        return std::make_unique<StreamVerifier>(
            fake::small_lists(), fake::no_suggestions(), caches, settings,
            [this](std::uint64_t ticket, const Verdict& v) {
                ++times[ticket];
                ready[ticket] = v;
                order.push_back(ticket);
            },
            [this](std::uint64_t ticket) {
                EXPECT_EQ(ready.count(ticket), 1u) << "released before it was ready: " << ticket;
                ++released[ticket];
            });
    }

    // Runs until nothing is open, at most `limit`.
    static void drain(StreamVerifier& s, std::chrono::milliseconds limit = 5000ms) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (s.open() > 0 && std::chrono::steady_clock::now() < until) s.run_for(50ms, nullptr);
    }

    // Runs until nothing is left to do (sessions closed, everything released).
    static void settle_all(StreamVerifier& s, std::chrono::milliseconds limit = 5000ms) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (s.busy() && std::chrono::steady_clock::now() < until) s.run_for(50ms, nullptr);
    }

    fake::FakeDnsServer dns;
    std::unique_ptr<FakeSmtpServer> smtp;
    ev::prober::VerifierSettings settings;
    ev::prober::ProberCaches caches;
    std::map<std::uint64_t, Verdict> ready;
    std::map<std::uint64_t, int> times;
    std::map<std::uint64_t, int> released;
    std::vector<std::uint64_t> order;
};

}  // namespace

TEST_F(StreamVerifierTest, WhatNeedsNoProbeIsReadyAtOnce) {
    auto s = make();
    s->submit(1, "bad@@x.test", Level::Smtp);
    s->submit(2, "alice@strict.test", Level::Syntax);
    EXPECT_EQ(s->open(), 0u);
    ASSERT_EQ(ready.size(), 2u);
    EXPECT_EQ(ready[1].result.reason, Reason::Syntax);
    EXPECT_TRUE(ready[1].final);
    EXPECT_EQ(ready[2].result.reason, Reason::SyntaxOk);
}

TEST_F(StreamVerifierTest, SubmissionsWhileProbingSettleEachOnce) {
    auto s = make();
    s->submit(1, "alice@strict.test", Level::Smtp);
    s->submit(2, "bob@strict.test", Level::Smtp);
    EXPECT_EQ(s->open(), 2u);
    s->run_for(20ms, nullptr);
    // More of the same domain, and a dns-level one, while the first are out.
    s->submit(3, "alice@strict.test", Level::Smtp);
    s->submit(4, "carol@strict.test", Level::Smtp);
    s->submit(5, "alice@strict.test", Level::Dns);
    drain(*s);
    EXPECT_EQ(s->open(), 0u);
    ASSERT_EQ(ready.size(), 5u);
    for (auto& [ticket, n] : times) EXPECT_EQ(n, 1) << ticket;
    EXPECT_EQ(ready[1].result.reason, Reason::Accepted);
    EXPECT_EQ(ready[2].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(ready[3].result.reason, Reason::Accepted);
    EXPECT_EQ(ready[4].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(ready[5].result.reason, Reason::DomainOk);
    EXPECT_EQ(ready[5].result.level, Level::Dns);
    EXPECT_TRUE(ready[1].final);
    s->close(nullptr);
}

// A domain that never answers holds back only its own items: what comes
// after it is ready long before its lookup times out.
TEST_F(StreamVerifierTest, ASlowDomainHoldsBackOnlyItsOwn) {
    dns.set("silent.test", fake::kTypeMx, fake::silent_answer());
    auto s = make();
    s->submit(1, "alice@silent.test", Level::Dns);
    s->run_for(20ms, nullptr);
    s->submit(2, "alice@strict.test", Level::Smtp);
    auto until = std::chrono::steady_clock::now() + 5s;
    while (ready.count(2) == 0 && std::chrono::steady_clock::now() < until) s->run_for(20ms, nullptr);
    EXPECT_EQ(ready.count(2), 1u);
    EXPECT_EQ(ready.count(1), 0u);
    drain(*s, 10000ms);
    ASSERT_EQ(ready.count(1), 1u);
    EXPECT_EQ(ready[1].result.reason, Reason::DnsError);
    EXPECT_FALSE(ready[1].final) << ev::to_string(ready[1].result.reason);
    EXPECT_EQ(order.front(), 2u);
}

// The stream's engine remembers that a domain is not catch-all: a second
// submission of the same domain sends no second catch-all probe.
TEST_F(StreamVerifierTest, ANotCatchAllDomainIsNotProbedAgain) {
    auto s = make();
    s->submit(1, "alice@strict.test", Level::Smtp);
    drain(*s);
    auto probes = s->stats().catch_all_probes;
    s->submit(2, "bob@strict.test", Level::Smtp);
    drain(*s);
    EXPECT_EQ(s->stats().catch_all_probes, probes);
    EXPECT_EQ(ready[2].result.reason, Reason::MailboxNotFound);
    EXPECT_EQ(ready[2].result.is_catch_all, false);
}

TEST_F(StreamVerifierTest, CachedVerdictsAreReused) {
    auto s = make();
    s->submit(1, "alice@strict.test", Level::Smtp);
    drain(*s);
    s->submit(2, "alice@strict.test", Level::Smtp);
    EXPECT_EQ(s->open(), 0u);
    ASSERT_EQ(ready.count(2), 1u);
    EXPECT_TRUE(ready[2].result.from_cache);
    EXPECT_EQ(ready[2].result.reason, Reason::Accepted);
}

// A host that closes at the greeting: every item of its domain, however it
// came in (with the first, while it was failing, after it failed), is a
// temporary failure, never a domain without a mail server.
TEST_F(StreamVerifierTest, AHostThatFailsFailsEveryItemOfItsDomain) {
    FakeSmtpServer closing([](fake::SmtpPeer& peer) { peer.send("421 4.3.2 Service not available\r\n"); });
    settings.probe.smtp_port = closing.port();
    auto s = make();
    for (std::uint64_t t = 1; t <= 5; ++t) s->submit(t, "u" + std::to_string(t) + "@strict.test", Level::Smtp);
    s->run_for(5ms, nullptr);
    for (std::uint64_t t = 6; t <= 10; ++t) s->submit(t, "u" + std::to_string(t) + "@strict.test", Level::Smtp);
    drain(*s);
    for (std::uint64_t t = 11; t <= 15; ++t) s->submit(t, "u" + std::to_string(t) + "@strict.test", Level::Smtp);
    drain(*s);
    ASSERT_EQ(ready.size(), 15u);
    for (auto& [ticket, v] : ready) {
        EXPECT_EQ(v.result.reason, Reason::TemporaryFailure) << ticket << " " << ev::to_string(v.result.reason);
        EXPECT_FALSE(v.final) << ticket;
    }
}

// A domain whose host failed while the domain's own route was being looked
// up: its tasks end as they are made, and none of its items may settle
// before every task exists (it would read as a domain without mail server).
TEST_F(StreamVerifierTest, ItemsOfADomainWhoseHostFailedMeanwhile) {
    FakeSmtpServer closing([](fake::SmtpPeer& peer) { peer.send("421 4.3.2 Service not available\r\n"); });
    settings.probe.smtp_port = closing.port();
    // slow.test's first MX query goes unanswered (c-ares asks again after
    // 200 ms); its MX is strict.test's host.
    dns.set("slow.test", fake::kTypeMx, fake::silent_answer());
    auto s = make();
    s->submit(1, "a@slow.test", Level::Smtp);
    s->submit(2, "b@slow.test", Level::Smtp);
    s->submit(3, "c@strict.test", Level::Smtp);
    auto until = std::chrono::steady_clock::now() + 2s;
    while (ready.count(3) == 0 && std::chrono::steady_clock::now() < until) s->run_for(10ms, nullptr);
    ASSERT_EQ(ready.count(3), 1u);  // the host has failed
    dns.set("slow.test", fake::kTypeMx, fake::mx_answer({{10, "mx.strict.test"}}));
    drain(*s);
    ASSERT_EQ(ready.size(), 3u);
    for (auto& [ticket, v] : ready)
        EXPECT_EQ(v.result.reason, Reason::TemporaryFailure) << ticket << " " << ev::to_string(v.result.reason);
}

// An item is released only once no session its domain's probes used is
// open: a server slow to answer QUIT keeps its domain's items unreleased
// after they are ready; what needed no probe is released with its verdict.
TEST_F(StreamVerifierTest, ItemsAreReleasedWhenTheirSessionsAreOver) {
    fake::MtaBehaviour mta;
    mta.rcpt = [](const std::string&) { return std::string("250 2.1.5 Ok"); };
    mta.quit_delay = 400ms;
    FakeSmtpServer slow_quit(fake::mta_script(mta));
    settings.probe.smtp_port = slow_quit.port();
    auto s = make();
    s->submit(1, "alice@strict.test", Level::Smtp);
    s->submit(2, "bad@@x.test", Level::Smtp);
    EXPECT_EQ(released.count(2), 1u);
    drain(*s);
    ASSERT_EQ(ready.count(1), 1u);
    EXPECT_EQ(released.count(1), 0u) << "released while its session was still saying QUIT";
    EXPECT_TRUE(s->busy());
    settle_all(*s);
    EXPECT_EQ(released[1], 1);
    EXPECT_FALSE(s->busy());
}

// Out of file descriptors here (EMFILE): nothing the host did. The item is
// deferred (put back, no attempt counted), never a connection_failed verdict.
TEST_F(StreamVerifierTest, NoSocketHereDefersTheItem) {
    auto s = make();
    // The domain's route is known first: the item then needs no DNS socket.
    s->submit(0, "alice@strict.test", Level::Smtp);
    settle_all(*s);
    // Every descriptor this process may open is taken (under a lowered limit).
    struct rlimit before {};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
    struct rlimit tight = before;
    tight.rlim_cur = 256;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    std::vector<int> hogs;
    for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && hogs.size() < 1024;) hogs.push_back(fd);
    s->submit(1, "bob@strict.test", Level::Smtp);
    s->run_for(200ms, nullptr);
    for (int fd : hogs) close(fd);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &before), 0);
    drain(*s);
    ASSERT_EQ(ready.count(1), 1u);
    EXPECT_TRUE(ready[1].deferred) << ev::to_string(ready[1].result.reason) << " "
                                   << ready[1].result.smtp_message.value_or("-");
    EXPECT_FALSE(ready[1].final) << ev::to_string(ready[1].result.reason);
    EXPECT_NE(ready[1].result.reason, Reason::ConnectionFailed);
    EXPECT_NE(ready[1].result.smtp_message.value_or("").find("no socket could be opened here"), std::string::npos)
        << ready[1].result.smtp_message.value_or("");
}

// A host that lets a session time out before its greeting is silent for a
// while (HostFacts::silent_until_ns, twice the reply timeout): items that
// come meanwhile end as timed out without a connection; after it, the host
// is tried again.
TEST_F(StreamVerifierTest, ASilentHostIsNotConnectedToAgainForAWhile) {
    FakeSmtpServer silent([](fake::SmtpPeer& peer) { peer.read_bytes(1, 3000ms); });
    settings.probe.smtp_port = silent.port();
    settings.probe.session.reply_timeout = 200ms;
    auto s = make();
    s->submit(1, "u1@strict.test", Level::Smtp);
    drain(*s);
    ASSERT_EQ(ready.count(1), 1u);
    EXPECT_EQ(ready[1].result.reason, Reason::Timeout);
    int connections = silent.connections();
    EXPECT_EQ(connections, 1);
    s->submit(2, "u2@strict.test", Level::Smtp);
    drain(*s);
    ASSERT_EQ(ready.count(2), 1u);
    EXPECT_EQ(ready[2].result.reason, Reason::Timeout);
    EXPECT_FALSE(ready[2].final);
    EXPECT_EQ(silent.connections(), connections) << "connected again while the host was known silent";
    std::this_thread::sleep_for(450ms);
    s->submit(3, "u3@strict.test", Level::Smtp);
    drain(*s);
    ASSERT_EQ(ready.count(3), 1u);
    EXPECT_EQ(ready[3].result.reason, Reason::Timeout);
    EXPECT_GT(silent.connections(), connections) << "the host was not tried again after a while";
}

// Silence is learned for probes that would wait no longer: one with a
// longer reply timeout connects for itself (a caller's short timeout must
// not make the others give up on a host).
TEST_F(StreamVerifierTest, SilenceTeachesNothingToAProbeThatWaitsLonger) {
    FakeSmtpServer silent([](fake::SmtpPeer& peer) { peer.read_bytes(1, 3000ms); });
    settings.probe.smtp_port = silent.port();
    settings.probe.session.reply_timeout = 200ms;
    auto quick = make();
    quick->submit(1, "u1@strict.test", Level::Smtp);
    drain(*quick);
    ASSERT_EQ(ready.count(1), 1u);
    EXPECT_EQ(ready[1].result.reason, Reason::Timeout);
    int connections = silent.connections();
    settings.probe.session.reply_timeout = 400ms;
    auto patient = make();
    patient->submit(2, "u2@strict.test", Level::Smtp);
    drain(*patient);
    ASSERT_EQ(ready.count(2), 1u);
    EXPECT_EQ(ready[2].result.reason, Reason::Timeout);
    EXPECT_GT(silent.connections(), connections) << "a longer-waiting probe took a shorter one's silence";
}

// A session we closed before the server answered QUIT keeps its slot for
// twice reply_timeout (the server counts it until it notices): its domain's
// items are released only then, not as the socket closes.
TEST_F(StreamVerifierTest, ASessionWeHungUpOnKeepsItsSlotAMoment) {
    fake::MtaBehaviour mta;
    mta.rcpt = [](const std::string&) { return std::string("250 2.1.5 Ok"); };
    mta.quit_delay = 3000ms;
    FakeSmtpServer mute_quit(fake::mta_script(mta));
    settings.probe.smtp_port = mute_quit.port();
    settings.probe.session.reply_timeout = 200ms;
    auto s = make();
    s->submit(1, "alice@strict.test", Level::Smtp);
    drain(*s);
    ASSERT_EQ(ready.count(1), 1u);
    auto ready_at = std::chrono::steady_clock::now();
    settle_all(*s);
    ASSERT_EQ(released[1], 1);
    EXPECT_GE(std::chrono::steady_clock::now() - ready_at, 350ms) << "released as soon as we hung up";
}
