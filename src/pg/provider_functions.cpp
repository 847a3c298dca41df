// SQL faces of the big-provider rules (extension/src/85_providers.sql): the
// table's pattern check, its change trigger, and provider_for_mx().
#include <string>

#include "guard.h"
#include "pg_prelude.h"
#include "provider_cache.h"
#include "text_io.h"

namespace {

constexpr int kMaxPatterns = 64;

}  // namespace

// CHECK constraint of providers.mx_patterns: one to 64 host names, no NULL,
// as the rules take them (normalize_mx_pattern).
EV_SQL_FUNCTION(mx_patterns_are_valid) {
    Datum* values = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    int dimensions = 0;
    ev::pg::pg_call([&] {
        ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
        dimensions = ARR_NDIM(array);
        deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, &count);
    });
    if (dimensions != 1 || count < 1 || count > kMaxPatterns) PG_RETURN_BOOL(false);
    for (int i = 0; i < count; ++i)
        if (nulls[i] || !ev::prober::normalize_mx_pattern(ev::pg::text_view(values[i]))) PG_RETURN_BOOL(false);
    PG_RETURN_BOOL(true);
}

// After any change to email_verify.providers: every backend reads the rules
// again before its next probe.
EV_SQL_FUNCTION(providers_changed) {
    ev::pg::pg_call([&] {
        if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "providers_changed: not called as a trigger");
        auto* trigger_data = reinterpret_cast<TriggerData*>(fcinfo->context);
        CacheInvalidateRelcache(trigger_data->tg_relation);
    });
    return PointerGetDatum(nullptr);
}

// provider_for_mx(mx_host text) -> text: the enabled provider an MX host
// name belongs to, as the prober would see it; NULL when none.
EV_SQL_FUNCTION(provider_for_mx) {
    auto host = ev::pg::text_arg(fcinfo, 0);
    if (!host) PG_RETURN_NULL();
    auto rules = ev::pg::current_provider_rules();
    const ev::prober::Provider* provider = rules->match(*host);
    if (!provider) PG_RETURN_NULL();
    return ev::pg::text_datum(provider->name);
}
