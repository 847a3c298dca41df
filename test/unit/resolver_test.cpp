// dns::Resolver and dns::RouteResolver against the in-process DNS server:
// MX, null MX, A/AAAA, NXDOMAIN and no-data with their SOA TTLs, SERVFAIL,
// REFUSED, no answer at all, answers with a wrong id, truncated answers
// completed over TCP (or not), and how routes are built and cached.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dns/mail_route.h"
#include "dns/resolver.h"
#include "fake_dns_server.h"
#include "net/event_loop.h"

using ev::dns::AddressAnswer;
using ev::dns::DnsStatus;
using ev::dns::MailRoute;
using ev::dns::MxAnswer;
using ev::dns::RouteOutcome;
using ev::test::FakeDnsServer;
using namespace std::chrono_literals;
namespace fake = ev::test;

namespace {

class ResolverTest : public ::testing::Test {
  protected:
    ResolverTest() {
        config.servers = dns.servers();
        config.timeout = 200ms;
        config.tries = 2;
    }

    ev::dns::Resolver& resolver() {
        if (!resolver_) resolver_ = std::make_unique<ev::dns::Resolver>(loop, config);
        return *resolver_;
    }

    // Runs the loop until done() or 5 s; returns how long it took.
    template <typename Done>
    std::chrono::milliseconds run_until(Done done) {
        auto started = std::chrono::steady_clock::now();
        while (!done() && std::chrono::steady_clock::now() - started < 5s) loop.run_once(20ms);
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    }

    MxAnswer mx(const std::string& name) {
        std::optional<MxAnswer> got;
        resolver().lookup_mx(name, [&](MxAnswer a) { got = std::move(a); });
        last_took = run_until([&] { return got.has_value(); });
        EXPECT_TRUE(got) << name;
        return got.value_or(MxAnswer{});
    }

    AddressAnswer addresses(const std::string& name, int family) {
        std::optional<AddressAnswer> got;
        resolver().lookup_addresses(name, family, [&](AddressAnswer a) { got = std::move(a); });
        last_took = run_until([&] { return got.has_value(); });
        EXPECT_TRUE(got) << name;
        return got.value_or(AddressAnswer{});
    }

    std::shared_ptr<const MailRoute> route(const std::string& domain) {
        if (!routes_) routes_ = std::make_unique<ev::dns::RouteResolver>(resolver(), cache, options);
        std::shared_ptr<const MailRoute> got;
        routes_->resolve(domain, [&](std::shared_ptr<const MailRoute> r) { got = std::move(r); });
        run_until([&] { return got != nullptr; });
        EXPECT_TRUE(got) << domain;
        return got ? got : std::make_shared<MailRoute>();
    }

    FakeDnsServer dns;
    ev::net::EventLoop loop;
    ev::dns::ResolverConfig config;
    ev::dns::RouteCache cache;
    ev::dns::RouteOptions options;
    std::chrono::milliseconds last_took{0};

  private:
    std::unique_ptr<ev::dns::Resolver> resolver_;
    std::unique_ptr<ev::dns::RouteResolver> routes_;
};

}  // namespace

TEST_F(ResolverTest, MxRecordsWithTheirPreferencesAndTtl) {
    dns.set("a.test", fake::kTypeMx, fake::mx_answer({{20, "mx2.a.test"}, {10, "mx1.a.test"}}, 120));
    MxAnswer a = mx("a.test");
    EXPECT_EQ(a.status, DnsStatus::Ok);
    ASSERT_EQ(a.records.size(), 2u);
    EXPECT_EQ(a.records[0].preference, 20);
    EXPECT_EQ(a.records[0].exchange, "mx2.a.test");
    EXPECT_EQ(a.records[1].exchange, "mx1.a.test");
    EXPECT_EQ(a.ttl, 120u);
    EXPECT_EQ(dns.queries("a.test", fake::kTypeMx), 1);
}

TEST_F(ResolverTest, NullMxHasAnEmptyExchange) {
    dns.set("null.test", fake::kTypeMx, fake::mx_answer({{0, ""}}));
    MxAnswer a = mx("null.test");
    EXPECT_EQ(a.status, DnsStatus::Ok);
    ASSERT_EQ(a.records.size(), 1u);
    EXPECT_EQ(a.records[0].exchange, "");
}

TEST_F(ResolverTest, NegativeAnswersCarryTheSoaTtl) {
    MxAnswer missing = mx("missing.test");  // not in the table: NXDOMAIN, SOA TTL 30
    EXPECT_EQ(missing.status, DnsStatus::NxDomain);
    EXPECT_EQ(missing.ttl, 30u);
    dns.set("nodata.test", fake::kTypeMx, fake::negative_answer(fake::kNoError, 45));
    MxAnswer nodata = mx("nodata.test");
    EXPECT_EQ(nodata.status, DnsStatus::NoData);
    EXPECT_EQ(nodata.ttl, 45u);
}

// c-ares 1.18 retries SERVFAIL and REFUSED (another server, or the same one
// again) and, when every try got one, reports ARES_ECONNREFUSED: the status
// is then Error, not ServerFailure/Refused. Either way it is a failure, never
// an answer about the domain (the route says dns_error).
TEST_F(ResolverTest, ServerFailureAndRefusalAreRetriedThenFail) {
    dns.set("servfail.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    dns.set("refused.test", fake::kTypeMx, fake::failure_answer(fake::kRefused));
    for (const char* name : {"servfail.test", "refused.test"}) {
        MxAnswer a = mx(name);
        EXPECT_TRUE(a.status == DnsStatus::ServerFailure || a.status == DnsStatus::Refused ||
                    a.status == DnsStatus::Error)
            << name << ": " << ev::dns::to_string(a.status);
        EXPECT_TRUE(a.records.empty()) << name;
        EXPECT_EQ(dns.queries(name, fake::kTypeMx), config.tries) << name;
        EXPECT_LT(last_took, 1000ms) << name;  // answered, not timed out
    }
}

TEST_F(ResolverTest, ServerFailureMovesOnToTheNextServer) {
    FakeDnsServer second;
    dns.set("a.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    second.set("a.test", fake::kTypeMx, fake::mx_answer({{10, "mx.a.test"}}));
    config.servers = dns.servers() + "," + second.servers();
    MxAnswer a = mx("a.test");
    EXPECT_EQ(a.status, DnsStatus::Ok);
    EXPECT_EQ(dns.queries("a.test", fake::kTypeMx), 1);
    EXPECT_EQ(second.queries("a.test", fake::kTypeMx), 1);
}

TEST_F(ResolverTest, NoAnswerTimesOutAfterItsTries) {
    dns.set("silent.test", fake::kTypeMx, fake::silent_answer());
    MxAnswer a = mx("silent.test");
    EXPECT_EQ(a.status, DnsStatus::Timeout);
    EXPECT_EQ(dns.queries("silent.test", fake::kTypeMx), 2);
    EXPECT_GE(last_took, 200ms);
    EXPECT_LT(last_took, 2000ms);
}

TEST_F(ResolverTest, AnAnswerWithTheWrongIdIsIgnored) {
    dns.set("spoof.test", fake::kTypeMx, [] {
        auto a = fake::mx_answer({{10, "evil.test"}});
        a.mode = fake::DnsAnswer::Mode::WrongId;
        return a;
    }());
    MxAnswer a = mx("spoof.test");
    EXPECT_EQ(a.status, DnsStatus::Timeout);
    EXPECT_TRUE(a.records.empty());
}

TEST_F(ResolverTest, TruncatedAnswerIsCompletedOverTcp) {
    std::vector<std::pair<int, std::string>> many;
    for (int i = 0; i < 30; ++i) many.emplace_back(i, "mx" + std::to_string(i) + ".big.test");
    auto answer = fake::mx_answer(many);
    answer.mode = fake::DnsAnswer::Mode::Truncate;
    dns.set("big.test", fake::kTypeMx, answer);
    MxAnswer a = mx("big.test");
    EXPECT_EQ(a.status, DnsStatus::Ok);
    EXPECT_EQ(a.records.size(), 30u);
    EXPECT_GE(dns.tcp_queries(), 1);
}

TEST_F(ResolverTest, TruncatedAnswerWithoutTcpFailsInBoundedTime) {
    auto answer = fake::mx_answer({{10, "mx.big.test"}});
    answer.mode = fake::DnsAnswer::Mode::Truncate;
    dns.set("big.test", fake::kTypeMx, answer);
    dns.serve_tcp(false);
    MxAnswer a = mx("big.test");
    EXPECT_NE(a.status, DnsStatus::Ok);
    EXPECT_NE(a.status, DnsStatus::NxDomain);
    EXPECT_LT(last_took, 3000ms);
}

TEST_F(ResolverTest, AddressesOfBothFamilies) {
    dns.set("mx.a.test", fake::kTypeA, fake::address_answer({"192.0.2.1", "192.0.2.2"}, 90));
    dns.set("mx.a.test", fake::kTypeAaaa, fake::address_answer({"2001:db8::1"}, 80));
    AddressAnswer v4 = addresses("mx.a.test", AF_INET);
    EXPECT_EQ(v4.status, DnsStatus::Ok);
    EXPECT_EQ(v4.ips, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
    EXPECT_EQ(v4.ttl, 90u);
    AddressAnswer v6 = addresses("mx.a.test", AF_INET6);
    EXPECT_EQ(v6.ips, (std::vector<std::string>{"2001:db8::1"}));
    EXPECT_EQ(addresses("nothing.test", AF_INET).status, DnsStatus::NxDomain);
}

TEST_F(ResolverTest, ManyLookupsInFlightAtOnce) {
    int answered = 0;
    for (int i = 0; i < 100; ++i) {
        std::string name = "d" + std::to_string(i) + ".test";
        dns.set(name, fake::kTypeMx, fake::mx_answer({{10, "mx." + name}}));
        resolver().lookup_mx(name, [&answered, name](const MxAnswer& a) {
            EXPECT_EQ(a.status, DnsStatus::Ok) << name;
            ++answered;
        });
    }
    EXPECT_EQ(resolver().in_flight(), 100u);
    run_until([&] { return answered == 100; });
    EXPECT_EQ(answered, 100);
    EXPECT_EQ(resolver().in_flight(), 0u);
}

TEST_F(ResolverTest, DestroyedWithQueriesOutCallsNobody) {
    dns.set("silent.test", fake::kTypeMx, fake::silent_answer());
    bool called = false;
    {
        ev::dns::Resolver local(loop, config);
        local.lookup_mx("silent.test", [&](const MxAnswer&) { called = true; });
        loop.run_once(50ms);
    }
    EXPECT_FALSE(called);
    EXPECT_EQ(loop.watched(), 0u);
    EXPECT_EQ(loop.pending_timers(), 0u);
}

// An exception from a callback (a cancel raised by the caller) must not
// cross c-ares' C frames: it comes out of the loop instead.
TEST_F(ResolverTest, ExceptionFromACallbackComesOutOfTheLoop) {
    dns.set("a.test", fake::kTypeMx, fake::mx_answer({{10, "mx.a.test"}}));
    resolver().lookup_mx("a.test", [](const MxAnswer&) { throw std::runtime_error("cancelled"); });
    bool thrown = false;
    run_until([&] {
        try {
            loop.run_once(20ms);
        } catch (const std::runtime_error&) {
            thrown = true;
        }
        return thrown;
    });
    EXPECT_TRUE(thrown);
}

TEST(ResolverConfig, ABadServerListIsRefusedUpFront) {
    ev::net::EventLoop loop;
    ev::dns::ResolverConfig config;
    config.servers = "dns.example.com";
    EXPECT_THROW(ev::dns::Resolver(loop, config), std::invalid_argument);
}

// ---- routes -----------------------------------------------------------------

TEST_F(ResolverTest, RouteListsMxHostsInPreferenceOrderWithTheirAddresses) {
    dns.set("a.test", fake::kTypeMx, fake::mx_answer({{20, "MX2.a.test"}, {10, "mx1.a.test"}}, 600));
    dns.set("mx1.a.test", fake::kTypeA, fake::address_answer({"192.0.2.1"}, 300));
    dns.set("mx1.a.test", fake::kTypeAaaa, fake::negative_answer(fake::kNoError, 900));
    dns.set("mx2.a.test", fake::kTypeA, fake::address_answer({"192.0.2.2"}, 120));
    dns.set("mx2.a.test", fake::kTypeAaaa, fake::address_answer({"2001:db8::2"}, 600));
    auto before = std::chrono::steady_clock::now();
    auto r = route("a.test");
    EXPECT_EQ(r->outcome, RouteOutcome::Ok);
    ASSERT_EQ(r->hosts.size(), 2u);
    EXPECT_EQ(r->hosts[0].name, "mx1.a.test");
    EXPECT_EQ(r->hosts[1].name, "mx2.a.test");  // lower-cased
    EXPECT_EQ(r->hosts[1].ips, (std::vector<std::string>{"192.0.2.2", "2001:db8::2"}));
    EXPECT_FALSE(r->implicit_mx);
    // Cached for the smallest TTL of the answers it came from (negative
    // ones included: their SOA's).
    EXPECT_GE(r->expires, before + 119s);
    EXPECT_LE(r->expires, std::chrono::steady_clock::now() + 121s);
}

TEST_F(ResolverTest, RouteFallsBackToTheDomainsOwnAddress) {
    dns.set("nomx.test", fake::kTypeMx, fake::negative_answer(fake::kNoError));
    dns.set("nomx.test", fake::kTypeA, fake::address_answer({"192.0.2.9"}));
    auto r = route("nomx.test");
    EXPECT_EQ(r->outcome, RouteOutcome::Ok);
    EXPECT_TRUE(r->implicit_mx);
    ASSERT_EQ(r->hosts.size(), 1u);
    EXPECT_EQ(r->hosts[0].name, "nomx.test");
}

TEST_F(ResolverTest, RouteOutcomesWithNowhereToDeliver) {
    dns.set("null.test", fake::kTypeMx, fake::mx_answer({{0, ""}}));
    dns.set("bare.test", fake::kTypeMx, fake::negative_answer(fake::kNoError));  // and no A/AAAA
    dns.set("dangling.test", fake::kTypeMx, fake::mx_answer({{10, "gone.dangling.test"}}));
    dns.set("servfail.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    dns.set("halfbroken.test", fake::kTypeMx, fake::mx_answer({{10, "mx.halfbroken.test"}}));
    dns.set("mx.halfbroken.test", fake::kTypeA, fake::failure_answer(fake::kServFail));
    dns.set("mx.halfbroken.test", fake::kTypeAaaa, fake::negative_answer(fake::kNoError));
    EXPECT_EQ(route("null.test")->outcome, RouteOutcome::NullMx);
    EXPECT_EQ(route("missing.test")->outcome, RouteOutcome::NoDomain);
    EXPECT_EQ(route("bare.test")->outcome, RouteOutcome::NoMailServer);
    EXPECT_EQ(route("dangling.test")->outcome, RouteOutcome::NoMailServer);
    EXPECT_EQ(route("servfail.test")->outcome, RouteOutcome::DnsError);
    // An MX target whose lookup failed is no proof the domain has no server.
    EXPECT_EQ(route("halfbroken.test")->outcome, RouteOutcome::DnsError);
}

TEST_F(ResolverTest, RoutesAreCachedButFailuresAreNot) {
    dns.set("a.test", fake::kTypeMx, fake::mx_answer({{10, "mx.a.test"}}));
    dns.set("mx.a.test", fake::kTypeA, fake::address_answer({"192.0.2.1"}));
    dns.set("servfail.test", fake::kTypeMx, fake::failure_answer(fake::kServFail));
    route("a.test");
    route("a.test");
    EXPECT_EQ(dns.queries("a.test", fake::kTypeMx), 1);
    EXPECT_EQ(cache.size(), 1u);
    route("servfail.test");
    int first = dns.queries("servfail.test", fake::kTypeMx);
    route("servfail.test");
    EXPECT_EQ(dns.queries("servfail.test", fake::kTypeMx), 2 * first);
}

TEST_F(ResolverTest, ConcurrentRequestsForOneDomainShareOneLookup) {
    dns.set("a.test", fake::kTypeMx, fake::mx_answer({{10, "mx.a.test"}}));
    dns.set("mx.a.test", fake::kTypeA, fake::address_answer({"192.0.2.1"}));
    ev::dns::RouteResolver routes(resolver(), cache, options);
    int done = 0;
    for (int i = 0; i < 3; ++i)
        routes.resolve("a.test", [&](const std::shared_ptr<const MailRoute>& r) {
            EXPECT_EQ(r->outcome, RouteOutcome::Ok);
            ++done;
        });
    run_until([&] { return done == 3; });
    EXPECT_EQ(done, 3);
    EXPECT_EQ(dns.queries("a.test", fake::kTypeMx), 1);
}
