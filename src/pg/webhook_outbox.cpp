// The webhook outbox: see webhook_outbox.h. Every statement is prepared once,
// under search_path pg_catalog (keep_plan), and kept.
#include "webhook_outbox.h"

#include "guard.h"
#include "job_items.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

// How long a claimed event stays 'sending' before another attempt may take
// it: well past email_verify.webhook_timeout's bound.
constexpr const char* kSendingLease = "10 minutes";

void mark_events_of_disabled_urls_dead() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "UPDATE email_verify_internal.webhook_events e "
            "SET state = 'dead', last_cause = 'endpoint_disabled', "
            "    last_error = format('the endpoint is disabled (%s); email_verify.enable_webhook_endpoint takes it "
            "back, and the dead letters can then be replayed', w.disabled_reason) "
            "FROM email_verify_internal.webhook_endpoints w "
            "WHERE e.state = 'pending' AND e.next_attempt_at <= now() AND w.url = e.url AND w.disabled_at IS NOT NULL",
            0, nullptr);
    run_kept_plan(plan, nullptr);
}

void expire_sending_leases() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "UPDATE email_verify_internal.webhook_events SET state = 'pending', lease_until = NULL "
            "WHERE state = 'sending' AND lease_until < now()",
            0, nullptr);
    run_kept_plan(plan, nullptr);
}

std::vector<std::string> text_array_at(SPITupleTable* table, uint64 row, int column) {
    std::vector<std::string> out;
    bool isnull = false;
    Datum array = 0;
    pg_call([&] { array = SPI_getbinval(table->vals[row], table->tupdesc, column, &isnull); });
    if (isnull) return out;
    Datum* elements = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_call([&] {
        deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
    });
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) continue;
        char* value = nullptr;
        pg_call([&] { value = TextDatumGetCString(elements[i]); });
        out.emplace_back(value);
    }
    return out;
}

}  // namespace

std::vector<OutboxEvent> claim_due_events(int limit) {
    mark_events_of_disabled_urls_dead();
    expire_sending_leases();
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT4OID};
        std::string sql =
            "WITH due AS ("
            "    SELECT e.id FROM email_verify_internal.webhook_events e"
            "    WHERE e.state = 'pending' AND e.next_attempt_at <= now()"
            "      AND NOT EXISTS (SELECT FROM email_verify_internal.webhook_events p"
            "                      WHERE p.job_id = e.job_id AND p.id < e.id AND p.state IN ('pending', 'sending'))"
            "    ORDER BY e.next_attempt_at, e.id LIMIT $1"
            "    FOR UPDATE SKIP LOCKED"
            ")"
            "UPDATE email_verify_internal.webhook_events e"
            "  SET state = 'sending', attempts = e.attempts + 1, lease_until = now() + interval '" +
            std::string(kSendingLease) +
            "'"
            "  FROM due, email_verify_internal.jobs j"
            "  LEFT JOIN email_verify_internal.webhook_endpoints w ON w.id = j.endpoint_id"
            "  WHERE e.id = due.id AND j.id = e.job_id"
            "  RETURNING e.id, e.event_id::text, e.event_type, e.body::text, e.url, e.attempts,"
            "    ARRAY(SELECT s FROM (VALUES (1, coalesce(w.secret, j.webhook_secret)),"
            "                                (2, CASE WHEN w.previous_until > now() THEN w.previous_secret END)) AS "
            "v(o, s)"
            "          WHERE s IS NOT NULL AND s <> '' ORDER BY o)";
        plan = keep_plan(sql.c_str(), 1, types);
    }
    Datum values[1] = {Int32GetDatum(limit)};
    uint64 rows = 0;
    // Each due event's "an earlier one of its job still waits?" is one probe
    // of the (job_id, id) index, never an anti-join over every pending event.
    with_index_lookups([&] { rows = run_kept_plan(plan, values); });
    std::vector<OutboxEvent> events;
    events.reserve(rows);
    SPITupleTable* table = SPI_tuptable;
    for (uint64 r = 0; r < rows; ++r) {
        OutboxEvent e;
        e.row = std::stoll(cell_text(table, r, 1).value_or("0"));
        e.event_id = cell_text(table, r, 2).value_or("");
        e.event_type = cell_text(table, r, 3).value_or("");
        e.body = cell_text(table, r, 4).value_or("");
        e.url = cell_text(table, r, 5).value_or("");
        e.attempts = std::stoi(cell_text(table, r, 6).value_or("1"));
        e.secrets = text_array_at(table, r, 7);
        events.push_back(std::move(e));
    }
    return events;
}

std::optional<double> seconds_to_next_event() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 "
            "FROM email_verify_internal.webhook_events WHERE state = 'pending'",
            0, nullptr);
    run_kept_plan(plan, nullptr);
    std::optional<std::string> seconds = cell_text(SPI_tuptable, 0, 1);
    if (!seconds) return std::nullopt;
    return std::stod(*seconds);
}

void release_sending_events() {
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep_plan(
            "UPDATE email_verify_internal.webhook_events SET state = 'pending', lease_until = NULL "
            "WHERE state = 'sending'",
            0, nullptr);
    run_kept_plan(plan, nullptr);
}

void record_attempts(const std::vector<AttemptRecord>& attempts) {
    if (attempts.empty()) return;
    static SPIPlanPtr update = nullptr, log = nullptr, gone = nullptr;
    if (!gone) {  // the last one prepared: all are, or all are prepared again
        Oid types[6] = {INT8ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
        update = keep_plan(
            "UPDATE email_verify_internal.webhook_events e "
            "SET state = CASE r.next WHEN 'delivered' THEN 'delivered' WHEN 'retry' THEN 'pending' "
            "                        WHEN 'put_back' THEN 'pending' ELSE 'dead' END, "
            "    attempts = e.attempts - CASE WHEN r.next = 'put_back' THEN 1 ELSE 0 END, "
            "    next_attempt_at = CASE WHEN r.next IN ('retry', 'put_back') "
            "                           THEN now() + make_interval(secs => r.delay) ELSE now() END, "
            "    delivered_at = CASE WHEN r.next = 'delivered' THEN now() END, lease_until = NULL, "
            "    last_status = CASE WHEN r.next = 'put_back' THEN e.last_status ELSE nullif(r.status, 0) END, "
            "    last_cause = CASE WHEN r.next = 'put_back' THEN e.last_cause ELSE r.cause END, "
            "    last_error = CASE WHEN r.next = 'put_back' THEN e.last_error ELSE nullif(r.error, '') END "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3), unnest($4), unnest($5), unnest($6)) "
            "     AS r(id, next, delay, status, cause, error) "
            "WHERE e.id = r.id AND e.state = 'sending'",
            6, types);
        Oid log_types[5] = {INT8ARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID};
        log = keep_plan(
            "INSERT INTO email_verify_internal.webhook_attempts (event_row, url, http_status, cause, latency_ms) "
            "SELECT r.id, r.url, nullif(r.status, 0), r.cause, r.latency "
            "FROM ROWS FROM (unnest($1), unnest($2), unnest($3), unnest($4), unnest($5)) "
            "     AS r(id, url, status, cause, latency)",
            5, log_types);
        Oid gone_types[2] = {INT8OID, TEXTOID};
        // 410 Gone: the URL takes no more events; a registered endpoint is
        // disabled, an ad hoc URL gets a row of its own (its job's owner's).
        gone = keep_plan(
            "WITH disabled AS ("
            "    UPDATE email_verify_internal.webhook_endpoints w"
            "    SET disabled_at = now(), disabled_reason = $2"
            "    WHERE w.url = (SELECT e.url FROM email_verify_internal.webhook_events e WHERE e.id = $1)"
            "    RETURNING w.id"
            ")"
            "INSERT INTO email_verify_internal.webhook_endpoints (owner, url, disabled_at, disabled_reason)"
            "SELECT j.owner, e.url, now(), $2 "
            "FROM email_verify_internal.webhook_events e JOIN email_verify_internal.jobs j ON j.id = e.job_id"
            " WHERE e.id = $1 AND NOT EXISTS (SELECT FROM disabled)",
            2, gone_types);
    }
    static const char* const kNext[] = {"delivered", "retry", "dead", "dead", "put_back"};
    std::vector<Datum> ids, nexts, delays, statuses, causes, errors;
    std::vector<Datum> log_ids, log_urls, log_statuses, log_causes, log_latencies;
    for (const AttemptRecord& a : attempts) {
        ids.push_back(Int64GetDatum(a.row));
        nexts.push_back(text_value(kNext[static_cast<int>(a.next)]));
        delays.push_back(Float8GetDatum(a.retry_in_seconds));
        statuses.push_back(Int32GetDatum(static_cast<int32>(a.http_status)));
        causes.push_back(text_value(a.cause));
        errors.push_back(text_value(a.error));
        if (a.next == AttemptRecord::Next::PutBack) continue;
        log_ids.push_back(Int64GetDatum(a.row));
        log_urls.push_back(text_value(a.url));
        log_statuses.push_back(Int32GetDatum(static_cast<int32>(a.http_status)));
        log_causes.push_back(text_value(a.cause));
        log_latencies.push_back(Float8GetDatum(a.latency_ms));
    }
    Datum values[6] = {make_array(ids, {}, INT8OID),      make_array(nexts, {}, TEXTOID),
                       make_array(delays, {}, FLOAT8OID), make_array(statuses, {}, INT4OID),
                       make_array(causes, {}, TEXTOID),   make_array(errors, {}, TEXTOID)};
    run_kept_plan(update, values);
    if (!log_ids.empty()) {
        Datum log_values[5] = {make_array(log_ids, {}, INT8OID), make_array(log_urls, {}, TEXTOID),
                               make_array(log_statuses, {}, INT4OID), make_array(log_causes, {}, TEXTOID),
                               make_array(log_latencies, {}, FLOAT8OID)};
        run_kept_plan(log, log_values);
    }
    for (const AttemptRecord& a : attempts) {
        if (a.next != AttemptRecord::Next::Gone) continue;
        Datum gone_values[2] = {Int64GetDatum(a.row), text_value("410 Gone: " + a.error)};
        run_kept_plan(gone, gone_values);
    }
}

}  // namespace ev::pg
