// The workers' side of bulk jobs: see job_items.h. Every statement is
// prepared once, under search_path pg_catalog (keep_plan), and kept.
#include "job_items.h"

#include <functional>
#include <map>

#include "guard.h"
#include "guc_scope.h"
#include "result_tuple.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

Datum key_array(const std::vector<const JobItem*>& items) {
    std::vector<Datum> keys;
    keys.reserve(items.size());
    for (const JobItem* item : items) keys.push_back(text_value(item->address_key));
    return make_array(keys, {}, TEXTOID);
}

Datum job_id_array(const std::vector<const JobItem*>& items) {
    std::vector<int64> ids;
    ids.reserve(items.size());
    for (const JobItem* item : items) ids.push_back(item->job_id);
    return bigint_array(ids);
}

}  // namespace

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
    with_settings({{"enable_hashjoin", "off"},
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

// The row type email_verify.result, for the verdicts' array.
struct ResultType {
    Oid type = InvalidOid;
    Oid array_type = InvalidOid;
    TupleDesc desc = nullptr;
};

const ResultType& result_type() {
    static ResultType cached;
    if (cached.desc) return cached;
    pg_call([&] {
        Oid schema = get_namespace_oid("email_verify", false);
        Oid type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("result"), ObjectIdGetDatum(schema));
        if (!OidIsValid(type)) elog(ERROR, "email_verify: type email_verify.result is missing");
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        TupleDesc desc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(type, -1));
        MemoryContextSwitchTo(old);
        cached.type = type;
        cached.array_type = get_array_type(type);
        cached.desc = desc;
    });
    return cached;
}

}  // namespace

int64 settle_job_items(const std::vector<JobVerdict>& verdicts) {
    if (verdicts.empty()) return 0;
    static SPIPlanPtr settle = nullptr, complete = nullptr, progress = nullptr;
    const ResultType& type = result_type();
    if (!progress) {  // the last one prepared: all are, or all are prepared again
        Oid types[2] = {INT8OID, type.array_type};
        // The verdicts of one job still running ($1; a result's email is the
        // address key probed): kept on the address, counted over its copies,
        // and added to the job's processed inputs. The array is read by
        // unnest, once: subscripting a varlena array is linear per element.
        settle = keep_plan(
            "WITH done AS ("
            "    UPDATE email_verify_internal.job_addresses a"
            "    SET state = 'done', result = r"
            "    FROM unnest($2) AS r, email_verify_internal.jobs j"
            "    WHERE a.job_id = $1 AND a.address_key = r.email COLLATE \"C\" AND a.state <> 'done'"
            "      AND j.id = $1 AND j.state = 'running'"
            "    RETURNING a.address_key, a.copies, r.status, coalesce(r.reason, '') AS reason,"
            "              coalesce(r.is_disposable, false) AS disposable, coalesce(r.is_catch_all, false) AS catch_all"
            "), retried AS ("
            "    DELETE FROM email_verify_internal.job_retries x USING done d"
            "    WHERE x.job_id = $1 AND x.address_key = d.address_key"
            "), counted AS ("
            "    INSERT INTO email_verify_internal.job_counts AS c (job_id, status, reason, n, disposable, catch_all)"
            "    SELECT $1, d.status, d.reason, sum(d.copies),"
            "           coalesce(sum(d.copies) FILTER (WHERE d.disposable), 0),"
            "           coalesce(sum(d.copies) FILTER (WHERE d.catch_all), 0)"
            "    FROM done d GROUP BY d.status, d.reason"
            "    ON CONFLICT (job_id, status, reason) DO UPDATE"
            "    SET n = c.n + excluded.n, disposable = c.disposable + excluded.disposable,"
            "        catch_all = c.catch_all + excluded.catch_all"
            ")"
            "UPDATE email_verify_internal.jobs j SET processed = j.processed + d.n"
            "  FROM (SELECT sum(copies) AS n FROM done) d"
            "  WHERE j.id = $1 AND d.n IS NOT NULL"
            "  RETURNING d.n",
            2, types);
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
    std::map<int64, std::vector<Datum>> results_of_job;
    for (const JobVerdict& v : verdicts) {
        HeapTuple tuple = result_tuple(type.desc, *v.result);
        Datum row = 0;
        pg_call([&] { row = HeapTupleGetDatum(tuple); });
        results_of_job[v.item->job_id].push_back(row);
    }
    std::vector<int64> touched;
    int64 inputs = 0;
    for (const auto& [job, results] : results_of_job) {
        Datum values[2] = {Int64GetDatum(job), make_array(results, {}, type.type)};
        uint64 rows = 0;
        with_index_lookups([&] { rows = run_kept_plan(settle, values); });
        if (rows == 0) continue;
        inputs += std::stoll(cell_text(SPI_tuptable, 0, 1).value_or("0"));
        touched.push_back(job);
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
        Oid types[4] = {INT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, INT4ARRAYOID};
        plan = keep_plan(
            "WITH back AS ("
            "    UPDATE email_verify_internal.job_addresses a"
            "    SET state = 'retrying', attempts = a.attempts + r.attempt"
            "    FROM ROWS FROM (unnest($1), unnest($2), unnest($3), unnest($4)) AS r(job_id, address_key, delay, "
            "attempt)"
            "    WHERE a.job_id = r.job_id AND a.address_key = r.address_key COLLATE \"C\" AND a.state <> 'done'"
            "    RETURNING a.job_id, a.address_key, r.delay"
            ")"
            "INSERT INTO email_verify_internal.job_retries (job_id, address_key, not_before)"
            "SELECT b.job_id, b.address_key, now() + make_interval(secs => b.delay) FROM back b "
            "ON CONFLICT (job_id, address_key) DO UPDATE"
            "  SET not_before = excluded.not_before, claimed_by = NULL, lease_until = NULL",
            4, types);
    }
    std::vector<const JobItem*> items;
    std::vector<Datum> delays, attempts;
    for (const JobRetry& r : retries) {
        items.push_back(r.item);
        delays.push_back(Float8GetDatum(r.delay_seconds));
        attempts.push_back(Int32GetDatum(r.count_attempt ? 1 : 0));
    }
    Datum values[4] = {job_id_array(items), key_array(items), make_array(delays, {}, FLOAT8OID),
                       make_array(attempts, {}, INT4OID)};
    with_index_lookups([&] { run_kept_plan(plan, values); });
}

}  // namespace ev::pg
