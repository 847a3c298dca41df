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
    // Not one edit from a provider, and valid country TLDs are not
    // "corrected" to .com.
    for (const char* d :
         {"acme.co", "example.com", "example.co", "example.io", "university.edu", "company.de", "startup.ai",
          "bigcorp.cm", "strict.test", "catchall.test", "sub.gmail.com", "gmail.example.org"})
        EXPECT_EQ(suggest(d), "<none>") << d;
}

// The cases: each was suggested as itself (score down by 30) or as
// another real domain of the same brand.
TEST_F(TypoSuggesterTest, NeverCorrectsOneRealProviderDomainToAnother) {
    for (const char* d :
         {"yahoo.ca",  "yahoo.dk",   "yahoo.de",  "hotmail.se", "hotmail.es",  "y7mail.com",  "ymail.com",
          "email.com", "gmail.com",  "gmx.at",    "gmx.ch",     "live.at",     "outlook.de",  "yandex.ua",
          "yandex.by", "bk.ru",      "list.ru",   "inbox.ru",   "web.de",      "t-online.de", "libero.it",
          "orange.fr", "wanadoo.fr", "qmail.com", "tmail.com",  "fastmail.im", "rr.com",      "op.pl"})
        EXPECT_EQ(suggest(d), "<none>") << d;
}

TEST_F(TypoSuggesterTest, NeverSuggestsTheDomainItself) {
    for (const char* d : {"yahoo.ca", "hotmail.se", "gmial.com", "example.con", "ao.com", "x.y"}) {
        auto s = suggester.suggest(d, lists);
        EXPECT_NE(s.value_or(""), d);
    }
}

TEST_F(TypoSuggesterTest, CorrectsTheShippedTypoDomains) {
    // Kept apart from the free and disposable lists (data/typo_domains.txt),
    // which hold real domains only.
    EXPECT_EQ(suggest("gmial.com"), "gmail.com");
    EXPECT_EQ(suggest("hotmai.com"), "hotmail.com");
    EXPECT_EQ(suggest("gmai.com"), "gmail.com");
    EXPECT_EQ(suggest("hotmail.co"), "hotmail.com");
    EXPECT_EQ(suggest("yahoo.co"), "yahoo.com");
    EXPECT_TRUE(suggester.is_typo_domain("gmial.com"));
    // A typo is neither a free provider nor a throwaway one: the suggestion says it.
    EXPECT_FALSE(lists.is_free("gmial.com"));
    EXPECT_FALSE(lists.is_disposable("gmial.com"));
}

TEST_F(TypoSuggesterTest, CorrectsShortProviderNames) {
    struct Row {
        const char* typo;
        const char* meant;
    } rows[] = {
        {"ao.com", "aol.com"},  {"aol.co", "aol.com"}, {"qq.co", "qq.com"},   {"q1.com", "qq.com"},
        {"me.cm", "me.com"},    {"msn.co", "msn.com"}, {"gmx.cde", "gmx.de"}, {"web.e", "web.de"},
        {"mial.ru", "mail.ru"}, {"163.cm", "163.com"},
    };
    for (const Row& row : rows) EXPECT_EQ(suggest(row.typo), row.meant) << row.typo;
}

TEST_F(TypoSuggesterTest, CorrectsTldTyposThatLandOnDelegatedTlds) {
    // .cm (Cameroon), .co (Colombia), .om (Oman) exist; gmail.cm does not
    // hold mailboxes of anyone's, and is one edit from gmail.com.
    for (const char* d : {"gmail.cm", "gmail.co", "gmail.om", "gmail.con", "gmail.cpm", "gmail.comm"})
        EXPECT_EQ(suggest(d), "gmail.com") << d;
    EXPECT_EQ(suggest("hotmail.om"), "hotmail.com");
    EXPECT_EQ(suggest("yahoo.cm"), "yahoo.com");
}

TEST_F(TypoSuggesterTest, BreaksTiesByTheNameNotByTldPopularity) {
    EXPECT_EQ(suggest("yandex.fu"), "yandex.ru");  // not yandex.fr, which yandex does not use
    EXPECT_EQ(suggest("yandex.rj"), "yandex.ru");
    EXPECT_EQ(suggest("libero.ti"), "libero.it");
    EXPECT_EQ(suggest("orange.ft"), "orange.fr");
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
