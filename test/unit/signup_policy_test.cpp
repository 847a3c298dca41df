// signup::decide: each status under the default policy, reason overrides,
// flags, the unknown rules, the most severe decision winning, and messages.
#include "signup/policy.h"

#include <gtest/gtest.h>

using ev::Reason;
using ev::Status;
using ev::VerificationResult;
using ev::signup::Decision;
using ev::signup::Policy;
using ev::signup::UnknownRule;

namespace {

VerificationResult verdict(Status status, Reason reason) {
    VerificationResult r;
    r.status = status;
    r.reason = reason;
    r.is_disposable = r.is_role = r.is_free = r.is_catch_all = false;
    return r;
}

}  // namespace

TEST(SignupPolicy, DefaultBlocksInvalidWarnsRiskyAndLetsUnknownInForARecheck) {
    Policy p = ev::signup::default_policy();
    auto valid = decide(verdict(Status::Valid, Reason::Accepted), p);
    EXPECT_EQ(valid.decision, Decision::Accept);
    EXPECT_TRUE(valid.message.empty());
    EXPECT_FALSE(valid.recheck);

    auto invalid = decide(verdict(Status::Invalid, Reason::MailboxNotFound), p);
    EXPECT_EQ(invalid.decision, Decision::Block);
    EXPECT_EQ(invalid.message, "This mailbox does not exist.");

    auto risky = decide(verdict(Status::Risky, Reason::Disposable), p);
    EXPECT_EQ(risky.decision, Decision::Warn);
    EXPECT_EQ(risky.message, "This looks like a disposable email address.");

    auto unknown = decide(verdict(Status::Unknown, Reason::Greylisted), p);
    EXPECT_EQ(unknown.decision, Decision::Accept);
    EXPECT_TRUE(unknown.recheck);
    EXPECT_TRUE(unknown.message.empty());
}

TEST(SignupPolicy, ASuggestionIsInTheMessageAndWarnsByDefault) {
    auto r = verdict(Status::Valid, Reason::DomainOk);
    r.suggestion = "john@gmail.com";
    auto d = decide(r, ev::signup::default_policy());
    EXPECT_EQ(d.decision, Decision::Warn);
    EXPECT_EQ(d.message, "Did you mean john@gmail.com?");

    auto bad = verdict(Status::Invalid, Reason::NoDomain);
    bad.suggestion = "john@gmail.com";
    auto blocked = decide(bad, ev::signup::default_policy());
    EXPECT_EQ(blocked.decision, Decision::Block);
    EXPECT_EQ(blocked.message, "This email domain does not exist. Did you mean john@gmail.com?");
}

TEST(SignupPolicy, AReasonOverrideReplacesItsStatussDecision) {
    Policy p = ev::signup::default_policy();
    p.reasons[Reason::MailboxFull] = Decision::Accept;
    p.reasons[Reason::Timeout] = Decision::Block;
    EXPECT_EQ(decide(verdict(Status::Risky, Reason::MailboxFull), p).decision, Decision::Accept);
    EXPECT_EQ(decide(verdict(Status::Risky, Reason::CatchAll), p).decision, Decision::Warn);
    auto timeout = decide(verdict(Status::Unknown, Reason::Timeout), p);
    EXPECT_EQ(timeout.decision, Decision::Block);
    EXPECT_FALSE(timeout.recheck);
    EXPECT_EQ(timeout.message, "This email address could not be checked right now; please try again.");
}

TEST(SignupPolicy, TheMostSevereRuleWinsAndSpeaks) {
    Policy p = ev::signup::default_policy();
    p.free_provider = Decision::Block;
    p.role_account = Decision::Warn;
    auto r = verdict(Status::Valid, Reason::Accepted);
    r.is_free = true;
    r.is_role = true;
    auto d = decide(r, p);
    EXPECT_EQ(d.decision, Decision::Block);
    EXPECT_EQ(d.message, "Please use your work email address.");

    // A flag never softens the verdict's decision.
    p.disposable = Decision::Accept;
    auto disposable = verdict(Status::Risky, Reason::Disposable);
    disposable.is_disposable = true;
    EXPECT_EQ(decide(disposable, p).decision, Decision::Warn);
}

TEST(SignupPolicy, UnknownRules) {
    Policy p;
    auto unknown = verdict(Status::Unknown, Reason::Timeout);
    p.unknown = UnknownRule::Accept;
    EXPECT_EQ(decide(unknown, p).decision, Decision::Accept);
    EXPECT_FALSE(decide(unknown, p).recheck);
    p.unknown = UnknownRule::Block;
    EXPECT_EQ(decide(unknown, p).decision, Decision::Block);
    p.unknown = UnknownRule::AcceptAndRecheck;
    p.catch_all = Decision::Warn;
    unknown.is_catch_all = true;
    auto warned = decide(unknown, p);
    EXPECT_EQ(warned.decision, Decision::Warn);
    EXPECT_TRUE(warned.recheck);
}

TEST(SignupPolicy, NamesParseBothWays) {
    for (auto d : {Decision::Accept, Decision::Warn, Decision::Block})
        EXPECT_EQ(ev::signup::parse_decision(ev::signup::to_string(d)), d);
    EXPECT_FALSE(ev::signup::parse_decision("Block"));
    EXPECT_EQ(ev::signup::parse_unknown_rule("accept_and_recheck"), UnknownRule::AcceptAndRecheck);
    EXPECT_FALSE(ev::signup::parse_unknown_rule("warn"));
}
