// prober_stats() and clear_cache(): a window on this backend's prober.
#include "guard.h"
#include "prober_state.h"
#include "result_tuple.h"

EV_SQL_FUNCTION(prober_stats) {
    const ev::prober::RunStats& t = ev::pg::backend_totals();
    const auto& caches = ev::pg::peek_caches();
    Datum values[8] = {
        Int64GetDatum(static_cast<int64>(caches.results.size())),
        Int64GetDatum(static_cast<int64>(caches.routes.size())),
        Int64GetDatum(t.sessions_opened),
        Int32GetDatum(t.max_sessions_per_host),
        Int64GetDatum(t.rcpts_sent),
        Int64GetDatum(t.catch_all_probes),
        Int64GetDatum(t.tls_sessions),
        Int64GetDatum(t.tls_unverified),
    };
    bool nulls[8] = {};
    return ev::pg::record_result(fcinfo, values, nulls);
}

EV_SQL_FUNCTION(clear_cache) {
    ev::pg::clear_backend_state();
    PG_RETURN_VOID();
}
