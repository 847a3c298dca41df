// worker_stats(): the background workers' shared counters, for the stats view;
// claim_limit(): the core retry policy's limit, for the queue's SQL.
#include <cmath>

#include "guard.h"
#include "queue/item_lifecycle.h"
#include "result_tuple.h"
#include "settings.h"
#include "worker_shmem.h"

namespace {

// Upper bound (ms) of the histogram bucket holding the given quantile.
double quantile_ms(const ev::pg::WorkerCounters& c, double q) {
    uint64 total = 0;
    for (uint64 n : c.latency_us_buckets) total += n;
    if (total == 0) return std::nan("");
    uint64 rank = static_cast<uint64>(std::ceil(q * static_cast<double>(total)));
    uint64 seen = 0;
    for (int i = 0; i < 32; ++i) {
        seen += c.latency_us_buckets[i];
        if (seen >= rank) return std::ldexp(1.0, i + 1) / 1000.0;
    }
    return std::ldexp(1.0, 32) / 1000.0;
}

}  // namespace

EV_SQL_FUNCTION(worker_stats) {
    ev::pg::WorkerCounters c{};
    bool present = ev::pg::counters_snapshot(&c);
    Datum values[7];
    bool nulls[7] = {};
    values[0] = Int64GetDatum(static_cast<int64>(c.probes_in_flight));
    values[1] = Int64GetDatum(static_cast<int64>(c.verdicts_written));
    values[2] = Int64GetDatum(static_cast<int64>(c.retries_scheduled));
    values[3] = Int64GetDatum(static_cast<int64>(c.batches));
    const double quantiles[3] = {0.50, 0.95, 0.99};
    for (int i = 0; i < 3; ++i) {
        double ms = present ? quantile_ms(c, quantiles[i]) : std::nan("");
        nulls[4 + i] = std::isnan(ms);
        values[4 + i] = Float8GetDatum(ms);
    }
    if (!present)
        for (int i = 0; i < 4; ++i) nulls[i] = true;
    return ev::pg::record_result(fcinfo, values, nulls);
}

EV_SQL_FUNCTION(claim_limit) {
    ev::pg::WorkerSettings settings = ev::pg::worker_settings();
    ev::queue::RetryPolicy policy{settings.retry_attempts, settings.retry_delay};
    PG_RETURN_INT32(policy.claim_limit());
}
