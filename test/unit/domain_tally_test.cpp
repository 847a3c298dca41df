#include "queue/domain_tally.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ev::queue {
namespace {

TEST(LeaseDomain, IsTheLowerCasedPartAfterTheLastAt) {
    EXPECT_EQ(lease_domain("Alice@Example.COM"), "example.com");
    EXPECT_EQ(lease_domain("\"a@b\"@x.test"), "x.test");
    EXPECT_EQ(lease_domain("no-at-sign"), "");
    EXPECT_EQ(lease_domain("trailing@"), "");
}

TEST(DomainTally, ADomainIsDoneWithItsLastItem) {
    DomainTally tally;
    tally.add("a@x.test");
    tally.add("B@X.test");
    tally.add("c@y.test");
    EXPECT_EQ(tally.domains(), 2U);
    EXPECT_FALSE(tally.settle("a@x.test"));
    EXPECT_TRUE(tally.settle("c@y.test"));
    EXPECT_TRUE(tally.settle("b@x.test"));
    EXPECT_EQ(tally.domains(), 0U);
    // Settling what was never added (or twice) says nothing is done.
    EXPECT_FALSE(tally.settle("b@x.test"));
    EXPECT_FALSE(tally.settle("z@z.test"));
}

TEST(DomainTally, TakeAllEmptiesIt) {
    DomainTally tally;
    tally.add("a@x.test");
    tally.add("a@y.test");
    tally.add("b@y.test");
    auto all = tally.take_all();
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, (std::vector<std::string>{"x.test", "y.test"}));
    EXPECT_EQ(tally.domains(), 0U);
    EXPECT_TRUE(tally.take_all().empty());
}

}  // namespace
}  // namespace ev::queue
