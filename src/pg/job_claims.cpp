// Claiming job addresses: see job_claims.h. Every statement is prepared once,
// under search_path pg_catalog (keep_plan), and kept.
#include "job_claims.h"

#include <map>

#include "domain_leases.h"
#include "guard.h"
#include "jobs/job_builder.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

// How often a claim also fails the jobs whose owner may no longer probe and
// takes back the claims whose lease ran out (a lease lasts minutes).
constexpr TimestampTz kUpkeepInterval = 10 * USECS_PER_SEC;

// How many times its share of a batch a job at level syntax or dns claims.
constexpr int kFastLevelClaim = 16;

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

// The ordinals first..last of a job still open that have no verdict yet.
std::vector<int32> addresses_without_verdict(int64 job, int32 first, int32 last) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[4] = {INT8OID, INT4OID, INT4OID, INT4OID};
        plan = keep_plan(
            "SELECT c.chunk, c.verdicts, cardinality(c.keys) FROM email_verify_internal.job_address_chunks c "
            "JOIN email_verify_internal.jobs j ON j.id = c.job_id AND j.state IN ('queued', 'running') "
            "WHERE c.job_id = $1 AND c.chunk BETWEEN $2 / $4 AND $3 / $4",
            4, types);
    }
    Datum values[4] = {Int64GetDatum(job), Int32GetDatum(first), Int32GetDatum(last),
                       Int32GetDatum(ev::jobs::kAddressChunk)};
    uint64 rows = 0;
    with_index_lookups([&] { rows = run_kept_plan(plan, values); });
    std::vector<int32> missing;
    for (uint64 r = 0; r < rows; ++r) {
        AddressChunk row = address_chunk_of_row(r, 2, 3);
        for (std::size_t slot = 0; slot < row.slots.size(); ++slot) {
            int32 ordinal = row.chunk * ev::jobs::kAddressChunk + static_cast<int32>(slot);
            if (ordinal >= first && ordinal <= last && !row.slots[slot]) missing.push_back(ordinal);
        }
    }
    return missing;
}

// Gives back what the claims of $1 held: ranges (their addresses without a
// verdict become retries, one attempt more: they may be what killed the
// worker) and claimed retries. $1 NULL: the claims whose lease ran out.
struct EndedRange {
    int64 job;
    int32 first, last;
};

// The ranges deleted by the statement just run (job_id, first_address,
// last_address): what of them has no verdict goes back as retries (one
// already waiting is left as it is). Nothing of a range is lost when it
// ends, whoever ends it and however: a claimer that ends it with an
// address unsettled (its report of that address failed) hands it on.
void requeue_unsettled(uint64 rows) {
    std::vector<EndedRange> ended;
    for (uint64 r = 0; r < rows; ++r)
        ended.push_back({std::stoll(cell_text(SPI_tuptable, r, 1).value_or("0")),
                         std::stoi(cell_text(SPI_tuptable, r, 2).value_or("0")),
                         std::stoi(cell_text(SPI_tuptable, r, 3).value_or("-1"))});
    static SPIPlanPtr back = nullptr;
    if (!back) {
        Oid back_types[2] = {INT8OID, INT4ARRAYOID};
        back = keep_plan(
            "INSERT INTO email_verify_internal.job_retries (job_id, address, attempts, not_before) "
            "SELECT $1, a, 1, now() FROM unnest($2) AS a ON CONFLICT DO NOTHING",
            2, back_types);
    }
    for (const EndedRange& range : ended) {
        std::vector<int32> missing = addresses_without_verdict(range.job, range.first, range.last);
        if (missing.empty()) continue;
        std::vector<Datum> ordinals;
        ordinals.reserve(missing.size());
        for (int32 a : missing) ordinals.push_back(Int32GetDatum(a));
        Datum args[2] = {Int64GetDatum(range.job), make_array(ordinals, {}, INT4OID)};
        run_kept_plan(back, args);
    }
}

void give_back(Datum worker_id, bool by_worker) {
    static SPIPlanPtr ranges = nullptr, retries = nullptr;
    if (!retries) {  // the last one prepared: all are, or all are prepared again
        Oid types[1] = {INT4OID};
        ranges = keep_plan(
            "DELETE FROM email_verify_internal.job_claims c"
            "  WHERE CASE WHEN $1 IS NULL THEN c.lease_until < now() ELSE c.worker_id = $1 END"
            "  RETURNING c.job_id, c.first_address, c.last_address",
            1, types);
        retries = keep_plan(
            "UPDATE email_verify_internal.job_retries r SET claimed_by = NULL, lease_until = NULL, not_before = now() "
            "WHERE CASE WHEN $1 IS NULL THEN r.lease_until < now() ELSE r.claimed_by = $1 END",
            1, types);
    }
    Datum values[1] = {worker_id};
    const char* nulls = by_worker ? " " : "n";
    requeue_unsettled(run_kept_plan(ranges, values, nulls));
    with_index_lookups([&] { run_kept_plan(retries, values, nulls); });
}

struct OpenJob {
    int64 id = 0;
    ev::Level level = ev::Level::Smtp;
    int64 claimed_through = 0;  // the next address to claim
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
                        ev::parse_level(cell_text(SPI_tuptable, r, 2).value_or("smtp")).value_or(ev::Level::Smtp),
                        std::stoll(cell_text(SPI_tuptable, r, 3).value_or("0"))});
    return jobs;
}

// Up to limit of the job's due retries, claimed one by one.
void claim_retries(const OpenJob& job, int32 worker_id, int limit, int lease_seconds, std::vector<JobItem>& out) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[5] = {INT8OID, INT4OID, INT4OID, INT4OID, INT4OID};
        plan = keep_plan(
            "WITH due AS ("
            "    SELECT r.address FROM email_verify_internal.job_retries r"
            "    WHERE r.job_id = $1 AND r.claimed_by IS NULL AND r.not_before <= now()"
            "    ORDER BY r.not_before LIMIT $3 FOR UPDATE SKIP LOCKED"
            ")"
            "UPDATE email_verify_internal.job_retries r"
            "  SET claimed_by = $2, lease_until = now() + make_interval(secs => $4)"
            "  FROM due d, email_verify_internal.job_address_chunks c"
            "  WHERE r.job_id = $1 AND r.address = d.address"
            "    AND c.job_id = $1 AND c.chunk = d.address / $5"
            "  RETURNING r.address, c.keys[d.address % $5 + 1], r.attempts",
            5, types);
    }
    Datum values[5] = {Int64GetDatum(job.id), Int32GetDatum(worker_id), Int32GetDatum(limit),
                       Int32GetDatum(lease_seconds), Int32GetDatum(ev::jobs::kAddressChunk)};
    uint64 rows = 0;
    with_index_lookups([&] { rows = run_kept_plan(plan, values); });
    for (uint64 r = 0; r < rows; ++r) {
        JobItem item;
        item.job_id = job.id;
        item.address = std::stoi(cell_text(SPI_tuptable, r, 1).value_or("0"));
        item.address_key = utf8_cell(r, 2);
        item.attempts = std::stoi(cell_text(SPI_tuptable, r, 3).value_or("0"));
        item.level = job.level;
        item.from_retry = true;
        out.push_back(std::move(item));
    }
}

// Up to limit of the job's next addresses after its cursor, read by their
// chunks (not locked: the range claim, made under the job's lock, is what
// holds them), then the range recorded and the cursor moved past it. Its
// addresses without a verdict are the items. Returns the range.
int64 claim_new(const OpenJob& job, int32 worker_id, int limit, int lease_seconds, std::vector<JobItem>& out,
                bool& more) {
    static SPIPlanPtr read = nullptr, record = nullptr;
    if (!record) {  // the last one prepared: all are, or all are prepared again
        Oid types[3] = {INT8OID, INT4OID, INT4OID};
        read = keep_plan(
            "SELECT c.chunk, c.verdicts, cardinality(c.keys), c.keys FROM email_verify_internal.job_address_chunks c "
            "WHERE c.job_id = $1 AND c.chunk >= $2 ORDER BY c.chunk LIMIT $3",
            3, types);
        Oid record_types[5] = {INT8OID, INT4OID, INT4OID, INT4OID, INT4OID};
        record = keep_plan(
            "WITH moved AS ("
            "    UPDATE email_verify_internal.jobs j"
            "    SET claimed_through = $4 + 1, state = CASE WHEN j.state = 'queued' THEN 'running' ELSE j.state END,"
            "        started_at = coalesce(j.started_at, now())"
            "    WHERE j.id = $1"
            ")"
            "INSERT INTO email_verify_internal.job_claims (job_id, worker_id, first_address, last_address, lease_until)"
            "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING id",
            5, record_types);
    }
    const auto first = static_cast<int32>(job.claimed_through);
    const int32 first_chunk = first / ev::jobs::kAddressChunk;
    const int32 chunks =
        (first % ev::jobs::kAddressChunk + limit + ev::jobs::kAddressChunk - 1) / ev::jobs::kAddressChunk;
    Datum values[3] = {Int64GetDatum(job.id), Int32GetDatum(first_chunk), Int32GetDatum(chunks)};
    uint64 rows = 0;
    with_index_lookups([&] { rows = run_kept_plan(read, values); });
    int32 last = first - 1;
    int taken = 0;
    for (uint64 r = 0; r < rows && taken < limit; ++r) {
        AddressChunk chunk = address_chunk_of_row(r, 2, 3);
        std::vector<std::string> keys = utf8_array_cell(r, 4);
        for (std::size_t slot = 0; slot < chunk.slots.size() && slot < keys.size() && taken < limit; ++slot) {
            int32 ordinal = chunk.chunk * ev::jobs::kAddressChunk + static_cast<int32>(slot);
            if (ordinal < first) continue;
            last = ordinal;
            ++taken;
            if (chunk.slots[slot]) continue;
            JobItem item;
            item.job_id = job.id;
            item.address = ordinal;
            item.address_key = std::move(keys[slot]);
            item.level = job.level;
            out.push_back(std::move(item));
        }
    }
    if (taken == 0) return 0;
    if (taken == limit) more = true;
    Datum range[5] = {Int64GetDatum(job.id), Int32GetDatum(worker_id), Int32GetDatum(first), Int32GetDatum(last),
                      Int32GetDatum(lease_seconds)};
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
        // Checks at levels syntax and dns take microseconds each: such a job
        // takes more than its share, so that the batch's round trips to the
        // database do not cost more than its checks. Others' shares stay.
        int want = jobs[k].level == ev::Level::Smtp ? share : share * kFastLevelClaim;
        std::size_t before = claim.items.size();
        claim_retries(jobs[k], worker_id, want, lease_seconds, claim.items);
        int taken = static_cast<int>(claim.items.size() - before);
        if (taken < want) {
            int64 range = claim_new(jobs[k], worker_id, want - taken, lease_seconds, claim.items, claim.more);
            if (range != 0) claim.ranges.push_back({range, jobs[k].id});
        }
        left -= std::min(share, static_cast<int>(claim.items.size() - before));
    }
    claim.items = keep_leased_job_items(worker_id, std::move(claim.items), lease_seconds);
    return claim;
}

void end_job_claims(const std::vector<int64>& ranges, int32 worker_id) {
    if (ranges.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[2] = {INT8ARRAYOID, INT4OID};
        plan = keep_plan(
            "DELETE FROM email_verify_internal.job_claims WHERE id = ANY ($1) AND worker_id = $2"
            "  RETURNING job_id, first_address, last_address",
            2, types);
    }
    Datum values[2] = {bigint_array(ranges), Int32GetDatum(worker_id)};
    requeue_unsettled(run_kept_plan(plan, values));
}

void end_job_claims(const std::vector<JobRange>& ranges, int32 worker_id) {
    std::vector<int64> ids;
    ids.reserve(ranges.size());
    for (const JobRange& r : ranges) ids.push_back(r.id);
    end_job_claims(ids, worker_id);
}

void release_job_claims(int32 worker_id) { give_back(Int32GetDatum(worker_id), true); }

}  // namespace ev::pg
