// One verdict, field for field the email_verify.result type (README.md,
// "The result").
#pragma once

#include <optional>
#include <string>

#include "verdict.h"

namespace ev {

struct VerificationResult {
    std::string email;  // the input as given
    std::optional<std::string> normalized;
    Status status = Status::Unknown;
    Reason reason = Reason::Syntax;
    Level level = Level::Syntax;
    std::optional<std::string> suggestion;
    // NULL (nullopt) only when the address is not even well formed.
    std::optional<bool> is_disposable;
    std::optional<bool> is_role;
    std::optional<bool> is_free;
    std::optional<bool> is_catch_all;
    std::optional<bool> mx_found;
    std::optional<std::string> mx_host;
    std::optional<int> smtp_code;
    std::optional<std::string> smtp_message;
    int score = 0;
    double checked_at_unix = 0;  // seconds since the Unix epoch
    double duration_ms = 0;
    bool from_cache = false;
};

}  // namespace ev
