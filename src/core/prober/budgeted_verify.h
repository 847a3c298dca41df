// One address verified within a time budget (the signup check): whatever is
// known when the budget runs out is the answer. A probe still running then
// is abandoned (its sockets closed); the address's verdict is what its
// syntax and risk lists say, made unknown (timeout) unless that already
// makes it invalid or risky.
#pragma once

#include <chrono>
#include <string_view>

#include "prober/verifier.h"

namespace ev::prober {

struct BudgetedVerdict {
    Verdict verdict;
    // The budget ran out before the verdict at the level asked for.
    bool budget_spent = false;
};

// `poll` is as for Verifier::verify (a cancel still throws through); the
// engine's turns are shortened so that the budget is kept to a few
// milliseconds.
BudgetedVerdict verify_within(Verifier& verifier, std::string_view input, Level level, VerifierSettings settings,
                              std::chrono::milliseconds budget, const Poll& poll = nullptr);

}  // namespace ev::prober
