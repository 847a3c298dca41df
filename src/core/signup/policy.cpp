#include "signup/policy.h"

#include <array>
#include <utility>

namespace ev::signup {

namespace {

// Phrased for the person at the form, by what decided; the wording of a
// warning differs from a refusal's where the address is let in.
std::string_view reason_message(Reason reason, Decision decision) {
    bool refused = decision == Decision::Block;
    switch (reason) {
        case Reason::Syntax: return "This is not a valid email address.";
        case Reason::NoDomain: return "This email domain does not exist.";
        case Reason::NullMx:
        case Reason::NoMailServer: return "This email domain does not accept mail.";
        case Reason::MailboxNotFound: return "This mailbox does not exist.";
        case Reason::MailboxDisabled: return "This mailbox is disabled.";
        case Reason::Disposable:
            return refused ? "Disposable email addresses are not accepted."
                           : "This looks like a disposable email address.";
        case Reason::MailboxFull: return "This mailbox is full and may not receive mail.";
        case Reason::CatchAll: return "This mailbox could not be confirmed.";
        case Reason::RoleAccount:
            return refused ? "Please use a personal email address, not a shared one."
                           : "This looks like a shared address; a personal one is better.";
        case Reason::Greylisted:
        case Reason::TemporaryFailure:
        case Reason::SmtpBlocked:
        case Reason::Timeout:
        case Reason::ConnectionFailed:
        case Reason::DnsError: return "This email address could not be checked right now; please try again.";
        case Reason::Accepted:
        case Reason::SyntaxOk:
        case Reason::DomainOk: break;
    }
    return "This email address is not accepted.";
}

enum class Cause : std::uint8_t { Verdict, Disposable, Role, Free, CatchAll, Suggestion };

std::string_view cause_message(Cause cause, Reason reason, Decision decision) {
    bool refused = decision == Decision::Block;
    switch (cause) {
        case Cause::Verdict: return reason_message(reason, decision);
        case Cause::Disposable: return reason_message(Reason::Disposable, decision);
        case Cause::Role: return reason_message(Reason::RoleAccount, decision);
        case Cause::Free:
            return refused ? "Please use your work email address." : "This is a free email provider's address.";
        case Cause::CatchAll: return reason_message(Reason::CatchAll, decision);
        case Cause::Suggestion: break;
    }
    return "";  // the suggestion speaks for itself
}

Decision unknown_decision(UnknownRule rule) { return rule == UnknownRule::Block ? Decision::Block : Decision::Accept; }

}  // namespace

std::string_view to_string(Decision decision) {
    switch (decision) {
        case Decision::Accept: return "accept";
        case Decision::Warn: return "warn";
        case Decision::Block: return "block";
    }
    return "block";
}

std::optional<Decision> parse_decision(std::string_view text) {
    if (text == "accept") return Decision::Accept;
    if (text == "warn") return Decision::Warn;
    if (text == "block") return Decision::Block;
    return std::nullopt;
}

std::optional<UnknownRule> parse_unknown_rule(std::string_view text) {
    if (text == "accept") return UnknownRule::Accept;
    if (text == "accept_and_recheck") return UnknownRule::AcceptAndRecheck;
    if (text == "block") return UnknownRule::Block;
    return std::nullopt;
}

Policy default_policy() {
    Policy p;
    p.suggestion = Decision::Warn;
    return p;
}

SignupDecision decide(const VerificationResult& result, const Policy& policy) {
    Decision by_verdict = Decision::Accept;
    if (auto listed = policy.reasons.find(result.reason); listed != policy.reasons.end()) {
        by_verdict = listed->second;
    } else {
        switch (result.status) {
            case Status::Valid: by_verdict = policy.valid; break;
            case Status::Risky: by_verdict = policy.risky; break;
            case Status::Invalid: by_verdict = policy.invalid; break;
            case Status::Unknown: by_verdict = unknown_decision(policy.unknown); break;
        }
    }

    // The verdict first: of equally severe causes, the first one speaks.
    Decision decision = by_verdict;
    Cause cause = Cause::Verdict;
    const std::array<std::pair<Cause, std::optional<Decision>>, 5> flags{{
        {Cause::Disposable, result.is_disposable.value_or(false) ? policy.disposable : std::nullopt},
        {Cause::Role, result.is_role.value_or(false) ? policy.role_account : std::nullopt},
        {Cause::Free, result.is_free.value_or(false) ? policy.free_provider : std::nullopt},
        {Cause::CatchAll, result.is_catch_all.value_or(false) ? policy.catch_all : std::nullopt},
        {Cause::Suggestion, result.suggestion ? policy.suggestion : std::nullopt},
    }};
    for (const auto& [flag, flag_decision] : flags) {
        if (flag_decision && *flag_decision > decision) {
            decision = *flag_decision;
            cause = flag;
        }
    }

    SignupDecision out;
    out.decision = decision;
    out.recheck = decision != Decision::Block && result.status == Status::Unknown &&
                  policy.unknown == UnknownRule::AcceptAndRecheck;
    if (decision != Decision::Accept) out.message = cause_message(cause, result.reason, decision);
    if (result.suggestion) {
        if (!out.message.empty()) out.message += ' ';
        out.message += "Did you mean " + *result.suggestion + "?";
    }
    return out;
}

}  // namespace ev::signup
