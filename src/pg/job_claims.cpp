// Claiming job addresses: see job_claims.h. Every statement is prepared once,
// under search_path pg_catalog (keep_plan), and kept.
#include "job_claims.h"

#include <map>

#include "guard.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

// How often a claim also fails the jobs whose owner may no longer probe and
// takes back the claims whose lease ran out (a lease lasts minutes).
constexpr TimestampTz kUpkeepInterval = 10 * USECS_PER_SEC;

// Jobs whose owner may no longer probe at their level (the role was dropped,
// or lost email_verify_prober) fail before anything more of theirs is claimed.
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
    emit_job_events(bigints_of_result(rows), "bulk.failed");
}

// Gives back what the claims of $1 held: ranges (their addresses still new
// become retries, one attempt more: they may be what killed the worker) and
// claimed retries. $1 NULL: the claims whose lease ran out.
void give_back(Datum worker_id, bool by_worker) {
    static SPIPlanPtr ranges = nullptr, retries = nullptr;
    if (!retries) {  // the last one prepared: all are, or all are prepared again
        Oid types[1] = {INT4OID};
        ranges = keep_plan(
            "WITH ended AS ("
            "    DELETE FROM email_verify_internal.job_claims c"
            "    WHERE CASE WHEN $1 IS NULL THEN c.lease_until < now() ELSE c.worker_id = $1 END"
            "    RETURNING c.job_id, c.first_position, c.last_position"
            "), back AS ("
            "    UPDATE email_verify_internal.job_addresses a SET state = 'retrying', attempts = a.attempts + 1"
            "    FROM ended e"
            "    WHERE a.job_id = e.job_id AND a.position BETWEEN e.first_position AND e.last_position"
            "      AND a.state = 'new'"
            "    RETURNING a.job_id, a.address_key"
            ")"
            "INSERT INTO email_verify_internal.job_retries (job_id, address_key, not_before)"
            "SELECT b.job_id, b.address_key, now() FROM back b ON CONFLICT DO NOTHING",
            1, types);
        retries = keep_plan(
            "UPDATE email_verify_internal.job_retries r SET claimed_by = NULL, lease_until = NULL, not_before = now() "
            "WHERE CASE WHEN $1 IS NULL THEN r.lease_until < now() ELSE r.claimed_by = $1 END",
            1, types);
    }
    Datum values[1] = {worker_id};
    const char* nulls = by_worker ? " " : "n";
    with_index_lookups([&] {
        pg_call([&] {
            if (SPI_execute_plan(ranges, values, nulls, false, 0) < 0 ||
                SPI_execute_plan(retries, values, nulls, false, 0) < 0)
                elog(ERROR, "email_verify: giving back job claims failed");
        });
    });
}

struct OpenJob {
    int64 id = 0;
    std::string level;
    int64 claimed_through = 0;
};

// The open jobs no other worker is claiming from right now, oldest first,
// locked until the claim commits: claims of one job follow one another, so
// its cursor is never passed by a claim that then fails.
std::vector<OpenJob> lock_open_jobs() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "SELECT j.id, j.level, j.claimed_through FROM email_verify_internal.jobs j "
            "WHERE j.state IN ('queued', 'running') ORDER BY j.id LIMIT 64 FOR UPDATE SKIP LOCKED",
            0, nullptr);
    uint64 rows = run_kept_plan(plan, nullptr);
    std::vector<OpenJob> jobs;
    for (uint64 r = 0; r < rows; ++r)
        jobs.push_back({std::stoll(cell_text(SPI_tuptable, r, 1).value_or("0")),
                        cell_text(SPI_tuptable, r, 2).value_or("smtp"),
                        std::stoll(cell_text(SPI_tuptable, r, 3).value_or("0"))});
    return jobs;
}

JobItem item_at(uint64 row, const OpenJob& job) {
    JobItem item;
    item.job_id = job.id;
    item.address_key = cell_text(SPI_tuptable, row, 1).value_or("");
    item.attempts = std::stoi(cell_text(SPI_tuptable, row, 2).value_or("0"));
    item.level = ev::parse_level(job.level).value_or(ev::Level::Smtp);
    return item;
}

// Up to limit of the job's due retries, claimed one by one.
void claim_retries(const OpenJob& job, int32 worker_id, int limit, int lease_seconds, std::vector<JobItem>& out) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[4] = {INT8OID, INT4OID, INT4OID, INT4OID};
        plan = keep_plan(
            "WITH due AS ("
            "    SELECT r.address_key FROM email_verify_internal.job_retries r"
            "    WHERE r.job_id = $1 AND r.claimed_by IS NULL AND r.not_before <= now()"
            "    ORDER BY r.not_before LIMIT $3 FOR UPDATE SKIP LOCKED"
            ")"
            "UPDATE email_verify_internal.job_retries r"
            "  SET claimed_by = $2, lease_until = now() + make_interval(secs => $4)"
            "  FROM due d, email_verify_internal.job_addresses a"
            "  WHERE r.job_id = $1 AND r.address_key = d.address_key"
            "    AND a.job_id = $1 AND a.address_key = d.address_key"
            "  RETURNING r.address_key, a.attempts",
            4, types);
    }
    Datum values[4] = {Int64GetDatum(job.id), Int32GetDatum(worker_id), Int32GetDatum(limit),
                       Int32GetDatum(lease_seconds)};
    uint64 rows = 0;
    with_index_lookups([&] { rows = run_kept_plan(plan, values); });
    for (uint64 r = 0; r < rows; ++r) out.push_back(item_at(r, job));
}

// Up to limit of the job's new addresses after its cursor, read (not
// locked: the range claim, made under the job's lock, is what holds them),
// then the range recorded and the cursor moved past it. Returns the range.
int64 claim_new(const OpenJob& job, int32 worker_id, int limit, int lease_seconds, std::vector<JobItem>& out) {
    static SPIPlanPtr read = nullptr, record = nullptr;
    if (!record) {  // the last one prepared: all are, or all are prepared again
        Oid types[3] = {INT8OID, INT8OID, INT4OID};
        read = keep_plan(
            "SELECT a.address_key, a.attempts, a.position FROM email_verify_internal.job_addresses a "
            "WHERE a.job_id = $1 AND a.position > $2 AND a.state = 'new' ORDER BY a.position LIMIT $3",
            3, types);
        Oid record_types[5] = {INT8OID, INT4OID, INT8OID, INT8OID, INT4OID};
        record = keep_plan(
            "WITH moved AS ("
            "    UPDATE email_verify_internal.jobs j"
            "    SET claimed_through = $4, state = CASE WHEN j.state = 'queued' THEN 'running' ELSE j.state END,"
            "        started_at = coalesce(j.started_at, now())"
            "    WHERE j.id = $1"
            ")"
            "INSERT INTO email_verify_internal.job_claims (job_id, worker_id, first_position, last_position, "
            "lease_until)"
            "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id",
            5, record_types);
    }
    Datum values[3] = {Int64GetDatum(job.id), Int64GetDatum(job.claimed_through), Int32GetDatum(limit)};
    uint64 rows = 0;
    with_index_lookups([&] { rows = run_kept_plan(read, values); });
    if (rows == 0) return 0;
    int64 last = std::stoll(cell_text(SPI_tuptable, rows - 1, 3).value_or("0"));
    for (uint64 r = 0; r < rows; ++r) out.push_back(item_at(r, job));
    Datum range[5] = {Int64GetDatum(job.id), Int32GetDatum(worker_id), Int64GetDatum(job.claimed_through + 1),
                      Int64GetDatum(last), Int32GetDatum(lease_seconds)};
    run_kept_plan(record, range);
    return std::stoll(cell_text(SPI_tuptable, 0, 1).value_or("0"));
}

}  // namespace

JobClaim claim_job_items(int32 worker_id, int limit, int lease_seconds) {
    static TimestampTz last_upkeep = 0;
    TimestampTz now = 0;
    pg_call([&] { now = GetCurrentTimestamp(); });
    if (now - last_upkeep >= kUpkeepInterval) {
        fail_unauthorised_jobs();
        give_back(0, false);
        last_upkeep = now;
    }
    JobClaim claim;
    if (limit <= 0) return claim;
    std::vector<OpenJob> jobs = lock_open_jobs();
    if (jobs.empty()) return claim;
    // An even share each; what a job cannot use goes to the jobs after it.
    int left = limit;
    for (std::size_t k = 0; k < jobs.size() && left > 0; ++k) {
        int share = (left + static_cast<int>(jobs.size() - k) - 1) / static_cast<int>(jobs.size() - k);
        std::size_t before = claim.items.size();
        claim_retries(jobs[k], worker_id, share, lease_seconds, claim.items);
        int taken = static_cast<int>(claim.items.size() - before);
        if (taken < share) {
            int64 range = claim_new(jobs[k], worker_id, share - taken, lease_seconds, claim.items);
            if (range != 0) claim.ranges.push_back(range);
        }
        left -= static_cast<int>(claim.items.size() - before);
    }
    return claim;
}

void end_job_claims(const std::vector<int64>& ranges) {
    if (ranges.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT8ARRAYOID};
        plan = keep_plan("DELETE FROM email_verify_internal.job_claims WHERE id = ANY ($1)", 1, types);
    }
    Datum values[1] = {bigint_array(ranges)};
    run_kept_plan(plan, values);
}

void release_job_claims(int32 worker_id) { give_back(Int32GetDatum(worker_id), true); }

}  // namespace ev::pg
