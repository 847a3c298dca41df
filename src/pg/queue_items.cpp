// The queue's state changes: see queue_items.h. Every statement is prepared
// once, under search_path pg_catalog (keep_plan), and kept.
#include "queue_items.h"

#include "guard.h"
#include "guc_scope.h"
#include "queue/item_lifecycle.h"
#include "settings.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

// The ids of the first column of the last result, as a bigint[].
Datum ids_of_result(uint64 rows) {
    std::vector<Datum> ids;
    for (uint64 r = 0; r < rows; ++r) ids.push_back(Int64GetDatum(std::stoll(cell_text(SPI_tuptable, r, 1).value())));
    return make_array(ids, {}, INT8OID);
}

int claim_limit() {
    WorkerSettings settings = worker_settings();
    return ev::queue::RetryPolicy{settings.retry_attempts, settings.retry_delay}.claim_limit();
}

// Pending again after the delays (NULL: at once), one attempt more; see
// retry_later in queue_items.h. $1 ids, $2 reasons, $3 delays in seconds,
// $4 the claim limit.
int64 requeue(Datum ids, Datum reasons, Datum delays) {
    static SPIPlanPtr superseded = nullptr, back = nullptr, given_up = nullptr;
    if (!superseded) {
        Oid one[1] = {INT8ARRAYOID};
        superseded = keep_plan(
            "DELETE FROM email_verify.queue q "
            "WHERE q.id = ANY ($1) AND q.state = 'claimed' "
            "  AND EXISTS (SELECT FROM email_verify.queue p "
            "              WHERE p.watch_id = q.watch_id AND p.row_key = q.row_key AND p.state = 'pending')",
            1, one);
        Oid three[3] = {INT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID};
        back = keep_plan(
            "UPDATE email_verify.queue q "
            "SET state = 'pending', not_before = now() + make_interval(secs => coalesce(r.delay, 0)), "
            "    attempts = q.attempts + 1, lease_until = NULL, claimed_by = NULL, "
            "    last_status = CASE WHEN r.reason IS NULL THEN q.last_status ELSE 'unknown' END, "
            "    last_reason = coalesce(r.reason, q.last_reason) "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3)) AS r(id, reason, delay) "
            "WHERE q.id = r.id AND q.state = 'claimed'",
            3, three);
        Oid two[2] = {INT8ARRAYOID, INT4OID};
        given_up = keep_plan(
            "UPDATE email_verify.queue q "
            "SET state = 'failed', not_before = now(), "
            "    last_reason = format('given up: claimed %s times, no verdict written "
            "(a worker died with it, or its write-back failed)', q.attempts) "
            "WHERE q.id = ANY ($1) AND q.state = 'pending' AND q.attempts >= $2",
            2, two);
    }
    Datum id_values[1] = {ids};
    run_kept_plan(superseded, id_values);
    Datum values[3] = {ids, reasons, delays};
    int64 requeued = static_cast<int64>(run_kept_plan(back, values));
    Datum limit[2] = {ids, Int32GetDatum(claim_limit())};
    run_kept_plan(given_up, limit);
    return requeued;
}

}  // namespace

std::vector<ClaimedItem> claimed_items(SPITupleTable* table, uint64 rows) {
    std::vector<ClaimedItem> items;
    items.reserve(rows);
    for (uint64 r = 0; r < rows; ++r) {
        ClaimedItem item;
        item.queue_id = std::stoll(cell_text(table, r, 1).value_or("0"));
        item.watch_id = std::stoi(cell_text(table, r, 2).value_or("0"));
        item.row_key = cell_text(table, r, 3).value_or("");
        item.email = cell_text(table, r, 4).value_or("");
        item.level = ev::parse_level(cell_text(table, r, 5).value_or("")).value_or(ev::Level::Smtp);
        item.attempts = std::stoi(cell_text(table, r, 6).value_or("0"));
        items.push_back(std::move(item));
    }
    return items;
}

std::vector<ClaimedItem> claim_ready_items(int32 worker_id, int batch_size, int lease_seconds) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[3] = {INT4OID, INT4OID, INT4OID};
        plan = keep_plan(
            "WITH expired AS ("
            "    SELECT q.id FROM email_verify.queue q"
            "    WHERE q.state = 'claimed' AND q.lease_until < now()"
            "      AND q.watch_id NOT IN (SELECT s.id FROM email_verify.watches s WHERE s.suspended_reason IS NOT NULL)"
            "    ORDER BY q.lease_until, q.id"
            "    LIMIT greatest($2, 0)"
            "    FOR UPDATE SKIP LOCKED"
            "), retried AS ("
            "    SELECT q.id FROM email_verify.queue q"
            "    WHERE q.state = 'pending' AND q.attempts > 0 AND q.not_before <= now()"
            "      AND q.watch_id NOT IN (SELECT s.id FROM email_verify.watches s WHERE s.suspended_reason IS NOT NULL)"
            "    ORDER BY q.not_before, q.id"
            "    LIMIT greatest($2 - (SELECT count(*) FROM expired), 0)"
            "    FOR UPDATE SKIP LOCKED"
            "), ready AS ("
            "    SELECT q.id FROM email_verify.queue q"
            "    WHERE q.state = 'pending' AND q.not_before <= now() AND q.id NOT IN (SELECT id FROM retried)"
            "      AND q.watch_id NOT IN (SELECT s.id FROM email_verify.watches s WHERE s.suspended_reason IS NOT NULL)"
            "    ORDER BY q.not_before, q.id"
            "    LIMIT greatest($2 - (SELECT count(*) FROM expired) - (SELECT count(*) FROM retried), 0)"
            "    FOR UPDATE SKIP LOCKED"
            ")"
            "UPDATE email_verify.queue q"
            "  SET state = 'claimed', lease_until = now() + make_interval(secs => $3), claimed_by = $1,"
            "      attempts = q.attempts + CASE WHEN q.state = 'claimed' THEN 1 ELSE 0 END"
            "  FROM (SELECT id FROM expired UNION ALL SELECT id FROM retried UNION ALL SELECT id FROM ready) c,"
            "       email_verify.watches w"
            "  WHERE q.id = c.id AND w.id = q.watch_id AND w.suspended_reason IS NULL"
            "  RETURNING q.id, q.watch_id, q.row_key::text, q.email, w.level, q.attempts",
            3, types);
    }
    Datum values[3] = {Int32GetDatum(worker_id), Int32GetDatum(batch_size), Int32GetDatum(lease_seconds)};
    uint64 rows = 0;
    // The claimed ids (distinct: one state each) reach their rows through the
    // primary key, one by one, whatever the queue's statistics say (an empty
    // queue's or a full one's): the same plan, and no hash of the queue.
    with_settings({{"enable_hashjoin", "off"}, {"enable_mergejoin", "off"}, {"enable_memoize", "off"}},
                  [&] { rows = run_kept_plan(plan, values); });
    return claimed_items(SPI_tuptable, rows);
}

void give_up_expired_claims() {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT4OID};
        plan = keep_plan(
            "SELECT e.id FROM email_verify.queue e "
            "WHERE e.state = 'claimed' AND e.lease_until < now() AND e.attempts + 1 >= $1 "
            "FOR UPDATE SKIP LOCKED",
            1, types);
    }
    Datum limit[1] = {Int32GetDatum(claim_limit())};
    uint64 rows = run_kept_plan(plan, limit);
    if (rows == 0) return;
    // Counted as the attempt the expiry is, then given up by requeue's rule.
    requeue(ids_of_result(rows), make_array({}, {}, TEXTOID), make_array({}, {}, FLOAT8OID));
}

void settle_written(const std::vector<WrittenItem>& items) {
    if (items.empty()) return;
    static SPIPlanPtr done = nullptr, counted = nullptr;
    if (!done) {
        Oid one[1] = {INT8ARRAYOID};
        done = keep_plan("DELETE FROM email_verify.queue WHERE id = ANY ($1)", 1, one);
        Oid two[2] = {TEXTARRAYOID, TEXTARRAYOID};
        // In a fixed order: concurrent workers lock the counter rows in the same order.
        counted = keep_plan(
            "INSERT INTO email_verify.worker_counters AS c (status, reason, n) "
            "SELECT u.status, coalesce(u.reason, ''), count(*) "
            "FROM ROWS FROM (unnest($1), unnest($2)) AS u(status, reason) "
            "GROUP BY 1, 2 ORDER BY 1, 2 "
            "ON CONFLICT (status, reason) DO UPDATE SET n = c.n + EXCLUDED.n",
            2, two);
    }
    std::vector<Datum> ids, statuses, reasons;
    std::vector<bool> reason_nulls;
    for (const auto& item : items) {
        ids.push_back(Int64GetDatum(item.queue_id));
        statuses.push_back(text_value(item.status));
        reasons.push_back(item.reason ? text_value(*item.reason) : 0);
        reason_nulls.push_back(!item.reason);
    }
    Datum id_values[1] = {make_array(ids, {}, INT8OID)};
    run_kept_plan(done, id_values);
    Datum count_values[2] = {make_array(statuses, {}, TEXTOID), make_array(reasons, reason_nulls, TEXTOID)};
    run_kept_plan(counted, count_values);
}

void put_back(const std::vector<PutBack>& items) {
    if (items.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[3] = {INT8ARRAYOID, TEXTARRAYOID, BOOLARRAYOID};
        plan = keep_plan(
            "UPDATE email_verify.queue q SET state = 'pending', lease_until = NULL, claimed_by = NULL,"
            " not_before = now() + CASE WHEN r.later"
            "   THEN current_setting('email_verify.retry_delay')::interval ELSE '0'::interval END,"
            " last_status = 'unknown', last_reason = r.reason "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3)) AS r(id, reason, later) "
            "WHERE q.id = r.id AND q.state = 'claimed'",
            3, types);
    }
    std::vector<Datum> ids, reasons, later;
    for (const auto& item : items) {
        ids.push_back(Int64GetDatum(item.queue_id));
        reasons.push_back(text_value(item.reason));
        later.push_back(BoolGetDatum(item.after_retry_delay));
    }
    Datum values[3] = {make_array(ids, {}, INT8OID), make_array(reasons, {}, TEXTOID), make_array(later, {}, BOOLOID)};
    run_kept_plan(plan, values);
}

void fail(const std::vector<Failure>& items) {
    if (items.empty()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[3] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
        plan = keep_plan(
            "UPDATE email_verify.queue q SET state = 'failed', lease_until = NULL, claimed_by = NULL,"
            " last_status = f.status, last_reason = f.reason "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3)) AS f(id, status, reason) "
            "WHERE q.id = f.id",
            3, types);
    }
    std::vector<Datum> ids, statuses, reasons;
    for (const auto& item : items) {
        ids.push_back(Int64GetDatum(item.queue_id));
        statuses.push_back(text_value(item.status));
        reasons.push_back(text_value(item.reason));
    }
    Datum values[3] = {make_array(ids, {}, INT8OID), make_array(statuses, {}, TEXTOID),
                       make_array(reasons, {}, TEXTOID)};
    run_kept_plan(plan, values);
}

int64 retry_later(const std::vector<Retry>& items) {
    if (items.empty()) return 0;
    std::vector<Datum> ids, reasons, delays;
    std::vector<bool> reason_nulls, delay_nulls;
    for (const auto& item : items) {
        ids.push_back(Int64GetDatum(item.queue_id));
        reasons.push_back(item.reason ? text_value(*item.reason) : 0);
        reason_nulls.push_back(!item.reason);
        delays.push_back(Float8GetDatum(item.delay_seconds.value_or(0)));
        delay_nulls.push_back(!item.delay_seconds);
    }
    return requeue(make_array(ids, {}, INT8OID), make_array(reasons, reason_nulls, TEXTOID),
                   make_array(delays, delay_nulls, FLOAT8OID));
}

int64 release_claims(int32 worker_id) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT4OID};
        plan = keep_plan("SELECT q.id FROM email_verify.queue q WHERE q.state = 'claimed' AND q.claimed_by = $1", 1,
                         types);
    }
    Datum values[1] = {Int32GetDatum(worker_id)};
    uint64 rows = run_kept_plan(plan, values);
    if (rows == 0) return 0;
    return requeue(ids_of_result(rows), make_array({}, {}, TEXTOID), make_array({}, {}, FLOAT8OID));
}

}  // namespace ev::pg
