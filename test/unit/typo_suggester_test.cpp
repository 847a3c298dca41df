#include <gtest/gtest.h>

#include "risk_lists.h"
#include "typo_suggester.h"

namespace ev {
namespace {

class TypoSuggesterTest : public ::testing::Test {
  protected:
    RiskLists lists = RiskLists::with_builtin_lists();
    const TypoSuggester& suggester = TypoSuggester::builtin();

    std::string suggest(const char* domain) { return suggester.suggest(domain, lists).value_or("<none>"); }
};

TEST_F(TypoSuggesterTest, CorrectsCommonTyposOfPopularDomains) {
    struct Row {
        const char* typo;
        const char* meant;
    } rows[] = {
        {"gmial.com", "gmail.com"},         {"gmial.con", "gmail.com"},     {"gmail.con", "gmail.com"},
        {"gmail.cmo", "gmail.com"},         {"gmai.com", "gmail.com"},      {"gmaill.com", "gmail.com"},
        {"gnail.com", "gmail.com"},         {"gmail.co", "gmail.com"},      {"hotmial.com", "hotmail.com"},
        {"hotmail.con", "hotmail.com"},     {"hotmal.com", "hotmail.com"},  {"yaho.com", "yahoo.com"},
        {"yahooo.com", "yahoo.com"},        {"yhaoo.com", "yahoo.com"},     {"outlook.co", "outlook.com"},
        {"outlok.com", "outlook.com"},      {"outlook.con", "outlook.com"}, {"iclod.com", "icloud.com"},
        {"icloud.cm", "icloud.com"},        {"gmaill.con", "gmail.com"},    {"yaho.co.uk", "yahoo.co.uk"},
        {"hotmial.co.uk", "hotmail.co.uk"}, {"comcast.nte", "comcast.net"},
    };
    for (const Row& row : rows) EXPECT_EQ(suggest(row.typo), row.meant) << row.typo;
}

TEST_F(TypoSuggesterTest, CorrectsAnUnknownTopLevelDomainOfAnyName) {
    EXPECT_EQ(suggest("example.con"), "example.com");
    EXPECT_EQ(suggest("acme-widgets.cmo"), "acme-widgets.com");
    EXPECT_EQ(suggest("example.nett"), "example.net");
    EXPECT_EQ(suggest("example.ogr"), "example.org");
}

TEST_F(TypoSuggesterTest, LeavesRealDomainsAlone) {
    for (const char* d :
         {"gmail.com",      "gmx.com",    "gmx.net",     "gmx.de",        "mail.com", "yahoo.co.uk", "yahoo.com",
          "hotmail.co.uk",  "ymail.com",  "me.com",      "mac.com",       "aol.com",  "live.com",    "msn.com",
          "mail.ru",        "web.de",     "qq.com",      "163.com",       "126.com",  "proton.me",   "pm.me",
          "googlemail.com", "icloud.com", "outlook.com", "mailinator.com"})
        EXPECT_EQ(suggest(d), "<none>") << d;
}

TEST_F(TypoSuggesterTest, LeavesUnknownButPlausibleDomainsAlone) {
    // Short names one edit from a popular one are as likely real as typos,
    // and valid country TLDs are not "corrected" to .com.
    for (const char* d :
         {"ao.com", "aol.co", "acme.co", "example.com", "example.co", "example.io", "university.edu", "company.de",
          "startup.ai", "bigcorp.cm", "strict.test", "catchall.test", "sub.gmail.com", "gmail.example.org"})
        EXPECT_EQ(suggest(d), "<none>") << d;
}

TEST_F(TypoSuggesterTest, RespectsUserListsAsRealDomains) {
    EXPECT_EQ(suggest("gmial.com"), "gmail.com");
    lists.add_override(ListKind::Free, "gmial.com", true);
    EXPECT_EQ(suggest("gmial.com"), "<none>");
}

TEST_F(TypoSuggesterTest, KnowsTheIanaTopLevelDomains) {
    for (const char* tld : {"com", "org", "uk", "de", "co", "photography", "xn--p1ai", "test", "example", "invalid"})
        EXPECT_TRUE(suggester.is_known_tld(tld)) << tld;
    for (const char* tld : {"con", "cmo", "comm", "ocm", "xn--zzzz"}) EXPECT_FALSE(suggester.is_known_tld(tld)) << tld;
}

}  // namespace
}  // namespace ev
