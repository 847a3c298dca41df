#include "verifier.h"

#include <stdexcept>
#include <string>

#include "guard.h"
#include "list_cache.h"
#include "prober/budgeted_verify.h"
#include "prober/verifier.h"
#include "prober_state.h"
#include "provider_cache.h"
#include "settings.h"
#include "shared_health.h"
#include "text_io.h"

namespace ev::pg {

namespace {

void require_network_privilege(ev::Level level) {
    bool allowed = false;
    pg_call([&] {
        if (superuser()) {
            allowed = true;
            return;
        }
        Oid role = get_role_oid(kProberRole, true);
        allowed = OidIsValid(role) && has_privs_of_role(GetUserId(), role);
    });
    if (!allowed)
        throw UserError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "permission denied to verify at level \"" + std::string(ev::to_string(level)) + "\"",
                        std::string("Levels dns and smtp send network traffic: a superuser must GRANT ") + kProberRole +
                            " TO the role. Level 'syntax' needs no privilege.");
}

// Between event-loop turns: a cancel or statement_timeout unwinds the probe
// (its sockets close) and is raised at the SQL boundary.
void poll_interrupts() {
    check_for_interrupts();
    if (!PostmasterIsAlive())
        throw UserError(ERRCODE_ADMIN_SHUTDOWN, "email_verify: the postmaster died during a probe");
}

}  // namespace

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
    if (level != ev::Level::Syntax) require_network_privilege(level);
    return level;
}

ev::VerificationResult verify_address(std::string_view input, ev::Level level) {
    return std::move(verify_addresses({input}, level).front());
}

namespace {

ev::prober::VerifierSettings verifier_settings() {
    ev::prober::VerifierSettings settings;
    settings.syntax = syntax_options();
    settings.probe = probe_settings();
    settings.probe.providers = current_provider_rules();
    settings.result_ttl = result_ttl();
    return settings;
}

}  // namespace

ev::prober::BudgetedVerdict verify_within_budget(std::string_view input, ev::Level level,
                                                 std::chrono::milliseconds budget) {
    ev::prober::Verifier verifier(current_risk_lists(), ev::TypoSuggester::builtin(), backend_caches());
    ev::prober::BudgetedVerdict verdict;
    try {
        verdict = ev::prober::verify_within(verifier, input, level, verifier_settings(), budget, poll_interrupts);
    } catch (const std::invalid_argument& e) {
        add_to_totals(verifier.stats());
        throw UserError(ERRCODE_INVALID_PARAMETER_VALUE, e.what());
    } catch (...) {
        add_to_totals(verifier.stats());
        throw;
    }
    add_to_totals(verifier.stats());
    warn_if_newly_blocked();
    return verdict;
}

std::vector<ev::VerificationResult> verify_addresses(const std::vector<std::string_view>& inputs, ev::Level level) {
    ev::prober::VerifierSettings settings = verifier_settings();
    // The run's counters are kept even when a cancel cuts it short.
    ev::prober::Verifier verifier(current_risk_lists(), ev::TypoSuggester::builtin(), backend_caches());
    std::vector<ev::prober::Verdict> verdicts;
    try {
        verdicts = verifier.verify(inputs, level, settings, poll_interrupts);
    } catch (const std::invalid_argument& e) {
        add_to_totals(verifier.stats());
        // A DNS server list c-ares refuses (the GUC check catches most).
        throw UserError(ERRCODE_INVALID_PARAMETER_VALUE, e.what());
    } catch (...) {
        add_to_totals(verifier.stats());
        throw;
    }
    add_to_totals(verifier.stats());
    warn_if_newly_blocked();
    std::string explanation = level == ev::Level::Smtp ? network_explanation() : std::string();
    std::vector<ev::VerificationResult> results;
    results.reserve(verdicts.size());
    for (auto& verdict : verdicts) {
        if (!explanation.empty() && blames_the_network(verdict.result.reason))
            verdict.result.smtp_message = verdict.result.smtp_message.value_or("") + explanation;
        results.push_back(std::move(verdict.result));
    }
    return results;
}

}  // namespace ev::pg
