// The SQL faces of the workers' job steps (job_claims.h, job_items.h), for
// probers on other machines (extension/src/99_remote_probers.sql): they
// claim, settle, put back and give back job addresses exactly as an
// in-server worker does, under their own worker id. None is executable by
// PUBLIC; prober_claim and prober_report call them after checking the prober.
#include "guard.h"  // first: it brings postgres.h

#include <string>
#include <vector>

#include "job_claims.h"
#include "job_items.h"
#include "result_tuple.h"
#include "set_result.h"
#include "spi_plans.h"
#include "text_io.h"

namespace {

using ev::pg::ArrayElements;

// The parallel arrays' common length; an error when they differ.
int common_length(std::initializer_list<const ArrayElements*> arrays) {
    int n = -1;
    for (const ArrayElements* e : arrays) {
        if (n >= 0 && e->count != n)
            throw ev::pg::UserError(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "the arrays must have the same length");
        n = e->count;
    }
    return n < 0 ? 0 : n;
}

}  // namespace

EV_SQL_FUNCTION(claim_job_batch) {
    int32 worker_id = PG_GETARG_INT32(0);
    int32 limit = PG_GETARG_INT32(1);
    int32 lease_seconds = PG_GETARG_INT32(2);
    TupleDesc desc = nullptr;
    ev::pg::pg_call([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "email_verify: claim_job_batch must return a row type");
        desc = BlessTupleDesc(CreateTupleDescCopy(desc));
    });
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);
    ev::pg::connect_spi();
    ev::pg::JobClaim claim = ev::pg::claim_job_items(worker_id, limit, lease_seconds);
    ev::pg::finish_spi();
    // Each item's claim: the range it falls in (claims follow one another
    // per job, in order), none for a retry.
    for (const ev::pg::JobItem& item : claim.items) {
        Datum values[6];
        bool nulls[6] = {};
        values[0] = Int64GetDatum(item.job_id);
        values[1] = Int32GetDatum(item.address);
        values[2] = ev::pg::text_datum(item.address_key);
        values[3] = ev::pg::text_datum(ev::to_string(item.level));
        values[4] = Int32GetDatum(item.attempts);
        nulls[5] = true;
        if (!item.from_retry)
            for (const ev::pg::JobRange& range : claim.ranges)
                if (range.job_id == item.job_id) {
                    values[5] = Int64GetDatum(range.id);
                    nulls[5] = false;
                }
        ev::pg::pg_call([&] { tuplestore_putvalues(store, desc, values, nulls); });
    }
    return static_cast<Datum>(0);
}

EV_SQL_FUNCTION(settle_job_batch) {
    ArrayElements jobs = ev::pg::array_elements(PG_GETARG_DATUM(0));
    ArrayElements addresses = ev::pg::array_elements(PG_GETARG_DATUM(1));
    ArrayElements retried = ev::pg::array_elements(PG_GETARG_DATUM(2));
    ArrayElements results = ev::pg::array_elements(PG_GETARG_DATUM(3));
    int n = common_length({&jobs, &addresses, &retried, &results});
    std::vector<ev::pg::JobItem> items;
    std::vector<ev::VerificationResult> verdicts;
    items.reserve(static_cast<std::size_t>(n));
    verdicts.reserve(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) {
        if (jobs.nulls[k] || addresses.nulls[k] || results.nulls[k]) continue;
        auto verdict = ev::pg::result_of_row(DatumGetHeapTupleHeader(results.values[k]));
        if (!verdict)
            throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE,
                                    "result " + std::to_string(k + 1) + " has no known status, reason or level");
        ev::pg::JobItem item;
        item.job_id = DatumGetInt64(jobs.values[k]);
        item.address = DatumGetInt32(addresses.values[k]);
        item.address_key = verdict->email;
        item.from_retry = !retried.nulls[k] && DatumGetBool(retried.values[k]);
        items.push_back(std::move(item));
        verdicts.push_back(std::move(*verdict));
    }
    std::vector<ev::pg::JobVerdict> settled;
    settled.reserve(items.size());
    for (std::size_t k = 0; k < items.size(); ++k) settled.push_back({&items[k], &verdicts[k]});
    ev::pg::connect_spi();
    int64 inputs = ev::pg::settle_job_items(settled);
    ev::pg::finish_spi();
    PG_RETURN_INT64(inputs);
}

EV_SQL_FUNCTION(retry_job_batch) {
    ArrayElements jobs = ev::pg::array_elements(PG_GETARG_DATUM(0));
    ArrayElements addresses = ev::pg::array_elements(PG_GETARG_DATUM(1));
    ArrayElements attempts = ev::pg::array_elements(PG_GETARG_DATUM(2));
    ArrayElements delays = ev::pg::array_elements(PG_GETARG_DATUM(3));
    int n = common_length({&jobs, &addresses, &attempts, &delays});
    std::vector<ev::pg::JobItem> items;
    items.reserve(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) {
        if (jobs.nulls[k] || addresses.nulls[k]) continue;
        ev::pg::JobItem item;
        item.job_id = DatumGetInt64(jobs.values[k]);
        item.address = DatumGetInt32(addresses.values[k]);
        item.attempts = attempts.nulls[k] ? 0 : DatumGetInt32(attempts.values[k]);
        items.push_back(std::move(item));
    }
    // The attempts given are those the address now has: none added here.
    std::vector<ev::pg::JobRetry> retries;
    retries.reserve(items.size());
    for (std::size_t k = 0; k < items.size(); ++k) {
        double delay = delays.nulls[k] ? 0 : DatumGetFloat8(delays.values[k]);
        retries.push_back({&items[k], delay, false});
    }
    ev::pg::connect_spi();
    ev::pg::retry_job_items(retries);
    ev::pg::finish_spi();
    PG_RETURN_VOID();
}

EV_SQL_FUNCTION(end_job_batch) {
    int32 worker_id = PG_GETARG_INT32(0);
    ArrayElements claims = ev::pg::array_elements(PG_GETARG_DATUM(1));
    std::vector<int64> ids;
    ids.reserve(static_cast<std::size_t>(claims.count));
    for (int k = 0; k < claims.count; ++k)
        if (!claims.nulls[k]) ids.push_back(DatumGetInt64(claims.values[k]));
    ev::pg::connect_spi();
    ev::pg::end_job_claims(ids, worker_id);
    ev::pg::finish_spi();
    PG_RETURN_VOID();
}

EV_SQL_FUNCTION(release_job_batch) {
    int32 worker_id = PG_GETARG_INT32(0);
    ev::pg::connect_spi();
    ev::pg::release_job_claims(worker_id);
    ev::pg::finish_spi();
    PG_RETURN_VOID();
}
