// Politeness shared by probers (prober/host_permits.h): the rate cell, the
// MX rollup, and engines that share one set of permits, as the backends and
// workers of a server share its shared memory.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_smtp_server.h"
#include "probe_world.h"
#include "prober/engine.h"
#include "prober/host_permits.h"
#include "syntax_verifier.h"

using ev::Level;
using ev::Reason;
using ev::prober::Admission;
using ev::prober::HostFacts;
using ev::prober::PolitenessLimits;
using ev::prober::RateCell;
using ev::prober::SteadyTime;
using ev::test::FakeSmtpServer;
using ev::test::MtaBehaviour;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

constexpr std::int64_t kSecond = 1000LL * 1000 * 1000;

// Events taken in [0, seconds) when asking every millisecond.
int events_in(int per_minute, int seconds) {
    RateCell cell;
    int taken = 0;
    for (std::int64_t t = 0; t < seconds * kSecond; t += kSecond / 1000)
        if (ev::prober::take_rate_token(cell, t, per_minute) == 0) ++taken;
    return taken;
}

// The permits of "the server": one set, taken by engines in other threads.
class SharedPermits : public ev::prober::HostPermits {
  public:
    Admission open_session(const ev::prober::SessionTarget& target, const PolitenessLimits& limits,
                           SteadyTime now) override {
        std::lock_guard<std::mutex> lock(mutex_);
        return inner_.open_session(target, limits, now);
    }
    void close_session(const ev::prober::SessionTarget& target) override {
        std::lock_guard<std::mutex> lock(mutex_);
        inner_.close_session(target);
    }
    Admission send_rcpt(const std::string& site, const PolitenessLimits& limits, SteadyTime now) override {
        std::lock_guard<std::mutex> lock(mutex_);
        return inner_.send_rcpt(site, limits, now);
    }
    HostFacts facts(const std::string& server) override {
        std::lock_guard<std::mutex> lock(mutex_);
        return inner_.facts(server);
    }
    void learn(const std::string& server, const HostFacts& facts) override {
        std::lock_guard<std::mutex> lock(mutex_);
        inner_.learn(server, facts);
    }
    int open_sessions(const std::string& site) {
        std::lock_guard<std::mutex> lock(mutex_);
        return inner_.open_sessions(site);
    }

  private:
    std::mutex mutex_;
    ev::prober::LocalHostPermits inner_;
};

// Knows the tests' short local parts, not the catch-all probe's 16 characters.
MtaBehaviour accepting_mta(std::chrono::milliseconds rcpt_delay) {
    MtaBehaviour mta;
    mta.rcpt = [](const std::string& recipient) {
        return std::string(recipient.find('@') < 10 ? "250 2.1.5 Ok" : "550 5.1.1 User unknown");
    };
    mta.rcpt_delay = rcpt_delay;
    return mta;
}

class PolitenessTest : public ::testing::Test {
  protected:
    PolitenessTest() {
        settings = fake::loopback_settings(dns, 25);
        fake::publish_mail_domain(dns, "one.test");
    }

    void start_smtp(fake::SmtpScript script) {
        smtp = std::make_unique<FakeSmtpServer>(std::move(script));
        settings.smtp_port = smtp->port();
    }

    // One prober: its own caches, the shared permits.
    std::vector<ev::OfflineFindings> probe(const std::vector<std::string>& inputs) {
        ev::SyntaxVerifier examiner(fake::small_lists(), fake::no_suggestions());
        std::vector<ev::OfflineFindings> items;
        for (const auto& input : inputs) items.push_back(examiner.examine(input, {}));
        ev::prober::ProberCaches caches;
        caches.permits = &permits;
        ev::prober::Engine engine(settings, caches);
        engine.run(items, Level::Smtp, nullptr);
        return items;
    }

    static std::vector<std::string> addresses(int count, const std::string& prefix) {
        std::vector<std::string> out;
        for (int i = 0; i < count; ++i) out.push_back(prefix + std::to_string(i) + "@one.test");
        return out;
    }

    fake::FakeDnsServer dns;
    std::unique_ptr<FakeSmtpServer> smtp;
    ev::prober::ProbeSettings settings;
    SharedPermits permits;
};

}  // namespace

TEST(RateCell, HoldsTheRateAndNoBurstAboveTheBucket) {
    // 600 a minute: 10 a second; after a quiet start, at most a second's
    // share back to back.
    EXPECT_EQ(ev::prober::rate_burst(600), 10);
    int in_ten_seconds = events_in(600, 10);
    EXPECT_GE(in_ten_seconds, 100);
    EXPECT_LE(in_ten_seconds, 100 + 10);
    RateCell cell;
    int back_to_back = 0;
    while (ev::prober::take_rate_token(cell, kSecond, 600) == 0) ++back_to_back;
    EXPECT_EQ(back_to_back, 10);
    // The refusal says when the next one is due: 60 s / 591 on (the burst
    // counts against the minute: never more than 600 in any 60 s).
    EXPECT_EQ(ev::prober::take_rate_token(cell, kSecond, 600), 60 * kSecond / 591);
}

TEST(RateCell, NeverMoreThanTheRateInAnyMinute) {
    // 120 a minute, burst 2: a busy sender gets at most 120 into any 60 s.
    for (int per_minute : {5, 30, 120, 600}) {
        RateCell cell;
        std::vector<std::int64_t> taken;
        for (std::int64_t t = 0; t < 180 * kSecond; t += kSecond / 100)
            if (ev::prober::take_rate_token(cell, t, per_minute) == 0) taken.push_back(t);
        std::size_t most = 0;
        for (std::size_t i = 0, j = 0; j < taken.size(); ++j) {
            while (taken[j] - taken[i] >= 60 * kSecond) ++i;
            most = std::max(most, j - i + 1);
        }
        EXPECT_LE(most, static_cast<std::size_t>(per_minute)) << per_minute;
        EXPECT_GE(most, static_cast<std::size_t>(per_minute) - 1) << per_minute;
    }
}

TEST(RateCell, WithoutBurstsOneAnInterval) {
    RateCell cell;
    EXPECT_EQ(ev::prober::take_rate_token(cell, kSecond, 600, false), 0);
    EXPECT_GT(ev::prober::take_rate_token(cell, kSecond, 600, false), 0);
    // Long idle: still one, not a burst.
    EXPECT_EQ(ev::prober::take_rate_token(cell, 100 * kSecond, 600, false), 0);
    EXPECT_GT(ev::prober::take_rate_token(cell, 100 * kSecond, 600, false), 0);
}

TEST(RateCell, ZeroIsUnlimitedAndSlowRatesTakeOneAtATime) {
    EXPECT_EQ(events_in(0, 1), 1000);
    EXPECT_EQ(ev::prober::rate_burst(5), 1);
    EXPECT_EQ(events_in(5, 30), 3);  // at 0 s, 12 s and 24 s
}

TEST(Site, IsTheSortedLowerCaseMxSet) {
    EXPECT_EQ(ev::prober::site_of({"MX2.example.test.", "mx1.example.test", "mx1.example.test"}),
              "mx1.example.test,mx2.example.test");
    EXPECT_EQ(ev::prober::site_of({"aspmx.l.google.com"}), ev::prober::site_of({"ASPMX.L.GOOGLE.COM"}));
}

TEST(LocalHostPermits, SessionSlotsPerSitePerAddressAndInAll) {
    ev::prober::LocalHostPermits permits;
    PolitenessLimits limits;
    limits.max_connections_per_host = 2;
    limits.max_connections = 4;
    auto now = std::chrono::steady_clock::now();
    ev::prober::SessionTarget a1{"a", "10.0.0.1:25"}, a2{"a", "10.0.0.2:25"}, b1{"b", "10.0.0.1:25"},
        c3{"c", "10.0.0.3:25"}, d4{"d", "10.0.0.4:25"};
    EXPECT_TRUE(permits.open_session(a1, limits, now).granted);
    EXPECT_TRUE(permits.open_session(a2, limits, now).granted);
    Admission third = permits.open_session(a1, limits, now);  // the site's cap
    EXPECT_FALSE(third.granted);
    EXPECT_GT(third.retry_at, now);
    EXPECT_TRUE(permits.open_session(b1, limits, now).granted);
    EXPECT_FALSE(permits.open_session(b1, limits, now).granted);  // the address's cap (a and b share it)
    EXPECT_TRUE(permits.open_session(c3, limits, now).granted);
    EXPECT_FALSE(permits.open_session(d4, limits, now).granted);  // the global cap
    permits.close_session(a1);
    EXPECT_TRUE(permits.open_session(d4, limits, now).granted);
    EXPECT_EQ(permits.open_sessions("a"), 1);
    EXPECT_EQ(permits.open_sessions("10.0.0.1:25"), 1);
}

TEST(LocalHostPermits, SessionRateRefusesWithTheMomentToAskAgain) {
    ev::prober::LocalHostPermits permits;
    PolitenessLimits limits;
    limits.host_session_rate = 6;  // one each 10 s
    auto now = std::chrono::steady_clock::now();
    ev::prober::SessionTarget a{"a", "10.0.0.1:25"};
    EXPECT_TRUE(permits.open_session(a, limits, now).granted);
    permits.close_session(a);
    Admission next = permits.open_session(a, limits, now + 1s);
    EXPECT_FALSE(next.granted);
    EXPECT_EQ(next.retry_at, now + 10s);
    EXPECT_EQ(permits.open_sessions("a"), 0);  // a refused session holds no slot
}

// Four probers at once, one MX host: the host never sees more than the
// server's limit, and every verdict is right.
TEST_F(PolitenessTest, ConcurrentProbersShareTheConnectionLimit) {
    start_smtp(fake::mta_script(accepting_mta(5ms)));
    settings.politeness.max_connections_per_host = 2;
    settings.recipients_per_extra_session = 1;
    std::vector<std::thread> probers;
    std::mutex mutex;
    int accepted = 0;
    for (int p = 0; p < 4; ++p)
        probers.emplace_back([&, p] {
            auto items = probe(addresses(10, "p" + std::to_string(p) + "u"));
            std::lock_guard<std::mutex> lock(mutex);
            for (const auto& item : items) accepted += item.result.reason == Reason::Accepted;
        });
    for (auto& t : probers) t.join();
    EXPECT_EQ(accepted, 40);
    EXPECT_LE(smtp->max_concurrent(), 2);
    EXPECT_EQ(permits.open_sessions("mx.one.test"), 0);  // every slot given back
}

// 600 RCPTs a minute with a burst of 10: 30 recipients take about 2 s.
TEST_F(PolitenessTest, RcptRateSpacesRecipientsWithoutEndingTheSession) {
    start_smtp(fake::mta_script(accepting_mta(0ms)));
    settings.politeness.host_rcpt_rate = 600;
    settings.politeness.max_connections_per_host = 1;
    auto started = std::chrono::steady_clock::now();
    auto items = probe(addresses(30, "r"));
    auto took = std::chrono::steady_clock::now() - started;
    for (const auto& item : items)
        EXPECT_EQ(item.result.reason, Reason::Accepted) << item.result.email << " " << ev::to_string(item.result.reason)
                                                        << " " << item.result.smtp_message.value_or("");
    // 31 RCPTs (the catch-all probe too): 10 at once, then one each 100 ms.
    EXPECT_GE(took, 1900ms);
    EXPECT_LE(took, 4000ms);
    EXPECT_EQ(smtp->connections(), 1);  // the session idled, it did not reconnect
}

// Another prober holds the only slot past permit_wait: the recipients end
// unprobed, deferred, as timeouts that say why.
TEST_F(PolitenessTest, ASpentBudgetDefersAfterPermitWait) {
    start_smtp(fake::mta_script(accepting_mta(0ms)));
    settings.politeness.max_connections_per_host = 1;
    settings.permit_wait = 300ms;
    PolitenessLimits limits = settings.politeness;
    ev::prober::SessionTarget held{"mx.one.test", smtp->endpoint().text()};
    ASSERT_TRUE(permits.open_session(held, limits, std::chrono::steady_clock::now()).granted);
    auto started = std::chrono::steady_clock::now();
    auto items = probe(addresses(3, "d"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    for (const auto& item : items) {
        EXPECT_TRUE(item.deferred);
        EXPECT_EQ(item.result.reason, Reason::Timeout);
        EXPECT_NE(item.result.smtp_message.value_or("").find("politeness budget"), std::string::npos);
    }
    EXPECT_EQ(smtp->connections(), 0);
    permits.close_session(held);
}

// What one prober learned about a server is every prober's starting point.
TEST_F(PolitenessTest, LearnedFactsAreShared) {
    start_smtp(fake::mta_script(accepting_mta(0ms)));
    EXPECT_FALSE(permits.facts(smtp->endpoint().text()).pipelining);
    probe(addresses(2, "f"));
    EXPECT_TRUE(permits.facts(smtp->endpoint().text()).pipelining);
}

namespace {

using ev::prober::HealthRecord;
using ev::prober::NetworkState;
using ev::prober::SessionOutcome;

}  // namespace

TEST(NetworkHealth, TenDistinctHostsOfDistinctSitesWithoutASuccessIsBlocked) {
    HealthRecord r;
    std::int64_t t = 1;
    for (std::uint64_t i = 1; i <= 2; ++i) ev::prober::note_session(r, i, i, SessionOutcome::ConnectTimeout, t++);
    EXPECT_EQ(r.state, NetworkState::Ok);
    ev::prober::note_session(r, 3, 3, SessionOutcome::ConnectTimeout, t++);
    EXPECT_EQ(r.state, NetworkState::Degraded);
    // One site's hosts, or one host under many sites, count once.
    for (int i = 0; i < 20; ++i) ev::prober::note_session(r, 3, 100 + i, SessionOutcome::ConnectRefused, t++);
    for (int i = 0; i < 20; ++i) ev::prober::note_session(r, 200 + i, 3, SessionOutcome::ConnectRefused, t++);
    EXPECT_EQ(r.state, NetworkState::Degraded);
    // Failures that say nothing of our network do not count.
    ev::prober::note_session(r, 50, 50, SessionOutcome::Other, t++);
    for (std::uint64_t i = 4; i <= 9; ++i) ev::prober::note_session(r, i, i, SessionOutcome::Blocklisted, t++);
    EXPECT_EQ(r.state, NetworkState::Degraded);
    EXPECT_FALSE(r.warning_due);
    ev::prober::note_session(r, 10, 10, SessionOutcome::ConnectTimeout, t++);
    EXPECT_EQ(r.state, NetworkState::Blocked);
    EXPECT_TRUE(r.warning_due);
    EXPECT_NE(ev::prober::health_evidence(r, t).find("10 MX hosts of distinct domains failed"), std::string::npos);
    // One session that gets through is enough.
    ev::prober::note_session(r, 11, 11, SessionOutcome::GotThrough, t++);
    EXPECT_EQ(r.state, NetworkState::Ok);
    EXPECT_EQ(r.failing, 0);
}
