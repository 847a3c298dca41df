// The workers' side of bulk jobs: see job_items.h. Every statement is
// prepared once, under search_path pg_catalog (keep_plan), and kept.
#include "job_items.h"

#include <map>

#include "guard.h"
#include "guc_scope.h"
#include "result_tuple.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

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

// Sends event_type for each job (emit_event: NOTIFY and the outbox), in job order.
void emit(const std::vector<int64>& jobs, const char* event_type) {
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

// Jobs whose owner may no longer probe at their level (the role was dropped,
// or lost email_verify_prober) fail before anything of theirs is claimed.
void fail_unauthorised_jobs() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "UPDATE email_verify_internal.jobs j "
            "SET state = 'failed', finished_at = now(), "
            "    failure_reason = format('the job''s owner may no longer probe at level %s', j.level) "
            "WHERE j.state IN ('queued', 'running') AND j.level <> 'syntax' "
            "  AND NOT coalesce(email_verify_internal.may_probe((SELECT r.rolname FROM pg_roles r "
            "                                                    WHERE r.oid = j.owner)), false) "
            "RETURNING j.id",
            0, nullptr);
    uint64 rows = run_kept_plan(plan, nullptr);
    emit(bigints_of_result(rows), "bulk.failed");
}

void expire_job_leases() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "UPDATE email_verify_internal.job_addresses a "
            "SET state = 'pending', attempts = a.attempts + 1, lease_until = NULL, claimed_by = NULL "
            "WHERE a.state = 'claimed' AND a.lease_until < now()",
            0, nullptr);
    run_kept_plan(plan, nullptr);
}

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

std::vector<JobItem> claim_job_items(int32 worker_id, int limit, int lease_seconds) {
    fail_unauthorised_jobs();
    expire_job_leases();
    if (limit <= 0) return {};
    static SPIPlanPtr claim = nullptr, running = nullptr;
    if (!claim) {
        Oid types[3] = {INT4OID, INT4OID, INT4OID};
        // Each open job (the 64 oldest) gets an even share of the limit.
        claim = keep_plan(
            "WITH open_jobs AS ("
            "    SELECT j.id FROM email_verify_internal.jobs j"
            "    WHERE j.state IN ('queued', 'running') ORDER BY j.id LIMIT 64"
            "), share AS ("
            "    SELECT ceil($2::float8 / greatest(count(*), 1))::int AS n FROM open_jobs"
            "), picked AS ("
            "    SELECT p.job_id, p.address_key FROM open_jobs o CROSS JOIN LATERAL ("
            "        SELECT a.job_id, a.address_key FROM email_verify_internal.job_addresses a"
            "        WHERE a.job_id = o.id AND a.state = 'pending' AND a.not_before <= now()"
            "        ORDER BY a.not_before LIMIT (SELECT n FROM share)"
            "        FOR UPDATE SKIP LOCKED) p"
            "    LIMIT $2"
            ")"
            "UPDATE email_verify_internal.job_addresses a"
            "  SET state = 'claimed', claimed_by = $1, lease_until = now() + make_interval(secs => $3)"
            "  FROM picked p, email_verify_internal.jobs j"
            "  WHERE a.job_id = p.job_id AND a.address_key = p.address_key AND j.id = a.job_id"
            "  RETURNING a.job_id, a.address_key, j.level, a.attempts",
            3, types);
        Oid one[1] = {INT8ARRAYOID};
        running = keep_plan(
            "UPDATE email_verify_internal.jobs SET state = 'running', started_at = now() "
            "WHERE id = ANY ($1) AND state = 'queued'",
            1, one);
    }
    Datum values[3] = {Int32GetDatum(worker_id), Int32GetDatum(limit), Int32GetDatum(lease_seconds)};
    uint64 rows = 0;
    with_settings({{"enable_hashjoin", "off"}, {"enable_mergejoin", "off"}},
                  [&] { rows = run_kept_plan(claim, values); });
    std::vector<JobItem> items;
    items.reserve(rows);
    std::vector<int64> jobs;
    for (uint64 r = 0; r < rows; ++r) {
        JobItem item;
        item.job_id = std::stoll(cell_text(SPI_tuptable, r, 1).value_or("0"));
        item.address_key = cell_text(SPI_tuptable, r, 2).value_or("");
        item.level = ev::parse_level(cell_text(SPI_tuptable, r, 3).value_or("")).value_or(ev::Level::Smtp);
        item.attempts = std::stoi(cell_text(SPI_tuptable, r, 4).value_or("0"));
        if (jobs.empty() || jobs.back() != item.job_id) jobs.push_back(item.job_id);
        items.push_back(std::move(item));
    }
    if (!jobs.empty()) {
        Datum ids[1] = {bigint_array(jobs)};
        run_kept_plan(running, ids);
    }
    return items;
}

int64 settle_job_items(const std::vector<JobVerdict>& verdicts) {
    if (verdicts.empty()) return 0;
    static SPIPlanPtr settle = nullptr, complete = nullptr, progress = nullptr;
    const ResultType& type = result_type();
    if (!settle) {
        Oid types[2] = {INT8OID, type.array_type};
        // The verdicts of one job still running ($1; a result's email is the
        // address key probed): kept on the address, counted over its copies,
        // and added to the job's processed inputs. The array is read by
        // unnest, once: subscripting a varlena array is linear per element.
        settle = keep_plan(
            "WITH done AS ("
            "    UPDATE email_verify_internal.job_addresses a"
            "    SET state = 'done', result = r, lease_until = NULL, claimed_by = NULL"
            "    FROM unnest($2) AS r, email_verify_internal.jobs j"
            "    WHERE a.job_id = $1 AND a.address_key = r.email AND a.state = 'claimed'"
            "      AND j.id = $1 AND j.state = 'running'"
            "    RETURNING a.copies, r.status, coalesce(r.reason, '') AS reason,"
            "              coalesce(r.is_disposable, false) AS disposable, coalesce(r.is_catch_all, false) AS catch_all"
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
        if (run_kept_plan(settle, values) == 0) continue;
        inputs += std::stoll(cell_text(SPI_tuptable, 0, 1).value_or("0"));
        touched.push_back(job);
    }
    if (touched.empty()) return inputs;
    Datum ids[1] = {bigint_array(touched)};
    std::vector<int64> completed = bigints_of_result(run_kept_plan(complete, ids));
    emit(completed, "bulk.completed");
    std::vector<int64> progressing = bigints_of_result(run_kept_plan(progress, ids));
    emit(progressing, "bulk.progress");
    return inputs;
}

void retry_job_items(const std::vector<JobRetry>& retries) {
    if (retries.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[4] = {INT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, INT4ARRAYOID};
        plan = keep_plan(
            "UPDATE email_verify_internal.job_addresses a "
            "SET state = 'pending', attempts = a.attempts + r.attempt, lease_until = NULL, claimed_by = NULL, "
            "    not_before = now() + make_interval(secs => r.delay) "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3), unnest($4)) AS r(job_id, address_key, delay, attempt) "
            "WHERE a.job_id = r.job_id AND a.address_key = r.address_key AND a.state = 'claimed'",
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
    with_settings({{"enable_hashjoin", "off"}, {"enable_mergejoin", "off"}}, [&] { run_kept_plan(plan, values); });
}

void release_job_claims(int32 worker_id) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT4OID};
        plan = keep_plan(
            "UPDATE email_verify_internal.job_addresses "
            "SET state = 'pending', attempts = attempts + 1, lease_until = NULL, claimed_by = NULL "
            "WHERE state = 'claimed' AND claimed_by = $1",
            1, types);
    }
    Datum values[1] = {Int32GetDatum(worker_id)};
    run_kept_plan(plan, values);
}

}  // namespace ev::pg
