// The server-wide prober views' functions: what shared memory holds.
#include "guard.h"
#include "result_tuple.h"
#include "set_result.h"
#include "shared_cache.h"
#include "shared_permits.h"

namespace {

TupleDesc result_descriptor(FunctionCallInfo fcinfo, const char* name) {
    TupleDesc desc = nullptr;
    ev::pg::pg_call([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "%s: no row type", name);
        desc = BlessTupleDesc(desc);
    });
    return desc;
}

}  // namespace

EV_SQL_FUNCTION(prober_sites) {
    TupleDesc desc = result_descriptor(fcinfo, "prober_sites");
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);
    for (const auto& site : ev::pg::site_snapshots()) {
        ev::pg::pg_call([&] {
            Datum values[4] = {CStringGetTextDatum(site.site.c_str()), Int32GetDatum(site.sessions_open),
                               Float8GetDatum(site.session_tokens_due_in_ms),
                               Float8GetDatum(site.rcpt_tokens_due_in_ms)};
            bool nulls[4] = {};
            tuplestore_putvalues(store, desc, values, nulls);
        });
    }
    return static_cast<Datum>(0);
}

EV_SQL_FUNCTION(prober_cache) {
    ev::pg::SharedCacheStats stats;
    bool present = ev::pg::shared_cache_stats(&stats);
    Datum values[7] = {
        Int64GetDatum(static_cast<int64>(stats.capacity)),  Int64GetDatum(static_cast<int64>(stats.entries)),
        Int64GetDatum(static_cast<int64>(stats.hits)),      Int64GetDatum(static_cast<int64>(stats.misses)),
        Int64GetDatum(static_cast<int64>(stats.stores)),    Int64GetDatum(static_cast<int64>(stats.evictions)),
        Int64GetDatum(static_cast<int64>(stats.too_large)),
    };
    bool nulls[7];
    for (bool& n : nulls) n = !present;
    return ev::pg::record_result(fcinfo, values, nulls);
}
