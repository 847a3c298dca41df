// Submitting bulk jobs (extension/src/97_jobs.sql): submit_job over an array
// and submit_job_from_query over the rows of a query. Both run as the caller:
// the query is the caller's own code, run with the caller's own rights, and
// the job is written through job_create, job_add, job_add_addresses and
// job_seal, SECURITY DEFINER functions that accept only a job the caller
// created in this very transaction. The inputs go to job_add a chunk at a
// time, deduplicated on the way (src/core/jobs/job_builder.h), so neither the
// array nor the query's rows are ever copied whole; the distinct addresses
// are kept until the end, when their copies are known (a few tens of bytes
// each).
#include "guard.h"  // first: it brings postgres.h

#include <string>
#include <vector>

#include "jobs/address_key.h"
#include "jobs/job_builder.h"
#include "spi_plans.h"
#include "text_io.h"

namespace {

// Address chunks handed to job_add_addresses at once (the call costs more
// than a chunk).
constexpr int32 kChunksPerCall = 8;

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

// The context a chunk's values are built in, reset after each.
MemoryContext new_chunk_context() {
    // PostgreSQL's own size macro multiplies in int.
    // NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result)
    return AllocSetContextCreate(CurrentMemoryContext, "email_verify job chunk", ALLOCSET_DEFAULT_SIZES);
}

// A job being written: inputs as they come, a chunk at a time (flush), the
// distinct addresses at the end (seal).
class JobWriter {
  public:
    explicit JobWriter(int64 job) : job_(job) {
        ev::pg::pg_call([&] { chunk_memory_ = new_chunk_context(); });
        emails_.reserve(ev::jobs::kInputChunk);
        addresses_.reserve(ev::jobs::kInputChunk);
    }

    // One input, a text Datum (or NULL, refused); valid until the next flush.
    void add(Datum email, bool isnull) {
        if (isnull)
            throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                                    "address " + std::to_string(builder_.inputs() + 1) + " of the job is NULL",
                                    "Leave NULL addresses out (WHERE email IS NOT NULL).");
        std::string_view text;
        in_chunk_memory([&] { text = ev::pg::text_view(email); });
        addresses_.push_back(Int32GetDatum(builder_.add(text)));
        emails_.push_back(email);
        if (static_cast<int>(emails_.size()) == ev::jobs::kInputChunk) flush();
    }

    // Writes the inputs added since the last flush as the next chunk.
    void flush() {
        if (emails_.empty()) return;
        in_chunk_memory([&] {
            Oid types[4] = {INT8OID, INT4OID, TEXTARRAYOID, INT4ARRAYOID};
            Datum args[4] = {Int64GetDatum(job_), Int32GetDatum(input_chunks_),
                             ev::pg::make_array(emails_, {}, TEXTOID), ev::pg::make_array(addresses_, {}, INT4OID)};
            spi_bigint("SELECT email_verify_internal.job_add($1, $2, $3, $4)", 4, types, args, nullptr);
        });
        ++input_chunks_;
        emails_.clear();
        addresses_.clear();
        ev::pg::pg_call([&] { MemoryContextReset(chunk_memory_); });
        ev::pg::check_for_interrupts();
    }

    // The distinct addresses, then job_seal's checks.
    void seal() {
        flush();
        for (int32 first = 0; first < builder_.address_chunks(); first += kChunksPerCall) {
            std::vector<Datum> keys, copies;
            in_chunk_memory([&] {
                for (int32 chunk = first; chunk < std::min(first + kChunksPerCall, builder_.address_chunks());
                     ++chunk) {
                    for (std::string_view key : builder_.chunk_keys(chunk)) keys.push_back(ev::pg::text_datum(key));
                    for (int32 n : builder_.chunk_copies(chunk)) copies.push_back(Int32GetDatum(n));
                }
                Oid types[4] = {INT8OID, INT4OID, TEXTARRAYOID, INT4ARRAYOID};
                Datum args[4] = {Int64GetDatum(job_), Int32GetDatum(first), ev::pg::make_array(keys, {}, TEXTOID),
                                 ev::pg::make_array(copies, {}, INT4OID)};
                spi_bigint("SELECT email_verify_internal.job_add_addresses($1, $2, $3, $4)", 4, types, args, nullptr);
            });
            ev::pg::pg_call([&] { MemoryContextReset(chunk_memory_); });
            ev::pg::check_for_interrupts();
        }
        Oid types[1] = {INT8OID};
        Datum values[1] = {Int64GetDatum(job_)};
        spi_bigint("SELECT email_verify_internal.job_seal($1)", 1, types, values, nullptr);
    }

    // Runs body with the chunk's memory current: what it pallocs lives until
    // the next flush. A thrown error restores the context first.
    template <typename F>
    void in_chunk_memory(F&& body) {
        MemoryContext old = MemoryContextSwitchTo(chunk_memory_);
        try {
            body();
        } catch (...) {
            MemoryContextSwitchTo(old);
            throw;
        }
        MemoryContextSwitchTo(old);
    }

  private:
    int64 job_;
    int32 input_chunks_ = 0;
    ev::jobs::JobBuilder builder_;
    std::vector<Datum> emails_, addresses_;
    MemoryContext chunk_memory_ = nullptr;
};

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
    ArrayType* array = nullptr;
    int count = 0;
    ev::pg::pg_call([&] {
        array = PG_GETARG_ARRAYTYPE_P(0);
        count = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
        if (count == 0)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("addresses is empty"),
                            errhint("A job needs at least one address.")));
        if (ARR_NDIM(array) > 1)
            ereport(ERROR,
                    (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("addresses must be a one-dimensional array")));
    });
    ev::pg::connect_spi();
    int64 job = create_job(target);
    JobWriter writer(job);
    ArrayIterator iterator = nullptr;
    ev::pg::pg_call([&] { iterator = array_create_iterator(array, 0, nullptr); });
    for (int k = 0; k < count; ++k) {
        Datum value = 0;
        bool isnull = false;
        bool more = false;
        ev::pg::pg_call([&] { more = array_iterate(iterator, &value, &isnull); });
        if (!more) throw ev::pg::UserError(ERRCODE_INTERNAL_ERROR, "email_verify: the array ended early");
        writer.add(value, isnull);
    }
    ev::pg::pg_call([&] { array_free_iterator(iterator); });
    writer.seal();
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
    JobWriter writer(job);
    Portal portal = nullptr;
    ev::pg::pg_call([&] {
        char* sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
        SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
        if (plan == nullptr) elog(ERROR, "email_verify: the query could not be prepared (%d)", SPI_result);
        if (!SPI_is_cursor_plan(plan))
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("query must be a single SELECT (or VALUES, TABLE) that returns rows")));
        portal = SPI_cursor_open(nullptr, plan, nullptr, nullptr, true);
    });
    for (;;) {
        uint64 n = 0;
        SPITupleTable* rows = nullptr;
        Oid type = InvalidOid;
        ev::pg::pg_call([&] {
            SPI_cursor_fetch(portal, true, ev::jobs::kInputChunk);
            n = SPI_processed;
            rows = SPI_tuptable;
            if (n > 0 && rows->tupdesc->natts < 1)
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("query must return the address as its first column")));
            if (n > 0) type = SPI_gettypeid(rows->tupdesc, 1);
        });
        if (n == 0) break;
        for (uint64 k = 0; k < n; ++k) {
            Datum value = 0;
            bool isnull = false;
            writer.in_chunk_memory([&] {
                ev::pg::pg_call([&] {
                    if (type == TEXTOID || type == VARCHAROID) {
                        value = SPI_getbinval(rows->vals[k], rows->tupdesc, 1, &isnull);
                    } else {
                        // Any other type (citext, a domain, bpchar) by its output function.
                        char* text = SPI_getvalue(rows->vals[k], rows->tupdesc, 1);
                        isnull = text == nullptr;
                        value = text ? CStringGetTextDatum(text) : 0;
                    }
                });
            });
            writer.add(value, isnull);
        }
        // The rows' Datums die with their table: their chunk is written first.
        writer.flush();
        ev::pg::pg_call([&] { SPI_freetuptable(rows); });
    }
    ev::pg::pg_call([&] { SPI_cursor_close(portal); });
    writer.seal();
    ev::pg::finish_spi();
    PG_RETURN_INT64(job);
}
