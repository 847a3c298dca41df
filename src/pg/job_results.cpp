// email_verify_internal.job_chunk_results (extension/src/97_jobs.sql): one
// chunk of a job's inputs expanded into result rows, each with the verdict
// of its address read from job_address_chunks. The decoded address chunks
// are cached for the rest of the query (in fn_extra), a bounded number of
// them: inputs in order mostly need the chunk the last one needed, and a
// duplicate far from its first copy costs one more read, never the job in
// memory.
#include "guard.h"  // first: it brings postgres.h

#include <algorithm>
#include <list>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "job_items.h"
#include "jobs/job_builder.h"
#include "jobs/verdict_slots.h"
#include "result_tuple.h"
#include "set_result.h"
#include "spi_plans.h"
#include "text_io.h"

namespace {

// Decoded address chunks kept per query: at most this many (some 50 kB each).
constexpr std::size_t kCachedChunks = 64;

struct QueryState {
    TupleDesc desc = nullptr;
    std::map<int64, bool> readable;  // job -> may the caller read it
    using Key = std::pair<int64, int32>;
    std::list<Key> recent;  // most recently used first
    std::map<Key, std::pair<ev::jobs::VerdictSlots, std::list<Key>::iterator>> chunks;

    const ev::jobs::VerdictSlots* find(const Key& key) {
        auto it = chunks.find(key);
        if (it == chunks.end()) return nullptr;
        recent.splice(recent.begin(), recent, it->second.second);
        return &it->second.first;
    }

    void keep(const Key& key, ev::jobs::VerdictSlots slots) {
        if (chunks.count(key)) return;
        while (chunks.size() >= kCachedChunks) {
            chunks.erase(recent.back());
            recent.pop_back();
        }
        recent.push_front(key);
        chunks.emplace(key, std::make_pair(std::move(slots), recent.begin()));
    }
};

void delete_state(void* state) { delete static_cast<QueryState*>(state); }

// The state of this call site's query, made at its first call and deleted
// with the query's memory.
QueryState& query_state(FunctionCallInfo fcinfo) {
    if (fcinfo->flinfo->fn_extra) return *static_cast<QueryState*>(fcinfo->flinfo->fn_extra);
    auto* state = new QueryState();
    try {
        ev::pg::pg_call([&] {
            TupleDesc found;
            if (get_call_result_type(fcinfo, nullptr, &found) != TYPEFUNC_COMPOSITE ||
                found->natts != ev::pg::kResultColumns)
                elog(ERROR, "email_verify: job_chunk_results must return email_verify.result");
            MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
            state->desc = BlessTupleDesc(CreateTupleDescCopy(found));
            auto* callback = static_cast<MemoryContextCallback*>(palloc(sizeof(MemoryContextCallback)));
            callback->func = delete_state;
            callback->arg = state;
            MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, callback);
            MemoryContextSwitchTo(old);
        });
    } catch (...) {
        delete state;
        throw;
    }
    fcinfo->flinfo->fn_extra = state;
    return *state;
}

// Whether the calling role may read the job (may_read_job); asked once per query.
void check_readable(QueryState& state, int64 job) {
    auto known = state.readable.find(job);
    bool readable = false;
    if (known != state.readable.end()) {
        readable = known->second;
    } else {
        static SPIPlanPtr plan = nullptr;
        if (!plan) {
            Oid types[1] = {INT8OID};
            plan = ev::pg::keep_plan("SELECT email_verify_internal.may_read_job($1)", 1, types);
        }
        Datum values[1] = {Int64GetDatum(job)};
        ev::pg::run_kept_plan(plan, values);
        readable = ev::pg::cell_text(SPI_tuptable, 0, 1).value_or("f") == "t";
        state.readable[job] = readable;
    }
    if (!readable)
        throw ev::pg::UserError(ERRCODE_NO_DATA_FOUND, "email_verify job " + std::to_string(job) + " does not exist",
                                "A role sees its own jobs; superusers and members of email_verify_admin see all.");
}

// Reads and caches the address chunks of the job that are not cached yet.
void load_chunks(QueryState& state, int64 job, const std::vector<int32>& wanted) {
    std::vector<Datum> missing;
    for (int32 chunk : wanted)
        if (!state.chunks.count({job, chunk})) missing.push_back(Int32GetDatum(chunk));
    if (missing.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[2] = {INT8OID, INT4ARRAYOID};
        plan = ev::pg::keep_plan(
            "SELECT c.chunk, c.verdicts, cardinality(c.keys) FROM email_verify_internal.job_address_chunks c "
            "WHERE c.job_id = $1 AND c.chunk = ANY ($2)",
            2, types);
    }
    Datum values[2] = {Int64GetDatum(job), ev::pg::make_array(missing, {}, INT4OID)};
    uint64 rows = ev::pg::run_kept_plan(plan, values);
    for (uint64 r = 0; r < rows; ++r) {
        ev::pg::AddressChunk chunk = ev::pg::address_chunk_of_row(r, 2, 3);
        if (!chunk.readable)
            throw ev::pg::UserError(ERRCODE_DATA_CORRUPTED, "email_verify: the verdicts of chunk " +
                                                                std::to_string(chunk.chunk) + " of job " +
                                                                std::to_string(job) + " cannot be read");
        state.keep({job, chunk.chunk}, std::move(chunk.slots));
    }
}

}  // namespace

namespace {

// check: whether the calling role must be one that may see the job
// (job_chunk_results, callable by everyone); job_chunk_rows, for the
// extension's own SQL (event_body), reads what its caller may read.
Datum chunk_results(FunctionCallInfo fcinfo, bool check) {
    QueryState& state = query_state(fcinfo);
    int64 job = PG_GETARG_INT64(0);
    ev::pg::ArrayElements emails = ev::pg::array_elements(PG_GETARG_DATUM(1));
    ev::pg::ArrayElements addresses = ev::pg::array_elements(PG_GETARG_DATUM(2));
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, state.desc);
    ev::pg::connect_spi();
    if (check) check_readable(state, job);
    // The address chunks this input chunk needs, in the order first needed.
    std::vector<int32> wanted;
    for (int k = 0; k < addresses.count; ++k) {
        if (addresses.nulls[k] || DatumGetInt32(addresses.values[k]) < 0) continue;
        int32 chunk = DatumGetInt32(addresses.values[k]) / ev::jobs::kAddressChunk;
        if (std::find(wanted.begin(), wanted.end(), chunk) == wanted.end()) wanted.push_back(chunk);
    }
    std::size_t prefetched = 0;
    for (int k = 0; k < emails.count; ++k) {
        if (emails.nulls[k]) continue;
        const ev::VerificationResult* verdict = nullptr;
        int32 ordinal = k < addresses.count && !addresses.nulls[k] ? DatumGetInt32(addresses.values[k]) : -1;
        if (ordinal >= 0) {
            int32 chunk = ordinal / ev::jobs::kAddressChunk;
            const ev::jobs::VerdictSlots* slots = state.find({job, chunk});
            if (!slots) {
                // This chunk and the next ones needed, in one read.
                std::vector<int32> batch{chunk};
                for (; prefetched < wanted.size() && batch.size() < kCachedChunks / 2; ++prefetched)
                    batch.push_back(wanted[prefetched]);
                load_chunks(state, job, batch);
                slots = state.find({job, chunk});
            }
            auto slot = static_cast<std::size_t>(ordinal % ev::jobs::kAddressChunk);
            if (slots && slot < slots->size() && (*slots)[slot]) verdict = &*(*slots)[slot];
        }
        HeapTuple tuple = ev::pg::result_tuple_of_input(state.desc, emails.values[k], verdict);
        ev::pg::pg_call([&] {
            tuplestore_puttuple(store, tuple);
            heap_freetuple(tuple);
        });
    }
    ev::pg::finish_spi();
    return static_cast<Datum>(0);
}

}  // namespace

EV_SQL_FUNCTION(job_chunk_results) { return chunk_results(fcinfo, true); }

EV_SQL_FUNCTION(job_chunk_rows) { return chunk_results(fcinfo, false); }

// The verdict slots of a chunk from its results as rows (NULL: no verdict):
// how the upgrade from 0.6.0 moves a job's verdicts into chunks.
EV_SQL_FUNCTION(job_verdict_slots) {
    ev::pg::ArrayElements rows = ev::pg::array_elements(PG_GETARG_DATUM(0));
    ev::jobs::VerdictSlots slots(static_cast<std::size_t>(rows.count));
    for (int k = 0; k < rows.count; ++k)
        if (!rows.nulls[k])
            slots[static_cast<std::size_t>(k)] = ev::pg::result_of_row(DatumGetHeapTupleHeader(rows.values[k]));
    return ev::pg::bytea_value(ev::jobs::encode_slots(slots));
}
