// The SQL faces of the queue (queue_claim.h, queue_items.h): claim_batch,
// enqueue_unverified, enqueue_stale, retry_later and release_claims, for the
// isolation spec, the tests and tools; the worker calls the C++ itself.
#include <cmath>
#include <utility>
#include <vector>

#include "guard.h"
#include "queue_claim.h"
#include "queue_items.h"
#include "set_result.h"
#include "spi_plans.h"

namespace {

int32 int_arg(FunctionCallInfo fcinfo, int n, const char* name) {
    if (PG_ARGISNULL(n))
        throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be NULL");
    return PG_GETARG_INT32(n);
}

}  // namespace

// claim_batch(worker_id int, batch_size int, lease interval)
//   -> TABLE(queue_id bigint, watch_id int, row_key jsonb, email text, level text, attempts int)
EV_SQL_FUNCTION(claim_batch) {
    int32 worker_id = int_arg(fcinfo, 0, "worker_id");
    int32 batch_size = int_arg(fcinfo, 1, "batch_size");
    if (PG_ARGISNULL(2)) throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "lease must not be NULL");
    double lease = 0;
    ev::pg::pg_call([&] {
        lease = DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"), PG_GETARG_DATUM(2)));
    });
    TupleDesc desc = nullptr;
    ev::pg::pg_call([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "claim_batch: no row type");
        desc = BlessTupleDesc(desc);
    });
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);
    ev::pg::connect_spi();
    std::vector<ev::pg::ClaimedItem> items =
        ev::pg::claim_batch(worker_id, batch_size, static_cast<int>(std::lround(std::max(lease, 0.0))));
    ev::pg::finish_spi();
    for (const auto& item : items) {
        std::string level(ev::to_string(item.level));
        ev::pg::pg_call([&] {
            Datum values[6] = {Int64GetDatum(item.queue_id),
                               Int32GetDatum(item.watch_id),
                               DirectFunctionCall1(jsonb_in, CStringGetDatum(item.row_key.c_str())),
                               CStringGetTextDatum(item.email.c_str()),
                               CStringGetTextDatum(level.c_str()),
                               Int32GetDatum(item.attempts)};
            bool nulls[6] = {};
            tuplestore_putvalues(store, desc, values, nulls);
        });
    }
    return static_cast<Datum>(0);
}

static Datum sweep_function(FunctionCallInfo fcinfo, bool stale) {
    int32 max_rows = int_arg(fcinfo, 0, "max_rows");
    ev::pg::connect_spi();
    int64 queued = ev::pg::sweep_into_queue(max_rows, stale);
    ev::pg::finish_spi();
    PG_RETURN_INT32(static_cast<int32>(queued));
}

// enqueue_unverified(max_rows int) -> int
EV_SQL_FUNCTION(enqueue_unverified) { return sweep_function(fcinfo, false); }

// enqueue_stale(max_rows int) -> int
EV_SQL_FUNCTION(enqueue_stale) { return sweep_function(fcinfo, true); }

namespace {

// The elements of a one-dimensional array argument (NULL: none), with their
// NULL flags.
std::vector<std::pair<Datum, bool>> array_arg(FunctionCallInfo fcinfo, int n) {
    std::vector<std::pair<Datum, bool>> out;
    if (PG_ARGISNULL(n)) return out;
    ev::pg::ArrayElements e = ev::pg::array_elements(PG_GETARG_DATUM(n));
    for (int i = 0; i < e.count; ++i) out.emplace_back(e.values[i], e.nulls[i]);
    return out;
}

}  // namespace

// retry_later(queue_ids bigint[], reasons text[], delays interval[]) -> int
EV_SQL_FUNCTION(retry_later) {
    auto ids = array_arg(fcinfo, 0);
    auto reasons = array_arg(fcinfo, 1);
    auto delays = array_arg(fcinfo, 2);
    if (reasons.size() != ids.size() || delays.size() != ids.size())
        throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE,
                                "queue_ids, reasons and delays must have the same length");
    std::vector<ev::pg::Retry> retries;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i].second) continue;
        ev::pg::Retry retry;
        retry.queue_id = DatumGetInt64(ids[i].first);
        if (!reasons[i].second) {
            // As stored: in the database encoding.
            const char* reason = nullptr;
            ev::pg::pg_call([&] { reason = TextDatumGetCString(reasons[i].first); });
            retry.reason = reason;
        }
        if (!delays[i].second) {
            double seconds = 0;
            ev::pg::pg_call([&] {
                seconds =
                    DatumGetFloat8(DirectFunctionCall2(interval_part, CStringGetTextDatum("epoch"), delays[i].first));
            });
            retry.delay_seconds = seconds;
        }
        retries.push_back(std::move(retry));
    }
    ev::pg::connect_spi();
    int64 requeued = ev::pg::retry_later(retries);
    ev::pg::finish_spi();
    PG_RETURN_INT32(static_cast<int32>(requeued));
}

// release_claims(worker_id int) -> int
EV_SQL_FUNCTION(release_claims) {
    int32 worker_id = int_arg(fcinfo, 0, "worker_id");
    ev::pg::connect_spi();
    int64 released = ev::pg::release_claims(worker_id);
    ev::pg::finish_spi();
    PG_RETURN_INT32(static_cast<int32>(released));
}
