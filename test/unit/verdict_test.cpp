#include <gtest/gtest.h>

#include "risk_lists.h"
#include "syntax_verifier.h"
#include "typo_suggester.h"
#include "verdict.h"

namespace ev {
namespace {

TEST(Verdict, ReasonNamesAndStatusesFollowTheSpecTable) {
    struct Row {
        Reason reason;
        const char* name;
        Status status;
    } rows[] = {
        {Reason::Accepted, "accepted", Status::Valid},
        {Reason::SyntaxOk, "syntax_ok", Status::Valid},
        {Reason::DomainOk, "domain_ok", Status::Valid},
        {Reason::Syntax, "syntax", Status::Invalid},
        {Reason::NoDomain, "no_domain", Status::Invalid},
        {Reason::NullMx, "null_mx", Status::Invalid},
        {Reason::NoMailServer, "no_mail_server", Status::Invalid},
        {Reason::MailboxNotFound, "mailbox_not_found", Status::Invalid},
        {Reason::MailboxDisabled, "mailbox_disabled", Status::Invalid},
        {Reason::Disposable, "disposable", Status::Risky},
        {Reason::MailboxFull, "mailbox_full", Status::Risky},
        {Reason::CatchAll, "catch_all", Status::Risky},
        {Reason::RoleAccount, "role_account", Status::Risky},
        {Reason::Greylisted, "greylisted", Status::Unknown},
        {Reason::TemporaryFailure, "temporary_failure", Status::Unknown},
        {Reason::SmtpBlocked, "smtp_blocked", Status::Unknown},
        {Reason::Timeout, "timeout", Status::Unknown},
        {Reason::ConnectionFailed, "connection_failed", Status::Unknown},
        {Reason::DnsError, "dns_error", Status::Unknown},
    };
    for (const Row& row : rows) {
        EXPECT_EQ(to_string(row.reason), row.name);
        EXPECT_EQ(status_of(row.reason), row.status) << row.name;
    }
}

TEST(Verdict, InvalidBeatsRiskyBeatsUnknownBeatsValid) {
    Findings f;
    f.add(Reason::Accepted);
    EXPECT_EQ(f.decisive(), Reason::Accepted);
    f.add(Reason::Greylisted);
    EXPECT_EQ(f.decisive(), Reason::Greylisted);
    f.add(Reason::RoleAccount);
    EXPECT_EQ(f.decisive(), Reason::RoleAccount);
    f.add(Reason::Disposable);
    EXPECT_EQ(f.decisive(), Reason::Disposable);  // table order among risky
    f.add(Reason::MailboxDisabled);
    EXPECT_EQ(f.decisive(), Reason::MailboxDisabled);
    f.add(Reason::NoDomain);
    EXPECT_EQ(f.decisive(), Reason::NoDomain);  // table order among invalid
}

TEST(Verdict, LevelsParseAndPrint) {
    for (const char* name : {"syntax", "dns", "smtp"}) {
        auto level = parse_level(name);
        ASSERT_TRUE(level.has_value()) << name;
        EXPECT_EQ(to_string(*level), name);
    }
    EXPECT_EQ(parse_level("SMTP"), Level::Smtp);  // case-insensitive, as the setting
    EXPECT_FALSE(parse_level("").has_value());
}

TEST(Verdict, ScoreIsZeroForInvalidAndLowerWithASuggestion) {
    EXPECT_EQ(delivery_score(Reason::Syntax, false), 0);
    EXPECT_GT(delivery_score(Reason::Accepted, false), delivery_score(Reason::DomainOk, false));
    EXPECT_GT(delivery_score(Reason::DomainOk, false), delivery_score(Reason::SyntaxOk, false));
    EXPECT_LT(delivery_score(Reason::SyntaxOk, true), delivery_score(Reason::SyntaxOk, false));
    for (int r = 0; r <= static_cast<int>(Reason::DomainOk); ++r) {
        for (bool s : {false, true}) {
            int score = delivery_score(static_cast<Reason>(r), s);
            EXPECT_GE(score, 0);
            EXPECT_LE(score, 100);
        }
    }
}

// The typo penalty follows the suggestion: a real provider's country domain
// (once suggested as itself, score down by 30) keeps the full score.
TEST(Verdict, TypoPenaltyOnlyWhenASuggestionExists) {
    RiskLists lists = RiskLists::with_builtin_lists();
    SyntaxVerifier verifier(lists, TypoSuggester::builtin());
    SyntaxOptions options;
    int full = delivery_score(Reason::SyntaxOk, false);
    for (const char* real : {"u@yahoo.ca", "u@hotmail.se", "u@yahoo.dk", "u@y7mail.com", "u@email.com"}) {
        VerificationResult r = verifier.verify(real, options);
        EXPECT_FALSE(r.suggestion.has_value()) << real << " -> " << r.suggestion.value_or("");
        EXPECT_EQ(r.score, full) << real;
    }
    VerificationResult typo = verifier.verify("u@gmial.com", options);
    ASSERT_TRUE(typo.suggestion.has_value());
    EXPECT_EQ(*typo.suggestion, "u@gmail.com");
    EXPECT_LT(typo.score, full);
}

}  // namespace
}  // namespace ev

TEST(Verdict, StatusAndReasonNamesReadBack) {
    for (std::size_t i = 0; i < 19; ++i) {
        auto reason = static_cast<ev::Reason>(i);
        EXPECT_EQ(ev::parse_reason(ev::to_string(reason)), reason);
    }
    for (ev::Status s : {ev::Status::Valid, ev::Status::Invalid, ev::Status::Risky, ev::Status::Unknown})
        EXPECT_EQ(ev::parse_status(ev::to_string(s)), s);
    EXPECT_FALSE(ev::parse_reason("Accepted"));
    EXPECT_FALSE(ev::parse_status("maybe"));
}
