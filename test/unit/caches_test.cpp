#include "prober/caches.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

using ev::prober::CatchAllCache;
using ev::prober::ResultCache;
using namespace std::chrono_literals;

TEST(ResultCache, HitsUntilExpiry) {
    ResultCache cache(10);
    auto now = std::chrono::steady_clock::now();
    ev::VerificationResult r;
    r.email = "a@b.test";
    cache.store("smtp a@b.test", {r, 0}, now + 10s);
    ASSERT_TRUE(cache.find("smtp a@b.test", now));
    EXPECT_EQ(cache.find("smtp a@b.test", now)->result.email, "a@b.test");
    EXPECT_FALSE(cache.find("dns a@b.test", now));
    EXPECT_FALSE(cache.find("smtp a@b.test", now + 11s));
    EXPECT_EQ(cache.size(), 0u);  // the expired entry is gone
}

TEST(ResultCache, EvictsTheLeastRecentlyUsed) {
    ResultCache cache(2);
    auto now = std::chrono::steady_clock::now();
    ev::VerificationResult r;
    cache.store("a", {r, 0}, now + 1h);
    cache.store("b", {r, 0}, now + 1h);
    ASSERT_TRUE(cache.find("a", now));  // a is now the most recent
    cache.store("c", {r, 0}, now + 1h);
    EXPECT_TRUE(cache.find("a", now));
    EXPECT_FALSE(cache.find("b", now));
    EXPECT_TRUE(cache.find("c", now));
}

TEST(ResultCache, CapacityZeroKeepsNothing) {
    ResultCache cache(0);
    auto now = std::chrono::steady_clock::now();
    cache.store("a", {}, now + 1h);
    EXPECT_FALSE(cache.find("a", now));
}

TEST(CatchAllCache, RemembersBothAnswersUntilExpiry) {
    CatchAllCache cache;
    auto now = std::chrono::steady_clock::now();
    cache.store("any.test", true, now + 5s);
    cache.store("strict.test", false, now + 5s);
    EXPECT_EQ(cache.find("any.test", now), true);
    EXPECT_EQ(cache.find("strict.test", now), false);
    EXPECT_EQ(cache.find("other.test", now), std::nullopt);
    EXPECT_EQ(cache.find("any.test", now + 6s), std::nullopt);
}

// A store shared with other probers (shared memory, in the server) as a map.
class MapStore : public ev::CacheStore {
  public:
    std::optional<std::string> get(std::string_view key, Time now) override {
        auto it = values.find(std::string(key));
        if (it == values.end() || it->second.second <= now) return std::nullopt;
        return it->second.first;
    }
    void put(std::string_view key, std::string_view value, Time expires) override {
        values[std::string(key)] = {std::string(value), expires};
    }
    std::map<std::string, std::pair<std::string, Time>> values;
};

TEST(SharedStore, TwoProbersShareVerdictsRoutesAndCatchAllAnswers) {
    MapStore store;
    ev::prober::ProbeSettings settings;
    ev::prober::ProberCaches one, other;
    one.shared_store = other.shared_store = &store;
    one.use_for(settings);
    other.use_for(settings);
    auto now = std::chrono::steady_clock::now();
    ev::VerificationResult r;
    r.email = "a@b.test";
    r.smtp_message = "2.1.5 Ok";
    r.is_catch_all = false;
    one.results.store("smtp a@b.test", {r, 7}, now + 1h);
    one.catch_all.store("b.test", false, now + 1h);
    auto route = std::make_shared<ev::dns::MailRoute>();
    route->outcome = ev::dns::RouteOutcome::Ok;
    route->hosts.push_back({"mx.b.test", 10, {"127.0.0.1", "::1"}});
    route->expires = now + 1h;
    one.routes.store("b.test", route);

    auto hit = other.results.find("smtp a@b.test", now);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->result.smtp_message, "2.1.5 Ok");
    EXPECT_EQ(hit->result.is_catch_all, false);
    EXPECT_EQ(hit->probe_findings, 7u);
    EXPECT_EQ(other.catch_all.find("b.test", now), false);
    auto shared_route = other.routes.find("b.test", now);
    ASSERT_TRUE(shared_route);
    EXPECT_EQ(shared_route->hosts.at(0).ips.at(1), "::1");
    EXPECT_FALSE(other.results.find("smtp a@b.test", now + 2h));  // expired

    // Other settings (another DNS server) never read these.
    ev::prober::ProberCaches elsewhere;
    elsewhere.shared_store = &store;
    settings.dns.servers = "127.0.0.9";
    elsewhere.use_for(settings);
    EXPECT_FALSE(elsewhere.results.find("smtp a@b.test", now));
}

TEST(VerdictCodec, RoundTripsAndRefusesGarbage) {
    ev::prober::CachedVerdict v;
    v.result.email = "x@y.test";
    v.result.normalized = "x@y.test";
    v.result.status = ev::Status::Risky;
    v.result.reason = ev::Reason::CatchAll;
    v.result.level = ev::Level::Smtp;
    v.result.smtp_code = 250;
    v.result.score = 55;
    v.result.mx_found = true;
    v.probe_findings = 1u << 8;
    std::string bytes = ev::prober::encode_verdict(v);
    auto back = ev::prober::decode_verdict(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->result.reason, ev::Reason::CatchAll);
    EXPECT_EQ(back->result.smtp_code, 250);
    EXPECT_EQ(back->result.suggestion, std::nullopt);
    EXPECT_EQ(back->probe_findings, 1u << 8);
    for (std::size_t cut = 0; cut < bytes.size(); ++cut)
        EXPECT_FALSE(ev::prober::decode_verdict(bytes.substr(0, cut))) << cut;
    EXPECT_FALSE(ev::prober::decode_verdict(bytes + "x"));
}
