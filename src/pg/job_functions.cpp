// Submitting bulk jobs (extension/src/97_jobs.sql): submit_job over an array
// and submit_job_from_query over the rows of a query. Both run as the caller:
// the query is the caller's own code, run with the caller's own rights, and
// the job is written through job_create, job_add and job_seal, SECURITY
// DEFINER functions that accept only a job the caller created in this very
// transaction. The addresses go to job_add a slice at a time, so neither the
// array nor the query's rows are ever copied whole: a job of a million
// addresses costs the backend one slice of memory.
#include "guard.h"  // first: it brings postgres.h

#include <string>

#include "jobs/address_key.h"
#include "spi_plans.h"
#include "text_io.h"

namespace {

// Addresses handed to job_add at once.
constexpr int kSlice = 10000;

// The arguments after the first, as job_create takes them: webhook_url,
// webhook_secret, level, endpoint (each may be NULL).
struct JobTarget {
    Datum values[4];
    char nulls[4];
};

JobTarget job_target(FunctionCallInfo fcinfo) {
    JobTarget target{};
    // job_create's order: level, webhook_url, webhook_secret, endpoint.
    const int from[4] = {3, 1, 2, 4};
    for (int k = 0; k < 4; ++k) {
        bool isnull = PG_ARGISNULL(from[k]);
        target.nulls[k] = isnull ? 'n' : ' ';
        target.values[k] = isnull ? 0 : PG_GETARG_DATUM(from[k]);
    }
    return target;
}

// Runs a statement returning one bigint; SPI is connected.
int64 spi_bigint(const char* sql, int nargs, Oid* types, Datum* values, const char* nulls) {
    int64 result = 0;
    ev::pg::pg_call([&] {
        int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1);
        if (rc != SPI_OK_SELECT || SPI_processed != 1) elog(ERROR, "email_verify: %s returned no row", sql);
        bool isnull = false;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        result = isnull ? 0 : DatumGetInt64(d);
        SPI_freetuptable(SPI_tuptable);
    });
    return result;
}

int64 create_job(const JobTarget& target) {
    Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
    Datum values[4];
    for (int k = 0; k < 4; ++k) values[k] = target.values[k];
    return spi_bigint("SELECT email_verify_internal.job_create($1, $2, $3, $4)", 4, types, values, target.nulls);
}

// Appends n addresses to the job, built into an array in the slice context,
// which is reset after. PostgreSQL code only: call it inside pg_call.
void add_slice(int64 job, Datum* values, bool* nulls, int n, MemoryContext slice) {
    MemoryContext old = MemoryContextSwitchTo(slice);
    int dims[1] = {n};
    int lbs[1] = {1};
    ArrayType* part = construct_md_array(values, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);
    MemoryContextSwitchTo(old);
    Oid types[2] = {INT8OID, TEXTARRAYOID};
    Datum args[2] = {Int64GetDatum(job), PointerGetDatum(part)};
    if (SPI_execute_with_args("SELECT email_verify_internal.job_add($1, $2)", 2, types, args, nullptr, false, 1) !=
        SPI_OK_SELECT)
        elog(ERROR, "email_verify: job_add failed");
    SPI_freetuptable(SPI_tuptable);
    MemoryContextReset(slice);
    CHECK_FOR_INTERRUPTS();
}

void seal_job(int64 job) {
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(job)};
    spi_bigint("SELECT email_verify_internal.job_seal($1)", 1, types, values, nullptr);
}

// The context a slice of addresses is built in, reset after each.
MemoryContext new_slice_context() {
    // PostgreSQL's own size macro multiplies in int.
    // NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result)
    return AllocSetContextCreate(CurrentMemoryContext, "email_verify job slice", ALLOCSET_DEFAULT_SIZES);
}

}  // namespace

EV_SQL_FUNCTION(job_address_key) {
    std::string key = ev::jobs::address_key(ev::pg::text_view(PG_GETARG_DATUM(0)));
    Datum result = 0;
    ev::pg::pg_call(
        [&] { result = PointerGetDatum(cstring_to_text_with_len(key.data(), static_cast<int>(key.size()))); });
    return result;
}

EV_SQL_FUNCTION(submit_job) {
    if (PG_ARGISNULL(0))
        throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "addresses must not be NULL",
                                "Give an array of addresses, or use email_verify.submit_job_from_query.");
    JobTarget target = job_target(fcinfo);
    int64 job = 0;
    ev::pg::pg_call([&] {
        ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
        int count = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
        if (count == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("addresses is empty"),
                            errhint("A job needs at least one address.")));
        if (ARR_NDIM(array) > 1)
            ereport(ERROR,
                    (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("addresses must be a one-dimensional array")));
    });
    ev::pg::connect_spi();
    job = create_job(target);
    ev::pg::pg_call([&] {
        ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
        int count = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
        MemoryContext slice = new_slice_context();
        ArrayIterator iterator = array_create_iterator(array, 0, nullptr);
        Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * kSlice));
        bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * kSlice));
        for (int first = 0; first < count; first += kSlice) {
            int n = Min(kSlice, count - first);
            for (int k = 0; k < n; ++k)
                if (!array_iterate(iterator, &values[k], &nulls[k])) elog(ERROR, "email_verify: the array ended early");
            add_slice(job, values, nulls, n, slice);
        }
        array_free_iterator(iterator);
    });
    seal_job(job);
    ev::pg::finish_spi();
    PG_RETURN_INT64(job);
}

EV_SQL_FUNCTION(submit_job_from_query) {
    if (PG_ARGISNULL(0))
        throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "query must not be NULL",
                                "Give a query whose first column is the address, e.g. 'SELECT email FROM leads'.");
    JobTarget target = job_target(fcinfo);
    ev::pg::connect_spi();
    int64 job = create_job(target);
    ev::pg::pg_call([&] {
        char* sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
        SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
        if (plan == nullptr) elog(ERROR, "email_verify: the query could not be prepared (%d)", SPI_result);
        if (!SPI_is_cursor_plan(plan))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("query must be a single SELECT (or VALUES, TABLE) that returns rows")));
        Portal portal = SPI_cursor_open(nullptr, plan, nullptr, nullptr, true);
        MemoryContext slice = new_slice_context();
        Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * kSlice));
        bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * kSlice));
        for (;;) {
            SPI_cursor_fetch(portal, true, kSlice);
            uint64 n = SPI_processed;
            if (n == 0) break;
            SPITupleTable* rows = SPI_tuptable;
            if (rows->tupdesc->natts < 1)
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("query must return the address as its first column")));
            Oid type = SPI_gettypeid(rows->tupdesc, 1);
            MemoryContext old = MemoryContextSwitchTo(slice);
            for (uint64 k = 0; k < n; ++k) {
                if (type == TEXTOID || type == VARCHAROID) {
                    values[k] = SPI_getbinval(rows->vals[k], rows->tupdesc, 1, &nulls[k]);
                } else {
                    // Any other type (citext, a domain, bpchar) by its output function.
                    char* text = SPI_getvalue(rows->vals[k], rows->tupdesc, 1);
                    nulls[k] = text == nullptr;
                    values[k] = text ? CStringGetTextDatum(text) : 0;
                }
            }
            MemoryContextSwitchTo(old);
            add_slice(job, values, nulls, static_cast<int>(n), slice);
            SPI_freetuptable(rows);
        }
        SPI_cursor_close(portal);
    });
    seal_job(job);
    ev::pg::finish_spi();
    PG_RETURN_INT64(job);
}
