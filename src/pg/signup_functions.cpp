// check_signup() and signup_verdict(): the signup decision (README.md, "The
// signup moment"). A policy row of email_verify.signup_policies becomes a
// core signup::Policy, the address is verified within the budget, and the
// core decides (src/core/signup/policy.h).
#include <chrono>
#include <cmath>
#include <optional>
#include <string>

#include "consumer_limits.h"
#include "guard.h"
#include "result_tuple.h"
#include "signup/policy.h"
#include "spi_plans.h"
#include "text_io.h"
#include "verifier.h"

namespace {

using ev::signup::Decision;
using ev::signup::Policy;

constexpr int kDecisionColumns = 15;
constexpr auto kLongestBudget = std::chrono::minutes(1);

std::optional<ev::Reason> parse_reason(std::string_view name) {
    for (int r = 0; r <= static_cast<int>(ev::Reason::DomainOk); ++r)
        if (ev::to_string(static_cast<ev::Reason>(r)) == name) return static_cast<ev::Reason>(r);
    return std::nullopt;
}

// The table's CHECK constraints keep these words valid; a row that slipped
// past them (constraints dropped by hand) is an error, not a guess.
Decision decision_of(const std::optional<std::string>& text, const std::string& policy) {
    auto d = ev::signup::parse_decision(text.value_or(""));
    if (!d)
        throw ev::pg::UserError(
            ERRCODE_DATA_CORRUPTED,
            "signup policy \"" + policy + "\" holds an unknown decision \"" + text.value_or("") + "\"");
    return *d;
}

std::optional<Decision> flag_decision(const std::optional<std::string>& text, const std::string& policy) {
    if (!text) return std::nullopt;
    return decision_of(text, policy);
}

// The row of email_verify.signup_policies named `name`, read as the current user.
Policy read_policy(const std::string& name) {
    static SPIPlanPtr plan = nullptr;
    Policy policy;
    ev::pg::connect_spi();
    try {
        if (!plan) {
            Oid types[1] = {TEXTOID};
            plan = ev::pg::keep_plan(
                "SELECT p.valid, p.risky, p.invalid, p.unknown, p.disposable, p.role_account, p.free_provider, "
                "       p.catch_all, p.suggestion, r.key, r.value "
                "FROM email_verify.signup_policies p "
                "LEFT JOIN LATERAL pg_catalog.jsonb_each_text(p.reasons) r ON true "
                "WHERE p.name OPERATOR(pg_catalog.=) $1",
                1, types);
        }
        Datum args[1] = {ev::pg::text_value(name)};
        uint64 rows = ev::pg::run_kept_plan(plan, args);
        if (rows == 0)
            throw ev::pg::UserError(ERRCODE_UNDEFINED_OBJECT, "signup policy \"" + name + "\" does not exist",
                                    "The policies are the rows of email_verify.signup_policies; 'default' is shipped.");
        auto cell = [](uint64 row, int column) { return ev::pg::cell_text(SPI_tuptable, row, column); };
        policy.valid = decision_of(cell(0, 1), name);
        policy.risky = decision_of(cell(0, 2), name);
        policy.invalid = decision_of(cell(0, 3), name);
        auto unknown = ev::signup::parse_unknown_rule(cell(0, 4).value_or(""));
        if (!unknown)
            throw ev::pg::UserError(ERRCODE_DATA_CORRUPTED, "signup policy \"" + name + "\" holds an unknown rule \"" +
                                                                cell(0, 4).value_or("") + "\" for unknown verdicts");
        policy.unknown = *unknown;
        policy.disposable = flag_decision(cell(0, 5), name);
        policy.role_account = flag_decision(cell(0, 6), name);
        policy.free_provider = flag_decision(cell(0, 7), name);
        policy.catch_all = flag_decision(cell(0, 8), name);
        policy.suggestion = flag_decision(cell(0, 9), name);
        for (uint64 row = 0; row < rows; ++row) {
            auto key = cell(row, 10);
            if (!key) continue;
            auto reason = parse_reason(*key);
            if (!reason)
                throw ev::pg::UserError(ERRCODE_DATA_CORRUPTED,
                                        "signup policy \"" + name + "\" names an unknown reason \"" + *key + "\"");
            policy.reasons[*reason] = decision_of(cell(row, 11), name);
        }
    } catch (...) {
        ev::pg::finish_spi();
        throw;
    }
    ev::pg::finish_spi();
    return policy;
}

// A sync watch without a policy: reject_invalid blocks invalid addresses,
// otherwise every row is let in.
Policy watch_policy(bool reject_invalid) {
    Policy p;
    p.valid = p.risky = Decision::Accept;
    p.invalid = reject_invalid ? Decision::Block : Decision::Accept;
    return p;
}

std::chrono::milliseconds budget_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "budget must not be NULL");
    Interval* interval = PG_GETARG_INTERVAL_P(n);
    double seconds = 0;
    ev::pg::pg_call([&] {
        seconds = DatumGetFloat8(
            DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"), IntervalPGetDatum(interval)));
    });
    auto budget = std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
    if (budget <= std::chrono::milliseconds(0) || budget > kLongestBudget)
        throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE, "budget must be positive and at most 1 minute",
                                "It is the time the check may take, e.g. '300 ms'.");
    return budget;
}

// Over the role's limit: no probe; what the syntax says, or unknown.
ev::prober::BudgetedVerdict refused_by_limit(std::string_view address, ev::Level level) {
    ev::prober::BudgetedVerdict out;
    out.verdict.result = ev::pg::verify_address(address, ev::Level::Syntax);
    ev::VerificationResult& r = out.verdict.result;
    r.level = level;
    if (r.status == ev::Status::Valid) {
        r.status = ev::Status::Unknown;
        r.reason = ev::Reason::TemporaryFailure;
        r.score = ev::delivery_score(r.reason, r.suggestion.has_value());
        r.smtp_message = "not checked: the writer's email_verify check limit is spent";
    }
    out.verdict.final = false;
    return out;
}

Datum decision_row(FunctionCallInfo fcinfo, const ev::prober::BudgetedVerdict& verdict, const Policy& policy) {
    const ev::VerificationResult& r = verdict.verdict.result;
    ev::signup::SignupDecision d = ev::signup::decide(r, policy);
    Datum values[kDecisionColumns] = {};
    bool nulls[kDecisionColumns] = {};
    auto set_text = [&](int i, const std::optional<std::string>& s) {
        nulls[i] = !s;
        if (s) values[i] = ev::pg::text_datum(*s);
    };
    auto set_bool = [&](int i, const std::optional<bool>& b) {
        nulls[i] = !b;
        values[i] = BoolGetDatum(b.value_or(false));
    };
    set_text(0, std::string(ev::signup::to_string(d.decision)));
    set_text(1, d.message.empty() ? std::nullopt : std::optional<std::string>(d.message));
    set_text(2, r.suggestion);
    set_text(3, std::string(ev::to_string(r.status)));
    set_text(4, std::string(ev::to_string(r.reason)));
    set_bool(5, d.recheck);
    set_bool(6, verdict.budget_spent);
    set_text(7, r.normalized);
    set_bool(8, r.is_disposable);
    set_bool(9, r.is_role);
    set_bool(10, r.is_free);
    set_bool(11, r.is_catch_all);
    set_bool(12, r.from_cache);
    values[13] = TimestampTzGetDatum(ev::pg::timestamptz_from_unix(r.checked_at_unix));
    values[14] = Float8GetDatum(r.duration_ms);
    return ev::pg::record_result(fcinfo, values, nulls);
}

}  // namespace

// check_signup(address, policy, level, budget) -> email_verify.signup_decision
EV_SQL_FUNCTION(check_signup) {
    auto address = ev::pg::text_arg(fcinfo, 0);
    if (!address) PG_RETURN_NULL();
    auto policy_name = ev::pg::text_arg(fcinfo, 1);
    if (!policy_name) throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "policy must not be NULL");
    if (PG_ARGISNULL(2)) throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "level must not be NULL");
    ev::Level level = ev::pg::level_arg(fcinfo, 2);
    auto budget = budget_arg(fcinfo, 3);
    Policy policy = read_policy(std::string(*policy_name));
    if (level != ev::Level::Syntax) ev::pg::require_consumer_checks(1);
    return decision_row(fcinfo, ev::pg::verify_within_budget(*address, level, budget), policy);
}

// signup_verdict(address, policy, level, budget, reject_invalid, over_limit):
// a sync watch's inline decision (email_verify_internal.sync_probe).
EV_SQL_FUNCTION(signup_verdict) {
    auto address = ev::pg::text_arg(fcinfo, 0);
    if (!address) PG_RETURN_NULL();
    auto policy_name = ev::pg::text_arg(fcinfo, 1);
    auto level_text = ev::pg::text_arg(fcinfo, 2);
    auto level = level_text ? ev::parse_level(*level_text) : std::nullopt;
    if (!level) throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE, "invalid level for a sync watch");
    auto budget = budget_arg(fcinfo, 3);
    bool reject_invalid = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
    bool over_limit = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
    Policy policy = policy_name ? read_policy(std::string(*policy_name)) : watch_policy(reject_invalid);
    auto verdict =
        over_limit ? refused_by_limit(*address, *level) : ev::pg::verify_within_budget(*address, *level, budget);
    return decision_row(fcinfo, verdict, policy);
}
