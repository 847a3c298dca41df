#include <gtest/gtest.h>

#include "risk_lists.h"

namespace ev {
namespace {

class RiskListsTest : public ::testing::Test {
  protected:
    RiskLists lists = RiskLists::with_builtin_lists();
};

TEST_F(RiskListsTest, ShippedDisposableDomainsAndTheirSubdomains) {
    EXPECT_TRUE(lists.is_disposable("mailinator.com"));
    EXPECT_TRUE(lists.is_disposable("x.y.mailinator.com"));
    EXPECT_TRUE(lists.is_disposable("10minutemail.com"));
    EXPECT_FALSE(lists.is_disposable("gmail.com"));
    EXPECT_FALSE(lists.is_disposable("mailinator.com.example.org"));
    EXPECT_FALSE(lists.is_disposable("com"));
}

TEST_F(RiskListsTest, ShippedFreeProviders) {
    for (const char* d : {"gmail.com", "yahoo.co.uk", "outlook.com", "gmx.com", "mail.com", "web.de", "qq.com"})
        EXPECT_TRUE(lists.is_free(d)) << d;
    EXPECT_FALSE(lists.is_free("example.com"));
    EXPECT_FALSE(lists.is_free("sub.gmail.com"));  // free is exact, not by parent
}

TEST_F(RiskListsTest, RoleLocalPartsIgnoreCaseTagsAndSeparators) {
    for (const char* local : {"info", "INFO", "Info+newsletter", "postmaster", "no-reply", "no_reply", "No.Reply",
                              "noreply", "sales", "admin", "abuse", "webmaster", "support+ticket-42"})
        EXPECT_TRUE(lists.is_role(local)) << local;
    for (const char* local : {"john", "john.doe", "informatics", "salesman", "", "+info"})
        EXPECT_FALSE(lists.is_role(local)) << local;
}

TEST_F(RiskListsTest, UserAdditionsAndRemovalsOverrideShippedEntries) {
    ASSERT_TRUE(lists.add_override(ListKind::Disposable, "Trash.Example", true));
    EXPECT_TRUE(lists.is_disposable("trash.example"));
    EXPECT_TRUE(lists.is_disposable("a.trash.example"));

    ASSERT_TRUE(lists.add_override(ListKind::Disposable, "mailinator.com", false));
    EXPECT_FALSE(lists.is_disposable("mailinator.com"));
    EXPECT_FALSE(lists.is_disposable("x.mailinator.com"));  // the removal covers subdomains
    ASSERT_TRUE(lists.add_override(ListKind::Disposable, "bad.mailinator.com", true));
    EXPECT_TRUE(lists.is_disposable("bad.mailinator.com"));  // most specific entry wins

    ASSERT_TRUE(lists.add_override(ListKind::Free, "gmail.com", false));
    EXPECT_FALSE(lists.is_free("gmail.com"));
    ASSERT_TRUE(lists.add_override(ListKind::Free, "bücher.example", true));
    EXPECT_TRUE(lists.is_free("xn--bcher-kva.example"));  // stored as A-label

    ASSERT_TRUE(lists.add_override(ListKind::Role, "Chief-Bottle-Washer", true));
    EXPECT_TRUE(lists.is_role("chiefbottlewasher+x"));
    ASSERT_TRUE(lists.add_override(ListKind::Role, "info", false));
    EXPECT_FALSE(lists.is_role("info"));

    lists.clear_overrides();
    EXPECT_TRUE(lists.is_disposable("mailinator.com"));
    EXPECT_FALSE(lists.is_disposable("trash.example"));
    EXPECT_TRUE(lists.is_free("gmail.com"));
    EXPECT_TRUE(lists.is_role("info"));
    EXPECT_FALSE(lists.is_role("chief.bottle.washer"));
}

TEST_F(RiskListsTest, UnusableOverridesAreRefused) {
    EXPECT_FALSE(lists.add_override(ListKind::Disposable, "", true));
    EXPECT_FALSE(lists.add_override(ListKind::Disposable, "   ", true));
    EXPECT_FALSE(lists.add_override(ListKind::Disposable, "xn--.com", true));
    EXPECT_FALSE(lists.add_override(ListKind::Role, "+tag", true));
    EXPECT_FALSE(lists.add_override(ListKind::Free, std::string("\xff\xfe", 2), true));
}

TEST(ListKind, ParsesTheThreeNames) {
    ListKind k;
    EXPECT_TRUE(parse_list_kind("disposable", &k));
    EXPECT_EQ(k, ListKind::Disposable);
    EXPECT_TRUE(parse_list_kind("free", &k));
    EXPECT_EQ(k, ListKind::Free);
    EXPECT_TRUE(parse_list_kind("role", &k));
    EXPECT_EQ(k, ListKind::Role);
    EXPECT_FALSE(parse_list_kind("Role", &k));
    EXPECT_FALSE(parse_list_kind("", &k));
}

}  // namespace
}  // namespace ev
