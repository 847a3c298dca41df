// write_verdicts(): see verdict_write_back.h. The statements on the queue are
// prepared once and kept; a watch's UPDATE is built from the catalog
// (email_verify_internal.key_sql) and kept per statement text.
#include "verdict_write_back.h"

#include <map>
#include <unordered_map>
#include <unordered_set>

#include "guard.h"
#include "guc_scope.h"
#include "owner_context.h"
#include "queue_items.h"
#include "settings.h"
#include "spi_plans.h"
#include "subtransaction.h"
#include "table_tree_lock.h"
#include "watch_facts.h"

namespace ev::pg {

namespace {

// A writer's lock on a row is skipped (SKIP LOCKED); any other lock the
// write needs is waited for this long at most.
constexpr const char* kLockTimeout = "2s";

// Kept statements of the watches' UPDATEs; emptied past this many (DDL can
// change a watch's statement any number of times).
constexpr std::size_t kMaxKeptWrites = 256;

struct Watch {
    int32 id = 0;
    Oid relid = InvalidOid;
    std::string column;
    ev::Level level = ev::Level::Smtp;
    bool suspended = false;
    std::optional<std::string> table;      // "schema"."table"
    std::optional<std::string> key_match;  // NULL: the primary key changed since watch()
    std::optional<std::string> key_record;
};

// ---- the watches of a batch ------------------------------------------------------

std::map<int32, Watch> load_watches(const std::vector<VerdictToWrite>& verdicts) {
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT4ARRAYOID};
        plan = keep_plan(
            "SELECT w.id, w.relid::pg_catalog.oid, w.column_name::pg_catalog.text, w.level,"
            "       w.suspended_reason IS NOT NULL "
            "FROM email_verify.watches w WHERE w.id OPERATOR(pg_catalog.=) ANY ($1) ORDER BY w.id",
            1, types);
    }
    std::vector<Datum> ids;
    ids.reserve(verdicts.size());
    for (const auto& v : verdicts) ids.push_back(Int32GetDatum(v.watch_id));
    Datum values[1] = {make_array(ids, {}, INT4OID)};
    std::map<int32, Watch> watches;
    uint64 rows = 0;
    pg_call([&] {
        if (SPI_execute_plan(plan, values, nullptr, true, 0) != SPI_OK_SELECT)
            elog(ERROR, "email_verify: reading the watches failed");
        rows = SPI_processed;
    });
    SPITupleTable* table = SPI_tuptable;
    for (uint64 r = 0; r < rows; ++r) {
        HeapTuple row = table->vals[r];
        Watch w;
        bool isnull = false;
        pg_call([&] {
            w.id = DatumGetInt32(SPI_getbinval(row, table->tupdesc, 1, &isnull));
            w.relid = DatumGetObjectId(SPI_getbinval(row, table->tupdesc, 2, &isnull));
            w.suspended = DatumGetBool(SPI_getbinval(row, table->tupdesc, 5, &isnull));
        });
        w.column = cell_text(table, r, 3).value_or("");
        w.level = ev::parse_level(cell_text(table, r, 4).value_or("smtp")).value_or(ev::Level::Smtp);
        watches.emplace(w.id, std::move(w));
    }
    // How to address the rows (kept until the table changes).
    for (auto& [id, w] : watches) {
        std::optional<WatchFacts> facts = watch_facts(id, false);
        if (!facts) continue;
        w.table = facts->table;
        w.key_match = facts->key_match;
        w.key_record = facts->key_record;
    }
    return watches;
}

// The UPDATE of a watch's rows from arrays $1..$7 (queue_id, row_key, email,
// status, reason, catch_all, checked_at): the rows still there with the same
// address are locked unless a writer holds them (target), updated (written,
// found again by key and by the very row version locked), and the rows a
// writer held are reported (locked). Returns (rows written, locked queue ids).
// Each row is looked up by itself (a LATERAL subquery the planner cannot turn
// into a join), through the primary key: joined, the planner would hash the
// whole table on the address (7 MB and 26 ms for a batch of a 100k-row
// table). The rows a writer held are looked for only when some verdict found
// no row to lock, and by an anti-join: a NOT IN or <> ALL over target would
// compare every verdict with every other.
std::string write_statement(const Watch& w) {
    std::string column = quoted_identifier(w.column);
    std::string key = "pg_catalog.jsonb_to_record(v.row_key) AS k(" + *w.key_record + ")";
    std::string same_row = *w.key_match + " AND t." + column + "::pg_catalog.text OPERATOR(pg_catalog.=) v.email";
    return "WITH v AS ("
           " SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
           "pg_catalog.unnest($2::pg_catalog.jsonb[]),"
           "   pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]),"
           "   pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.bool[]),"
           "   pg_catalog.unnest($7::pg_catalog.timestamptz[]))"
           "   AS v(queue_id, row_key, email, status, reason, catch_all, checked_at)"
           "), target AS ("
           " SELECT r.row_id, v.* FROM v CROSS JOIN LATERAL " +
           key + " CROSS JOIN LATERAL (SELECT t.ctid AS row_id FROM " + *w.table + " AS t WHERE " + same_row +
           " FOR UPDATE OF t SKIP LOCKED) r"
           "), written AS ("
           " UPDATE " +
           *w.table + " AS t SET " + quoted_identifier(w.column + "_status") + " = v.status, " +
           quoted_identifier(w.column + "_reason") + " = v.reason, " + quoted_identifier(w.column + "_catch_all") +
           " = v.catch_all, " + quoted_identifier(w.column + "_verified_at") +
           " = COALESCE(v.checked_at, pg_catalog.now())"
           " FROM target v CROSS JOIN LATERAL " +
           key + " WHERE " + *w.key_match +
           " AND t.ctid OPERATOR(pg_catalog.=) v.row_id RETURNING v.queue_id"
           "), locked AS ("
           " SELECT v.queue_id FROM v CROSS JOIN LATERAL " +
           key + " CROSS JOIN LATERAL (SELECT FROM " + *w.table + " AS t WHERE " + same_row +
           " LIMIT 1) r"
           " WHERE NOT EXISTS (SELECT FROM target WHERE target.queue_id OPERATOR(pg_catalog.=) v.queue_id)"
           ")"
           " SELECT (SELECT pg_catalog.count(*) FROM written),"
           "   CASE WHEN (SELECT pg_catalog.count(*) FROM target) OPERATOR(pg_catalog.<)"
           "             (SELECT pg_catalog.count(*) FROM v)"
           "   THEN (SELECT pg_catalog.array_agg(locked.queue_id) FROM locked) END";
}

SPIPlanPtr write_plan(const std::string& statement) {
    static std::unordered_map<std::string, SPIPlanPtr> kept;
    auto found = kept.find(statement);
    if (found != kept.end()) return found->second;
    if (kept.size() >= kMaxKeptWrites) {
        for (auto& [text, plan] : kept) pg_call([&, p = plan] { SPI_freeplan(p); });
        kept.clear();
    }
    Oid types[7] = {INT8ARRAYOID, JSONBARRAYOID, TEXTARRAYOID,       TEXTARRAYOID,
                    TEXTARRAYOID, BOOLARRAYOID,  TIMESTAMPTZARRAYOID};
    SPIPlanPtr plan = keep_plan(statement.c_str(), 7, types);
    kept.emplace(statement, plan);
    return plan;
}

// Writes `items` of watch w as its table's owner; adds the rows written and
// the queue ids of rows a writer held.
void write_rows(const Watch& w, const std::vector<const VerdictToWrite*>& items, uint64* written,
                std::vector<int64>* locked) {
    std::vector<Datum> ids, keys, emails, statuses, reasons, catch_alls, checked;
    std::vector<bool> reason_nulls, catch_all_nulls, checked_nulls;
    for (const VerdictToWrite* v : items) {
        ids.push_back(Int64GetDatum(v->queue_id));
        pg_call([&] { keys.push_back(DirectFunctionCall1(jsonb_in, CStringGetDatum(v->row_key.c_str()))); });
        emails.push_back(text_value(v->email));
        statuses.push_back(text_value(v->status));
        reasons.push_back(v->reason ? text_value(*v->reason) : 0);
        reason_nulls.push_back(!v->reason);
        catch_alls.push_back(BoolGetDatum(v->catch_all.value_or(false)));
        catch_all_nulls.push_back(!v->catch_all);
        checked.push_back(TimestampTzGetDatum(v->checked_at.value_or(0)));
        checked_nulls.push_back(!v->checked_at);
    }
    Datum values[7] = {make_array(ids, {}, INT8OID),
                       make_array(keys, {}, JSONBOID),
                       make_array(emails, {}, TEXTOID),
                       make_array(statuses, {}, TEXTOID),
                       make_array(reasons, reason_nulls, TEXTOID),
                       make_array(catch_alls, catch_all_nulls, BOOLOID),
                       make_array(checked, checked_nulls, TIMESTAMPTZOID)};
    SPIPlanPtr plan = write_plan(write_statement(w));
    run_as_table_owner(w.relid, w.id, [&] {
        pg_call([&] {
            if (SPI_execute_plan(plan, values, nullptr, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
                elog(ERROR, "email_verify: the write-back statement failed");
            bool isnull = false;
            *written += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
            Datum held = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
            if (isnull) return;
            Datum* elements = nullptr;
            int count = 0;
            deconstruct_array(DatumGetArrayTypeP(held), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elements,
                              nullptr, &count);
            for (int i = 0; i < count; ++i) locked->push_back(DatumGetInt64(elements[i]));
        });
    });
}

void warn(const std::string& message) {
    pg_call([&] { ereport(WARNING, (errmsg("%s", message.c_str()))); });
}

bool known_status(const std::string& s) { return s == "valid" || s == "invalid" || s == "risky" || s == "unknown"; }

uint64 write_and_settle(const std::vector<VerdictToWrite>& verdicts) {
    std::map<int32, Watch> watches = load_watches(verdicts);
    std::vector<PutBack> put_back;
    std::vector<Failure> failures;
    std::map<int32, std::vector<const VerdictToWrite*>> by_watch;
    for (const auto& v : verdicts) {
        auto w = watches.find(v.watch_id);
        if (w == watches.end()) continue;  // the watch ended: its items went with it
        if (w->second.suspended) {
            put_back.push_back({v.queue_id, "watch suspended", true});
        } else if (v.level && *v.level < w->second.level) {
            // Raised while the address was probed: not this watch's verdict.
            put_back.push_back({v.queue_id, "the watch's level was raised while the address was probed", false});
        } else {
            by_watch[v.watch_id].push_back(&v);
        }
    }

    uint64 written = 0;
    for (auto& group : by_watch) {
        const Watch& w = watches.at(group.first);
        const std::vector<const VerdictToWrite*>& items = group.second;
        if (!w.key_match || !w.key_record || !w.table) {
            warn("email_verify: verdicts for table " + w.table.value_or("?") +
                 " dropped, its primary key changed since it was watched");
            continue;
        }
        // The table and its partitions, locked without waiting: one partition
        // held under LOCK TABLE or ALTER TABLE would otherwise cost every
        // verdict of the fallback below its lock_timeout. The items wait for
        // a later round without losing an attempt.
        TreeLock lock;
        pg_call([&] { lock = try_lock_table_tree(w.relid, RowExclusiveLock); });
        if (!lock.locked) {
            for (const VerdictToWrite* item : items)
                put_back.push_back({item->queue_id, "table locked by another transaction", true});
            continue;
        }
        // The whole watch's verdicts in one UPDATE; if something in them makes
        // it fail (the owner's trigger raised, say), verdict by verdict, so
        // that only the item at fault fails.
        std::vector<int64> locked;
        uint64 n = 0;
        if (!in_subtransaction([&] { write_rows(w, items, &n, &locked); })) {
            written += n;
            for (int64 id : locked) put_back.push_back({id, "row locked by another transaction", true});
            continue;
        }
        for (const VerdictToWrite* item : items) {
            std::vector<int64> item_locked;
            uint64 item_n = 0;
            auto error = in_subtransaction([&] { write_rows(w, {item}, &item_n, &item_locked); });
            if (!error) {
                written += item_n;
                for (int64 id : item_locked) put_back.push_back({id, "row locked by another transaction", true});
            } else if (error->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE) {
                put_back.push_back({item->queue_id, "row locked by another transaction", true});
            } else {
                warn("email_verify: could not write the verdict for " + item->email + " to table " + *w.table + ": " +
                     error->message);
                failures.push_back(
                    {item->queue_id, item->status, ("write-back failed: " + error->message).substr(0, 500)});
            }
        }
    }

    std::vector<WrittenItem> done;
    std::unordered_set<int64> still_open;
    for (const auto& p : put_back) still_open.insert(p.queue_id);
    for (const auto& f : failures) still_open.insert(f.queue_id);
    for (const auto& v : verdicts)
        if (still_open.count(v.queue_id) == 0) done.push_back({v.queue_id, v.status, v.reason});
    settle_written(done);
    ev::pg::put_back(put_back);
    fail(failures);
    return written;
}

}  // namespace

uint64 write_verdicts(const std::vector<VerdictToWrite>& verdicts) {
    for (const auto& v : verdicts)
        if (!known_status(v.status))
            throw UserError(ERRCODE_INVALID_PARAMETER_VALUE,
                            "every verdict needs a status of valid, invalid, risky or unknown");
    if (verdicts.empty()) return 0;
    uint64 written = 0;
    with_settings({{"lock_timeout", kLockTimeout}}, [&] { written = write_and_settle(verdicts); });
    return written;
}

}  // namespace ev::pg
