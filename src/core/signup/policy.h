// The signup decision: what an application at its signup form does with a
// verdict (accept, warn, block), under a named policy
// (email_verify.signup_policies), and the short message shown to the person
// typing the address.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "verification_result.h"

namespace ev::signup {

// In increasing severity: the decision of several rules is the most severe.
enum class Decision : std::uint8_t { Accept, Warn, Block };

// What an unknown verdict (the check could not finish) does.
enum class UnknownRule : std::uint8_t { Accept, AcceptAndRecheck, Block };

std::string_view to_string(Decision decision);
std::optional<Decision> parse_decision(std::string_view text);
std::optional<UnknownRule> parse_unknown_rule(std::string_view text);

struct Policy {
    Decision valid = Decision::Accept;
    Decision risky = Decision::Warn;
    Decision invalid = Decision::Block;
    UnknownRule unknown = UnknownRule::AcceptAndRecheck;
    // A reason listed here replaces its status's decision.
    std::map<Reason, Decision> reasons;
    // Each applies when its flag is set; none has a say when absent.
    std::optional<Decision> disposable;
    std::optional<Decision> role_account;
    std::optional<Decision> free_provider;
    std::optional<Decision> catch_all;
    std::optional<Decision> suggestion;
};

// The shipped 'default' policy: invalid blocked, risky and typo suggestions
// warned, unknown let in and checked again later.
Policy default_policy();

struct SignupDecision {
    Decision decision = Decision::Accept;
    // Let in by the unknown rule accept_and_recheck: the verdict is to be
    // reached later (a sync watch leaves the row to the worker).
    bool recheck = false;
    // For the person at the form; empty for a plain accept.
    std::string message;
};

// The decision for `result` under `policy`.
SignupDecision decide(const VerificationResult& result, const Policy& policy);

}  // namespace ev::signup
