// What a SQL call asks of the core: the level it may run at and one verdict.
#pragma once

#include <string_view>

#include "pg_prelude.h"
#include "verification_result.h"

namespace ev::pg {

// Argument n as a level; SQL NULL means email_verify.default_level. Throws
// UserError for an unknown level or one this build cannot run yet.
ev::Level level_arg(FunctionCallInfo fcinfo, int n);

// One verdict at `level`, with checked_at and duration_ms stamped.
ev::VerificationResult verify_address(std::string_view input, ev::Level level);

}  // namespace ev::pg
