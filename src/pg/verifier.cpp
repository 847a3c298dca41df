#include "verifier.h"

#include <chrono>
#include <string>

#include "guard.h"
#include "list_cache.h"
#include "settings.h"
#include "syntax_verifier.h"
#include "text_io.h"

namespace ev::pg {

ev::Level level_arg(FunctionCallInfo fcinfo, int n) {
    auto text = text_arg(fcinfo, n);
    ev::Level level = default_level();
    if (text) {
        auto parsed = ev::parse_level(*text);
        if (!parsed)
            throw UserError(ERRCODE_INVALID_PARAMETER_VALUE,
                            "invalid verification level \"" + std::string(*text) + "\"",
                            "The level is 'syntax', 'dns' or 'smtp' (NULL: email_verify.default_level).");
        level = *parsed;
    }
    if (level != ev::Level::Syntax)
        throw UserError(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "verification level \"" + std::string(ev::to_string(level)) + "\" is not available yet",
                        "This version verifies at level 'syntax' only: pass level => 'syntax', or set "
                        "email_verify.default_level = 'syntax'.");
    return level;
}

ev::VerificationResult verify_address(std::string_view input, ev::Level) {
    // Loading the lists is the backend's cost, not this address's.
    ev::SyntaxVerifier verifier(current_risk_lists(), ev::TypoSuggester::builtin());
    auto started = std::chrono::steady_clock::now();
    ev::VerificationResult result = verifier.verify(input, syntax_options());
    auto finished = std::chrono::steady_clock::now();
    result.duration_ms = std::chrono::duration<double, std::milli>(finished - started).count();
    result.checked_at_unix =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    return result;
}

}  // namespace ev::pg
