// Small helpers for CHECK constraints, indexes and WHERE clauses.
//
// The syntax helpers take their options as arguments instead of reading the
// GUCs, so that they are truly IMMUTABLE and can back an index or a CHECK.
// The list helpers read email_verify.list_entries and are STABLE.
#include <string>

#include "guard.h"
#include "list_cache.h"
#include "settings.h"
#include "syntax_verifier.h"
#include "text_io.h"

namespace {

ev::ParsedAddress parse_with_arguments(FunctionCallInfo fcinfo) {
    ev::SyntaxOptions options;
    options.allow_quoted_local = ev::pg::bool_arg_or(fcinfo, 1, false);
    options.allow_domain_literal = ev::pg::bool_arg_or(fcinfo, 2, false);
    return ev::parse_address(*ev::pg::text_arg(fcinfo, 0), options);
}

// The domain part of an address, or the text itself when it has no '@'.
std::optional<std::string> domain_of(std::string_view address_or_domain) {
    std::string candidate(address_or_domain);
    if (candidate.find('@') == std::string::npos) candidate = "postmaster@" + candidate;
    ev::ParsedAddress parsed = ev::parse_address(candidate, ev::pg::syntax_options());
    if (!parsed.ok() || parsed.domain_is_literal) return std::nullopt;
    return parsed.domain;
}

Datum optional_text(FunctionCallInfo fcinfo, const std::optional<std::string>& value) {
    if (!value) PG_RETURN_NULL();
    return ev::pg::text_datum(*value);
}

}  // namespace

EV_SQL_FUNCTION(is_valid_syntax) { PG_RETURN_BOOL(parse_with_arguments(fcinfo).ok()); }

EV_SQL_FUNCTION(normalize_email) {
    ev::ParsedAddress parsed = parse_with_arguments(fcinfo);
    if (!parsed.ok()) PG_RETURN_NULL();
    return ev::pg::text_datum(parsed.normalized());
}

EV_SQL_FUNCTION(email_domain) {
    ev::ParsedAddress parsed = parse_with_arguments(fcinfo);
    if (!parsed.ok()) PG_RETURN_NULL();
    return ev::pg::text_datum(parsed.domain);
}

EV_SQL_FUNCTION(syntax_error) {
    ev::ParsedAddress parsed = parse_with_arguments(fcinfo);
    if (parsed.ok()) PG_RETURN_NULL();
    return ev::pg::text_datum(ev::describe(parsed.error));
}

EV_SQL_FUNCTION(suggest_email) {
    ev::ParsedAddress parsed = ev::parse_address(*ev::pg::text_arg(fcinfo, 0), ev::pg::syntax_options());
    if (!parsed.ok()) PG_RETURN_NULL();
    ev::SyntaxVerifier verifier(ev::pg::current_risk_lists(), ev::TypoSuggester::builtin());
    return optional_text(fcinfo, verifier.suggest(parsed));
}

EV_SQL_FUNCTION(is_disposable) {
    auto domain = domain_of(*ev::pg::text_arg(fcinfo, 0));
    if (!domain) PG_RETURN_NULL();
    PG_RETURN_BOOL(ev::pg::current_risk_lists().is_disposable(*domain));
}

EV_SQL_FUNCTION(is_free) {
    auto domain = domain_of(*ev::pg::text_arg(fcinfo, 0));
    if (!domain) PG_RETURN_NULL();
    PG_RETURN_BOOL(ev::pg::current_risk_lists().is_free(*domain));
}

EV_SQL_FUNCTION(is_role) {
    std::string_view input = *ev::pg::text_arg(fcinfo, 0);
    if (input.find('@') == std::string_view::npos) PG_RETURN_BOOL(ev::pg::current_risk_lists().is_role(input));
    ev::ParsedAddress parsed = ev::parse_address(input, ev::pg::syntax_options());
    if (!parsed.ok()) PG_RETURN_NULL();
    PG_RETURN_BOOL(ev::pg::current_risk_lists().is_role(ev::unquoted_local(parsed)));
}
