// prober::ProviderRules on its own: the behaviour vocabulary, MX patterns,
// which provider an MX host name belongs to, and what each behaviour makes
// of an address's findings and smtp_message.
#include <gtest/gtest.h>

#include "prober/provider_rules.h"

using ev::Findings;
using ev::Reason;
using ev::VerificationResult;
using ev::prober::normalize_mx_pattern;
using ev::prober::Provider;
using ev::prober::ProviderBehaviour;
using ev::prober::ProviderRules;

namespace {

ProviderRules sample_rules() {
    ProviderRules rules;
    EXPECT_TRUE(rules.add("Google", ProviderBehaviour::RevealsMailboxes, {"google.com", "googlemail.com"}));
    EXPECT_TRUE(rules.add("Microsoft 365", ProviderBehaviour::PerDomain, {"mail.protection.outlook.com"}));
    EXPECT_TRUE(rules.add("Outlook.com", ProviderBehaviour::ThrottlesRcpt, {"olc.protection.outlook.com"}));
    EXPECT_TRUE(rules.add("Any Outlook", ProviderBehaviour::Undocumented, {"protection.outlook.com"}));
    EXPECT_TRUE(rules.add("Yahoo/AOL", ProviderBehaviour::AcceptsAll, {".yahoodns.net."}));
    return rules;
}

// decide() as the engine calls it, for the findings alone.
Reason decisive(const Findings& findings) { return findings.decisive(); }

}  // namespace

TEST(ProviderRules, BehaviourNamesRoundTrip) {
    for (auto b : {ProviderBehaviour::RevealsMailboxes, ProviderBehaviour::AcceptsAll, ProviderBehaviour::ThrottlesRcpt,
                   ProviderBehaviour::PerDomain, ProviderBehaviour::Tarpits, ProviderBehaviour::Undocumented})
        EXPECT_EQ(ev::prober::parse_provider_behaviour(ev::prober::to_string(b)), b);
    EXPECT_EQ(ev::prober::to_string(ProviderBehaviour::AcceptsAll), "accepts_all");
    EXPECT_FALSE(ev::prober::parse_provider_behaviour("Accepts_All"));
    EXPECT_FALSE(ev::prober::parse_provider_behaviour(""));
}

TEST(ProviderRules, PatternsAreHostNames) {
    EXPECT_EQ(normalize_mx_pattern("Google.COM"), "google.com");
    EXPECT_EQ(normalize_mx_pattern(".yahoodns.net."), "yahoodns.net");
    EXPECT_EQ(normalize_mx_pattern("mx_1.example-mail.co.uk"), "mx_1.example-mail.co.uk");
    EXPECT_FALSE(normalize_mx_pattern(""));
    EXPECT_FALSE(normalize_mx_pattern("..."));
    EXPECT_FALSE(normalize_mx_pattern("com"));  // a whole top-level domain
    EXPECT_FALSE(normalize_mx_pattern("a..b.com"));
    EXPECT_FALSE(normalize_mx_pattern("*.google.com"));
    EXPECT_FALSE(normalize_mx_pattern("google.com "));
    EXPECT_FALSE(
        normalize_mx_pattern("b\xc3\xbc"
                             "cher.test"));  // A-labels only
    EXPECT_FALSE(normalize_mx_pattern(std::string(64, 'a') + ".com"));
    EXPECT_TRUE(normalize_mx_pattern(std::string(63, 'a') + ".com"));
    std::string long_name;
    while (long_name.size() < 260) long_name += "abcdefgh.";
    EXPECT_FALSE(normalize_mx_pattern(long_name + "com"));
}

TEST(ProviderRules, AddRefusesWhatCouldNotMatchSafely) {
    ProviderRules rules;
    EXPECT_FALSE(rules.add("", ProviderBehaviour::AcceptsAll, {"a.test"}));
    EXPECT_FALSE(rules.add(std::string(65, 'n'), ProviderBehaviour::AcceptsAll, {"a.test"}));
    EXPECT_FALSE(rules.add("tab\there", ProviderBehaviour::AcceptsAll, {"a.test"}));
    EXPECT_FALSE(rules.add("none", ProviderBehaviour::AcceptsAll, {}));
    EXPECT_FALSE(rules.add("one bad", ProviderBehaviour::AcceptsAll, {"a.test", "not a host"}));
    EXPECT_TRUE(rules.empty());
    EXPECT_TRUE(rules.add(std::string(64, 'n'), ProviderBehaviour::AcceptsAll, {"a.test"}));
    EXPECT_EQ(rules.size(), 1u);
}

TEST(ProviderRules, MatchIsByParentDomainAndLongestPatternWins) {
    ProviderRules rules = sample_rules();
    auto name_of = [&](const char* host) {
        const Provider* p = rules.match(host);
        return p ? p->name : std::string("-");
    };
    EXPECT_EQ(name_of("aspmx.l.google.com"), "Google");
    EXPECT_EQ(name_of("ASPMX2.GOOGLEMAIL.COM."), "Google");
    EXPECT_EQ(name_of("google.com"), "Google");  // the pattern itself
    EXPECT_EQ(name_of("notgoogle.com"), "-");    // on a label boundary only
    EXPECT_EQ(name_of("google.com.evil.test"), "-");
    EXPECT_EQ(name_of("contoso-com.mail.protection.outlook.com"), "Microsoft 365");
    EXPECT_EQ(name_of("hotmail-com.olc.protection.outlook.com"), "Outlook.com");
    EXPECT_EQ(name_of("eur.olc.protection.outlook.com"), "Outlook.com");
    EXPECT_EQ(name_of("something.else.protection.outlook.com"), "Any Outlook");
    EXPECT_EQ(name_of("mta7.am0.yahoodns.net"), "Yahoo/AOL");
    EXPECT_EQ(name_of("mx.example.com"), "-");
    EXPECT_EQ(name_of(""), "-");
    EXPECT_EQ(name_of("."), "-");
}

TEST(ProviderRules, TheDomainsProviderIsThatOfItsPreferredMx) {
    ProviderRules rules = sample_rules();
    ev::dns::MailRoute route;
    route.outcome = ev::dns::RouteOutcome::Ok;
    route.hosts = {{"mx1.filter.example", 10, {"192.0.2.1"}}, {"alt1.aspmx.l.google.com", 20, {"192.0.2.2"}}};
    EXPECT_EQ(rules.for_route(route), nullptr);  // filtered elsewhere first
    std::swap(route.hosts[0], route.hosts[1]);
    ASSERT_NE(rules.for_route(route), nullptr);
    EXPECT_EQ(rules.for_route(route)->name, "Google");
    route.implicit_mx = true;  // the domain's own address: no MX named
    EXPECT_EQ(rules.for_route(route), nullptr);
    route.implicit_mx = false;
    route.outcome = ev::dns::RouteOutcome::DnsError;
    EXPECT_EQ(rules.for_route(route), nullptr);
}

TEST(ProviderRules, FingerprintFollowsTheContent) {
    ProviderRules a = sample_rules();
    ProviderRules b = sample_rules();
    EXPECT_EQ(a.fingerprint(), b.fingerprint());
    ProviderRules c;
    c.add("Google", ProviderBehaviour::AcceptsAll, {"google.com", "googlemail.com"});
    EXPECT_NE(c.fingerprint().substr(0, 40), a.fingerprint().substr(0, 40));
    EXPECT_TRUE(ProviderRules().fingerprint().empty());
}

TEST(ProviderRules, WhatTheEngineDoesPerBehaviour) {
    Provider p{"x", ProviderBehaviour::Tarpits, {"x.test"}};
    EXPECT_FALSE(ev::prober::probes_mailboxes(p));
    for (auto b : {ProviderBehaviour::RevealsMailboxes, ProviderBehaviour::AcceptsAll, ProviderBehaviour::ThrottlesRcpt,
                   ProviderBehaviour::PerDomain, ProviderBehaviour::Undocumented}) {
        p.behaviour = b;
        EXPECT_TRUE(ev::prober::probes_mailboxes(p));
        EXPECT_EQ(ev::prober::assumes_catch_all(p), b == ProviderBehaviour::AcceptsAll);
        EXPECT_EQ(ev::prober::rcpt_limit_for(p), b == ProviderBehaviour::ThrottlesRcpt ? 1 : 0);
    }
}

TEST(ProviderRules, AcceptanceFromAnAcceptAllProviderIsNeverValid) {
    Provider yahoo{"Yahoo/AOL", ProviderBehaviour::AcceptsAll, {"yahoodns.net"}};
    Findings f;
    f.add(Reason::Accepted);
    VerificationResult r;
    r.smtp_message = "2.1.5 recipient ok";
    r.is_catch_all = false;  // say, a stale cached answer
    ev::prober::apply_provider(yahoo, true, &f, &r);
    EXPECT_EQ(decisive(f), Reason::CatchAll);
    EXPECT_EQ(r.is_catch_all, true);
    EXPECT_EQ(
        r.smtp_message,
        "2.1.5 recipient ok (provider: Yahoo/AOL - accepts every recipient at RCPT, so acceptance proves nothing)");

    // A refusal is evidence all the same.
    Findings refused;
    refused.add(Reason::MailboxNotFound);
    VerificationResult r2;
    ev::prober::apply_provider(yahoo, true, &refused, &r2);
    EXPECT_EQ(decisive(refused), Reason::MailboxNotFound);
}

TEST(ProviderRules, PerDomainAcceptanceNeedsTheDomainsRefusal) {
    Provider m365{"Microsoft 365", ProviderBehaviour::PerDomain, {"mail.protection.outlook.com"}};
    for (std::optional<bool> catch_all :
         {std::optional<bool>(false), std::optional<bool>(true), std::optional<bool>()}) {
        Findings f;
        f.add(catch_all.value_or(false) ? Reason::CatchAll : Reason::Accepted);
        VerificationResult r;
        r.is_catch_all = catch_all;
        ev::prober::apply_provider(m365, true, &f, &r);
        Reason expected = !catch_all ? Reason::TemporaryFailure : *catch_all ? Reason::CatchAll : Reason::Accepted;
        EXPECT_EQ(decisive(f), expected) << (catch_all ? (*catch_all ? "catch-all" : "refused") : "not determined");
    }
}

TEST(ProviderRules, ATarpitIsNotProbedAndSaysWhy) {
    Provider slow{"Slowpoke", ProviderBehaviour::Tarpits, {"slow.test"}};
    Findings f;
    f.add(Reason::RoleAccount);
    VerificationResult r;
    ev::prober::apply_provider(slow, false, &f, &r);
    EXPECT_TRUE(f.has(Reason::SmtpBlocked));
    EXPECT_EQ(decisive(f), Reason::RoleAccount);  // risky beats unknown, as always
    EXPECT_EQ(r.smtp_message, "(provider: Slowpoke - holds probers' connections without answering; not probed)");
}

TEST(ProviderRules, OtherBehavioursLeaveTheVerdictToTheAnswer) {
    for (auto b :
         {ProviderBehaviour::RevealsMailboxes, ProviderBehaviour::ThrottlesRcpt, ProviderBehaviour::Undocumented}) {
        Provider p{"P\xc3\xa9\x01", b, {"p.test"}};
        for (Reason answer : {Reason::Accepted, Reason::MailboxNotFound, Reason::TemporaryFailure}) {
            Findings f;
            f.add(answer);
            VerificationResult r;
            r.is_catch_all = false;
            ev::prober::apply_provider(p, true, &f, &r);
            EXPECT_EQ(decisive(f), answer);
            ASSERT_TRUE(r.smtp_message);
            // Printable ASCII only, as the server's own text.
            EXPECT_EQ(r.smtp_message->rfind("(provider: P??? - ", 0), 0u) << *r.smtp_message;
        }
    }
}
