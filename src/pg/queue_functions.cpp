// The SQL faces of the queue's claiming side (queue_claim.h): claim_batch,
// enqueue_unverified and enqueue_stale, for the isolation spec, the tests and
// tools; the worker calls claim_batch itself.
#include <cmath>

#include "guard.h"
#include "queue_claim.h"
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
