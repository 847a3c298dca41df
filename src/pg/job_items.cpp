// The workers' side of bulk jobs: see job_items.h. Every statement is
// prepared once, under search_path pg_catalog (keep_plan), and kept.
#include "job_items.h"

#include <array>
#include <functional>
#include <map>

#include "guard.h"
#include "guc_scope.h"
#include "jobs/job_builder.h"
#include "spi_plans.h"
#include "text_io.h"

namespace ev::pg {

namespace {

Datum job_id_array(const std::vector<const JobItem*>& items) {
    std::vector<int64> ids;
    ids.reserve(items.size());
    for (const JobItem* item : items) ids.push_back(item->job_id);
    return bigint_array(ids);
}

}  // namespace

AddressChunk address_chunk_of_row(uint64 row, int verdicts_column, int size_column) {
    AddressChunk chunk;
    std::string_view bytes;
    int32 size = 0;
    pg_call([&] {
        bool isnull = false;
        HeapTuple tuple = SPI_tuptable->vals[row];
        chunk.chunk = DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull));
        Datum verdicts = SPI_getbinval(tuple, SPI_tuptable->tupdesc, verdicts_column, &isnull);
        if (!isnull) {
            bytea* b = DatumGetByteaPP(verdicts);
            bytes = std::string_view(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
        }
        size = DatumGetInt32(SPI_getbinval(tuple, SPI_tuptable->tupdesc, size_column, &isnull));
    });
    auto slots = ev::jobs::decode_slots(bytes, static_cast<std::size_t>(std::max(size, 0)));
    chunk.readable = slots.has_value();
    chunk.slots = slots ? std::move(*slots) : ev::jobs::VerdictSlots(static_cast<std::size_t>(std::max(size, 0)));
    return chunk;
}

std::string utf8_cell(uint64 row, int column) {
    Datum value = 0;
    bool isnull = true;
    pg_call([&] { value = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &isnull); });
    return isnull ? std::string() : std::string(text_view(value));
}

namespace {

// The elements of an array cell of the last result (none for NULL).
ArrayElements array_cell(uint64 row, int column) {
    Datum value = 0;
    bool isnull = true;
    pg_call([&] { value = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &isnull); });
    return isnull ? ArrayElements() : array_elements(value);
}

}  // namespace

std::vector<std::string> utf8_array_cell(uint64 row, int column) {
    ArrayElements e = array_cell(row, column);
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(e.count));
    for (int k = 0; k < e.count; ++k) out.emplace_back(e.nulls[k] ? std::string_view() : text_view(e.values[k]));
    return out;
}

std::vector<int64> bigints_of_result(uint64 rows) {
    std::vector<int64> ids;
    for (uint64 r = 0; r < rows; ++r) ids.push_back(std::stoll(cell_text(SPI_tuptable, r, 1).value_or("0")));
    return ids;
}

Datum bigint_array(const std::vector<int64>& values) {
    std::vector<Datum> datums;
    datums.reserve(values.size());
    for (int64 v : values) datums.push_back(Int64GetDatum(v));
    return make_array(datums, {}, INT8OID);
}

void with_index_lookups(const std::function<void()>& body) {
    // One plan for every call: arrays of any length read by unnest, and a
    // custom plan (the cache's first choice) would be made again each batch.
    with_settings({{"plan_cache_mode", "force_generic_plan"},
                   {"enable_hashjoin", "off"},
                   {"enable_mergejoin", "off"},
                   {"enable_bitmapscan", "off"},
                   {"enable_memoize", "off"},
                   {"enable_seqscan", "off"}},
                  body);
}

void emit_job_events(const std::vector<int64>& jobs, const char* event_type) {
    if (jobs.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[2] = {INT8ARRAYOID, TEXTOID};
        plan = keep_plan("SELECT email_verify_internal.emit_event(j.id, $2) FROM unnest($1) AS j(id) ORDER BY j.id", 2,
                         types);
    }
    Datum values[2] = {bigint_array(jobs), text_value(event_type)};
    run_kept_plan(plan, values);
}

namespace {

std::vector<int32> int_array_cell(uint64 row, int column) {
    ArrayElements e = array_cell(row, column);
    std::vector<int32> out;
    out.reserve(static_cast<std::size_t>(e.count));
    for (int k = 0; k < e.count; ++k) out.push_back(e.nulls[k] ? 0 : DatumGetInt32(e.values[k]));
    return out;
}

// What one job's verdicts add: rewritten chunks, the counts per status and
// reason (over copies), and the inputs they stand for.
struct JobSettlement {
    std::vector<Datum> chunks, verdicts, added;
    std::vector<Datum> retried;  // addresses claimed from job_retries: their rows end
    std::map<std::pair<std::string, std::string>, std::array<int64, 3>> counts;  // n, disposable, catch_all
    int64 inputs = 0;
    bool running = false;  // whether the job was still running (its chunks locked)
};

// Locks the job's chunks the verdicts fall in (none when the job is no longer
// running) and merges the verdicts into their empty slots.
JobSettlement merge_into_chunks(SPIPlanPtr lock, int64 job, const std::vector<const JobVerdict*>& verdicts) {
    JobSettlement out;
    std::map<int32, std::vector<const JobVerdict*>> by_chunk;
    for (const JobVerdict* v : verdicts) {
        by_chunk[v->item->address / ev::jobs::kAddressChunk].push_back(v);
        if (v->item->from_retry) out.retried.push_back(Int32GetDatum(v->item->address));
    }
    std::vector<Datum> wanted;
    wanted.reserve(by_chunk.size());
    for (const auto& entry : by_chunk) wanted.push_back(Int32GetDatum(entry.first));
    Datum values[2] = {Int64GetDatum(job), make_array(wanted, {}, INT4OID)};
    uint64 rows = 0;
    with_index_lookups([&] { rows = run_kept_plan(lock, values); });
    out.running = rows > 0;
    for (uint64 r = 0; r < rows; ++r) {
        AddressChunk chunk = address_chunk_of_row(r, 2, 3);
        std::vector<int32> copies = int_array_cell(r, 4);
        int32 added = 0;
        for (const JobVerdict* v : by_chunk[chunk.chunk]) {
            auto slot = static_cast<std::size_t>(v->item->address % ev::jobs::kAddressChunk);
            if (slot >= chunk.slots.size() || chunk.slots[slot]) continue;  // written by another claim
            chunk.slots[slot] = *v->result;
            int64 n = slot < copies.size() ? copies[slot] : 1;
            auto& count = out.counts[{std::string(ev::to_string(v->result->status)),
                                      std::string(ev::to_string(v->result->reason))}];
            count[0] += n;
            if (v->result->is_disposable.value_or(false)) count[1] += n;
            if (v->result->is_catch_all.value_or(false)) count[2] += n;
            out.inputs += n;
            ++added;
        }
        if (added == 0) continue;
        out.chunks.push_back(Int32GetDatum(chunk.chunk));
        out.verdicts.push_back(bytea_value(ev::jobs::encode_slots(chunk.slots)));
        out.added.push_back(Int32GetDatum(added));
    }
    return out;
}

}  // namespace

int64 settle_job_items(const std::vector<JobVerdict>& verdicts) {
    if (verdicts.empty()) return 0;
    static SPIPlanPtr lock = nullptr, settle = nullptr, complete = nullptr, progress = nullptr;
    if (!progress) {  // the last one prepared: all are, or all are prepared again
        Oid lock_types[2] = {INT8OID, INT4ARRAYOID};
        lock = keep_plan(
            "SELECT c.chunk, c.verdicts, cardinality(c.keys), c.copies "
            "FROM email_verify_internal.job_address_chunks c "
            "JOIN email_verify_internal.jobs j ON j.id = c.job_id AND j.state = 'running' "
            "WHERE c.job_id = $1 AND c.chunk = ANY ($2) FOR UPDATE OF c",
            2, lock_types);
        // The merged chunks written, the addresses' retries gone, the counts
        // and the job's processed inputs moved on: one statement per job.
        Oid types[11] = {INT8OID,      INT4ARRAYOID, BYTEAARRAYOID, INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
                         TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,  INT8ARRAYOID, INT8OID};
        settle = keep_plan(
            "WITH chunks AS ("
            "    UPDATE email_verify_internal.job_address_chunks c SET verdicts = u.verdicts, done = c.done + u.added"
            "    FROM ROWS FROM (unnest($2), unnest($3), unnest($4)) AS u(chunk, verdicts, added)"
            "    WHERE c.job_id = $1 AND c.chunk = u.chunk"
            "), retried AS ("
            "    DELETE FROM email_verify_internal.job_retries x"
            "    WHERE cardinality($5) > 0 AND x.job_id = $1 AND x.address = ANY ($5)"
            "), counted AS ("
            "    INSERT INTO email_verify_internal.job_counts AS c (job_id, status, reason, n, disposable, catch_all)"
            "    SELECT $1, t.status, t.reason, t.n, t.disposable, t.catch_all"
            "    FROM ROWS FROM (unnest($6), unnest($7), unnest($8), unnest($9), unnest($10))"
            "         AS t(status, reason, n, disposable, catch_all)"
            "    ON CONFLICT (job_id, status, reason) DO UPDATE"
            "    SET n = c.n + excluded.n, disposable = c.disposable + excluded.disposable,"
            "        catch_all = c.catch_all + excluded.catch_all"
            ")"
            "UPDATE email_verify_internal.jobs j SET processed = j.processed + $11 WHERE j.id = $1",
            11, types);
        Oid one[1] = {INT8ARRAYOID};
        complete = keep_plan(
            "UPDATE email_verify_internal.jobs SET state = 'completed', finished_at = now() "
            "WHERE id = ANY ($1) AND state = 'running' AND processed >= total RETURNING id",
            1, one);
        progress = keep_plan(
            "UPDATE email_verify_internal.jobs SET progress_sent_at = now() "
            "WHERE id = ANY ($1) AND state = 'running' "
            "  AND (progress_sent_at IS NULL OR progress_sent_at <= now() - "
            "       coalesce(current_setting('email_verify.webhook_progress_interval', true), '30s')::interval) "
            "RETURNING id",
            1, one);
    }
    // One statement per job: a batch holds the addresses of a few jobs.
    std::map<int64, std::vector<const JobVerdict*>> of_job;
    for (const JobVerdict& v : verdicts) of_job[v.item->job_id].push_back(&v);
    std::vector<int64> touched;
    int64 inputs = 0;
    for (const auto& [job, settled] : of_job) {
        JobSettlement s = merge_into_chunks(lock, job, settled);
        // Verdicts another claim wrote first still end their retries.
        if (!s.running) continue;
        std::vector<Datum> statuses, reasons, ns, disposables, catch_alls;
        for (const auto& [key, count] : s.counts) {
            statuses.push_back(text_value(key.first));
            reasons.push_back(text_value(key.second));
            ns.push_back(Int64GetDatum(count[0]));
            disposables.push_back(Int64GetDatum(count[1]));
            catch_alls.push_back(Int64GetDatum(count[2]));
        }
        Datum values[11] = {Int64GetDatum(job),
                            make_array(s.chunks, {}, INT4OID),
                            make_array(s.verdicts, {}, BYTEAOID),
                            make_array(s.added, {}, INT4OID),
                            make_array(s.retried, {}, INT4OID),
                            make_array(statuses, {}, TEXTOID),
                            make_array(reasons, {}, TEXTOID),
                            make_array(ns, {}, INT8OID),
                            make_array(disposables, {}, INT8OID),
                            make_array(catch_alls, {}, INT8OID),
                            Int64GetDatum(s.inputs)};
        with_index_lookups([&] { run_kept_plan(settle, values); });
        inputs += s.inputs;
        if (s.inputs > 0) touched.push_back(job);
    }
    if (touched.empty()) return inputs;
    Datum ids[1] = {bigint_array(touched)};
    std::vector<int64> completed = bigints_of_result(run_kept_plan(complete, ids));
    emit_job_events(completed, "bulk.completed");
    std::vector<int64> progressing = bigints_of_result(run_kept_plan(progress, ids));
    emit_job_events(progressing, "bulk.progress");
    return inputs;
}

void retry_job_items(const std::vector<JobRetry>& retries) {
    if (retries.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[4] = {INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, FLOAT8ARRAYOID};
        plan = keep_plan(
            "INSERT INTO email_verify_internal.job_retries (job_id, address, attempts, not_before) "
            "SELECT r.job_id, r.address, r.attempts, now() + make_interval(secs => r.delay) "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3), unnest($4)) AS r(job_id, address, attempts, delay) "
            "ON CONFLICT (job_id, address) DO UPDATE"
            "  SET attempts = excluded.attempts, not_before = excluded.not_before, claimed_by = NULL,"
            "      lease_until = NULL",
            4, types);
    }
    std::vector<const JobItem*> items;
    std::vector<Datum> addresses, attempts, delays;
    for (const JobRetry& r : retries) {
        items.push_back(r.item);
        addresses.push_back(Int32GetDatum(r.item->address));
        attempts.push_back(Int32GetDatum(r.item->attempts + (r.count_attempt ? 1 : 0)));
        delays.push_back(Float8GetDatum(r.delay_seconds));
    }
    Datum values[4] = {job_id_array(items), make_array(addresses, {}, INT4OID), make_array(attempts, {}, INT4OID),
                       make_array(delays, {}, FLOAT8OID)};
    with_index_lookups([&] { run_kept_plan(plan, values); });
}

}  // namespace ev::pg
