// The server-wide prober views' functions: what shared memory holds.
#include "guard.h"
#include "prober_counters.h"
#include "result_tuple.h"
#include "set_result.h"
#include "shared_cache.h"
#include "shared_health.h"
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

EV_SQL_FUNCTION(prober_counters) {
    TupleDesc desc = result_descriptor(fcinfo, "prober_counters");
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);
    std::vector<ev::pg::NamedCounter> counters;
    std::vector<ev::pg::PhaseLatency> phases;
    ev::pg::server_counters(&counters, &phases);
    for (const auto& c : counters) {
        ev::pg::pg_call([&] {
            Datum values[2] = {CStringGetTextDatum(c.name.c_str()), Int64GetDatum(static_cast<int64>(c.value))};
            bool nulls[2] = {};
            tuplestore_putvalues(store, desc, values, nulls);
        });
    }
    return static_cast<Datum>(0);
}

EV_SQL_FUNCTION(prober_latency) {
    TupleDesc desc = result_descriptor(fcinfo, "prober_latency");
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);
    std::vector<ev::pg::NamedCounter> counters;
    std::vector<ev::pg::PhaseLatency> phases;
    ev::pg::server_counters(&counters, &phases);
    for (const auto& p : phases) {
        const auto& h = p.histogram;
        ev::pg::pg_call([&] {
            Datum values[5] = {CStringGetTextDatum(p.phase.c_str()), Int64GetDatum(static_cast<int64>(h.samples())),
                               Float8GetDatum(h.quantile_ms(0.5)), Float8GetDatum(h.quantile_ms(0.9)),
                               Float8GetDatum(h.quantile_ms(0.99))};
            bool nulls[5] = {};
            tuplestore_putvalues(store, desc, values, nulls);
        });
    }
    return static_cast<Datum>(0);
}

EV_SQL_FUNCTION(prober_health) {
    ev::pg::HealthSnapshot health;
    bool present = ev::pg::health_snapshot(&health);
    Datum values[5] = {};
    bool nulls[5] = {};
    ev::pg::pg_call([&] {
        values[0] = CStringGetTextDatum(ev::prober::to_string(health.state));
        values[4] = CStringGetTextDatum(present ? health.evidence.c_str()
                                                : "unknown: shared_preload_libraries does not load email_verify");
    });
    // Unix seconds to PostgreSQL's epoch (2000-01-01), in microseconds.
    constexpr double kPostgresEpochUnix = 946684800.0;
    nulls[1] = !present || health.state_since_unix == 0;
    values[1] = TimestampTzGetDatum(static_cast<TimestampTz>((health.state_since_unix - kPostgresEpochUnix) * 1e6));
    nulls[2] = !present;
    values[2] = Int32GetDatum(health.failing_hosts);
    nulls[3] = !present || health.seconds_since_success < 0;
    values[3] = Float8GetDatum(health.seconds_since_success);
    return ev::pg::record_result(fcinfo, values, nulls);
}
