#include "prober/caches.h"

#include <gtest/gtest.h>

using ev::prober::CatchAllCache;
using ev::prober::ResultCache;
using namespace std::chrono_literals;

TEST(ResultCache, HitsUntilExpiry) {
    ResultCache cache(10);
    auto now = std::chrono::steady_clock::now();
    ev::VerificationResult r;
    r.email = "a@b.test";
    cache.store("smtp a@b.test", r, now + 10s);
    ASSERT_TRUE(cache.find("smtp a@b.test", now));
    EXPECT_EQ(cache.find("smtp a@b.test", now)->email, "a@b.test");
    EXPECT_FALSE(cache.find("dns a@b.test", now));
    EXPECT_FALSE(cache.find("smtp a@b.test", now + 11s));
    EXPECT_EQ(cache.size(), 0u);  // the expired entry is gone
}

TEST(ResultCache, EvictsTheLeastRecentlyUsed) {
    ResultCache cache(2);
    auto now = std::chrono::steady_clock::now();
    ev::VerificationResult r;
    cache.store("a", r, now + 1h);
    cache.store("b", r, now + 1h);
    ASSERT_TRUE(cache.find("a", now));  // a is now the most recent
    cache.store("c", r, now + 1h);
    EXPECT_TRUE(cache.find("a", now));
    EXPECT_FALSE(cache.find("b", now));
    EXPECT_TRUE(cache.find("c", now));
}

TEST(ResultCache, CapacityZeroKeepsNothing) {
    ResultCache cache(0);
    auto now = std::chrono::steady_clock::now();
    cache.store("a", ev::VerificationResult{}, now + 1h);
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
