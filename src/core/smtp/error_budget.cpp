#include "smtp/error_budget.h"

#include <algorithm>

#include "smtp/session.h"

namespace ev::smtp {

namespace {

// A budget that went well is tried four times larger next: from 9, three
// steps reach 200, so a list of unknown users at a server without limits
// soon goes 200 refusals a session; a limit found on the way costs one
// slowed reply whichever step finds it.
constexpr int kGrowth = 4;

void start_from_safe_budget(ErrorBudgetFact& fact, const SessionConfig& config) {
    if (fact.budget > 0) return;
    fact.budget = std::max(1, config.max_errors);
    fact.pipelined = fact.budget;
}

}  // namespace

void take_error_budget(ErrorBudgetFact& fact, SessionConfig& config) {
    start_from_safe_budget(fact, config);
    bool try_larger = fact.budget > fact.pipelined && !fact.trying;
    if (try_larger) fact.trying = true;
    config.max_errors = try_larger ? fact.budget : fact.pipelined;
    config.pipelined_errors = fact.pipelined;
}

void learn_error_budget(ErrorBudgetFact& fact, const ErrorEvidence& seen, const SessionConfig& config) {
    start_from_safe_budget(fact, config);
    if (seen.budget > seen.pipelined) fact.trying = false;  // the session that tried is back

    int limit = 0;  // refusals after which the server showed a limit
    if (seen.slowed_after > 0) limit = seen.slowed_after;
    if (seen.cut_after > 0) limit = limit > 0 ? std::min(limit, seen.cut_after) : seen.cut_after;
    if (limit > 0) {
        // One under what the server took, so that the command after the last
        // refusal (RSET, MAIL, QUIT) is not the one that pays.
        fact.budget = std::min(fact.budget, std::max(1, limit - 1));
        fact.pipelined = fact.budget;
        fact.limit_seen = true;
        return;
    }
    if (fact.limit_seen || !seen.finished || seen.refusals < seen.budget) return;
    // The session spent its budget and the server never flinched.
    fact.pipelined = std::max(fact.pipelined, std::min(seen.refusals, fact.budget));
    int ceiling = std::max(config.max_errors_learned, 1);
    fact.budget = std::max(fact.budget, std::min(ceiling, fact.pipelined * kGrowth));
    fact.pipelined = std::min(fact.pipelined, fact.budget);
}

}  // namespace ev::smtp
