// What a SQL call asks of the core: the level it may run at and its verdicts.
#pragma once

#include <chrono>
#include <string_view>
#include <vector>

#include "pg_prelude.h"
#include "prober/budgeted_verify.h"
#include "verification_result.h"

namespace ev::pg {

// The role whose members (and superusers) may verify at levels dns and smtp.
constexpr const char* kProberRole = "email_verify_prober";

// Argument n as a level; SQL NULL means email_verify.default_level. Throws
// UserError for an unknown level, or for a network level the current user
// may not use.
ev::Level level_arg(FunctionCallInfo fcinfo, int n);

// One verdict at `level`, with checked_at and duration_ms stamped.
ev::VerificationResult verify_address(std::string_view input, ev::Level level);

// Verdicts for many addresses, in input order; levels dns and smtp probe
// them all concurrently. Honours query cancel and statement_timeout.
std::vector<ev::VerificationResult> verify_addresses(const std::vector<std::string_view>& inputs, ev::Level level);

// One verdict at `level` within `budget` (the signup check): what is known
// when the budget runs out (prober/budgeted_verify.h). Honours query cancel
// and statement_timeout.
ev::prober::BudgetedVerdict verify_within_budget(std::string_view input, ev::Level level,
                                                 std::chrono::milliseconds budget);

}  // namespace ev::pg
