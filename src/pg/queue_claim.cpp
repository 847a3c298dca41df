// claim_batch() and sweep_into_queue(): see queue_claim.h. The fixed
// statements are prepared once and kept; a watch's sweep statement is built
// from what the watch records (sweep_sql.h) and planned each time (its LIMIT
// and its table's statistics change from one claim to the next).
#include "queue_claim.h"

#include <functional>
#include <optional>

#include "domain_leases.h"
#include "guard.h"
#include "guc_scope.h"
#include "spi_plans.h"
#include "sweep_sql.h"
#include "table_tree_lock.h"
#include "watch_facts.h"

namespace ev::pg {

namespace {

std::string text_at(SPITupleTable* table, uint64 row, int column) { return cell_text(table, row, column).value_or(""); }

// A name[] cell (NULL: none).
std::vector<std::string> names_at(SPITupleTable* table, uint64 row, int column) {
    bool isnull = false;
    Datum array = 0;
    pg_call([&] { array = SPI_getbinval(table->vals[row], table->tupdesc, column, &isnull); });
    return isnull ? std::vector<std::string>{} : name_array(array);
}

// Runs body with the settings every sweep statement needs (guc_scope.h).
// The planner settings keep it on the <col>_verified_at index, so it reads
// about as many rows as it queues: a sequential or bitmap scan would read the
// whole table, a hash or a materialized "already queued?" test the watch's
// queue items (rows x items when the statistics call the queue empty). Keys
// are compared as jsonb: the settings their text depends on are pinned, so a
// timestamptz key built in two sessions comes out the same. The search_path
// is the one every kept plan was prepared under (keep_plan): PostgreSQL 15
// plans a kept statement again whenever it runs under another one.
void with_sweep_settings(const std::function<void()>& body) {
    with_settings({{"search_path", "pg_catalog, pg_temp"},
                   {"enable_seqscan", "off"},
                   {"enable_bitmapscan", "off"},
                   {"enable_hashjoin", "off"},
                   {"enable_mergejoin", "off"},
                   {"enable_material", "off"},
                   {"TimeZone", "UTC"},
                   {"IntervalStyle", "postgres"},
                   {"extra_float_digits", "1"}},
                  body);
}

struct WatchToSweep {
    int32 id = 0;
    std::string table;  // the relid as text: qualified and quoted as needed
    std::string column;
    std::string level;
    std::string recheck_after;
    bool suspended = false;
    Oid relid = InvalidOid;
    std::vector<std::string> key_columns;
};

// Whether the sweep may read watch w's table now, checked in this order: the
// watch is not suspended; the AccessShareLock of the table and of all its
// partitions is taken without waiting (a table, or one partition, under ALTER
// TABLE or LOCK TABLE is skipped this round, and taking the lock brings in
// any change committed before it; a foreign partition, which check_supported
// refuses, keeps the table skipped); then, under the
// lock, the key still addresses the rows, the columns are of types a
// privileged reader may read (watch_facts, kept until the table changes), and
// the worker's role may read the table (the owner may have revoked what
// watch() granted it: that table waits, the others go on).
bool may_sweep(const WatchToSweep& w) {
    if (w.suspended) return false;
    TreeLock lock;
    pg_call([&] { lock = try_lock_table_tree(w.relid, AccessShareLock); });
    if (!lock.locked || lock.has_foreign) return false;
    std::optional<WatchFacts> facts = watch_facts(w.id, true);
    if (!facts || !facts->key_match || facts->column_problem) return false;
    bool readable = false;
    pg_call([&] {
        Oid schema = get_rel_namespace(w.relid);
        readable = OidIsValid(schema) && pg_namespace_aclcheck(schema, GetUserId(), ACL_USAGE) == ACLCHECK_OK &&
                   pg_class_aclcheck(w.relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
    });
    return readable;
}

// The sweep of every watch (one worker at a time per watch), up to max_rows
// rows each, or, claiming for claim_for, up to max_rows in all; returns the
// rows queued, and the items when claiming.
int64 sweep(int max_rows, bool stale, std::optional<int32> claim_for, int lease_seconds,
            std::vector<ClaimedItem>* out) {
    static SPIPlanPtr watches_plan = nullptr, sweeper_plan = nullptr, wake_plan = nullptr;
    if (!watches_plan) {
        Oid one_bool[1] = {BOOLOID};
        // KEY SHARE: a watch ended meanwhile (end_watch deletes its items,
        // then the row) waits for this sweep, or is skipped by it, so the
        // sweep never leaves items behind for a watch that is gone.
        // Claiming, the watches come in a random order, so that one large
        // watch does not keep the others waiting.
        watches_plan = keep_plan(
            "SELECT w.id, w.relid::pg_catalog.text, w.column_name::pg_catalog.text, w.level, "
            "       w.recheck_after::pg_catalog.text, w.suspended_reason IS NOT NULL, "
            "       w.relid::pg_catalog.oid::pg_catalog.text, w.key_columns "
            "FROM email_verify.watches w ORDER BY CASE WHEN $1 THEN pg_catalog.random() END, w.id FOR KEY SHARE",
            1, one_bool);
        Oid one_int[1] = {INT4OID};
        // One worker at a time sweeps a watch; the others skip it.
        sweeper_plan = keep_plan(
            "SELECT pg_catalog.pg_try_advisory_xact_lock("
            "  'email_verify.watches'::pg_catalog.regclass::pg_catalog.oid::pg_catalog.int4, $1)",
            1, one_int);
        wake_plan = keep_plan("SELECT email_verify_internal.wake_workers_at_commit()", 0, nullptr);
    }
    const bool claiming = claim_for.has_value();
    Datum order[1] = {BoolGetDatum(claiming)};
    uint64 n = run_kept_plan(watches_plan, order);
    SPITupleTable* table = SPI_tuptable;
    std::vector<WatchToSweep> watches;
    for (uint64 r = 0; r < n; ++r)
        watches.push_back({std::stoi(text_at(table, r, 1)), text_at(table, r, 2), text_at(table, r, 3),
                           text_at(table, r, 4), text_at(table, r, 5), text_at(table, r, 6) == "t",
                           static_cast<Oid>(std::stoul(text_at(table, r, 7))), names_at(table, r, 8)});

    int64 total = 0;
    for (const auto& w : watches) {
        if (claiming && total >= max_rows) break;
        if (!may_sweep(w)) continue;
        Datum id[1] = {Int32GetDatum(w.id)};
        if (run_kept_plan(sweeper_plan, id) != 1 || text_at(SPI_tuptable, 0, 1) != "t") continue;
        std::string verified_at = quoted_identifier(w.column + "_verified_at");
        int wanted = claiming ? max_rows - static_cast<int>(total) : max_rows;
        // Stale rows: oldest verdict first. Rows without a verdict: oldest
        // first (the index holds them in heap order), but among the first
        // 2 x wanted only: rows that already have an item (retries waiting
        // out their backoff, other workers' claims) can fill the front of the
        // index, and walking them costs a probe of the queue each, on every
        // claim. When they do, the rest is taken newest first, from the back.
        std::string unverified = verified_at + " IS NULL AND " + quoted_identifier(w.column) + " IS NOT NULL";
        std::vector<std::string> passes;
        if (stale) {
            passes.push_back(w.table);
        } else {
            std::string rows = "(SELECT * FROM " + w.table + " WHERE " + unverified;
            std::string front = rows;
            front += " LIMIT " + std::to_string(2 * std::max(wanted, 0)) + ")";
            std::string back = rows;
            back += " ORDER BY " + verified_at + " DESC)";
            passes.push_back(std::move(front));
            passes.push_back(std::move(back));
        }
        std::string condition =
            stale ? "n." + verified_at + " < now() - " + quoted_literal(w.recheck_after) + "::interval" : "true";
        std::string order_by = "n." + verified_at;
        int64 taken = 0;
        SweepTarget target{w.column, w.key_columns};
        for (const auto& pass : passes) {
            SweepQuery query;
            query.source = pass;
            query.condition = condition;
            if (stale) query.order_by = order_by;
            query.max_rows = static_cast<int>(wanted - taken);
            query.claim = claiming;
            std::string statement = enqueue_sql(target, query);
            uint64 queued = 0;
            SPITupleTable* items = nullptr;
            std::string lease_text = std::to_string(lease_seconds) + " seconds";
            pg_call([&] {
                Oid types[4] = {INT4OID, INT4OID, INTERVALOID, TEXTOID};
                Datum lease = DirectFunctionCall3(interval_in, CStringGetDatum(lease_text.c_str()),
                                                  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
                Datum values[4] = {Int32GetDatum(w.id), Int32GetDatum(claim_for.value_or(0)), lease,
                                   CStringGetTextDatum(w.level.c_str())};
                char nulls[5] = "    ";
                if (!claiming) nulls[1] = nulls[2] = 'n';
                if (SPI_execute_with_args(statement.c_str(), 4, types, values, nulls, false, 0) < 0)
                    elog(ERROR, "email_verify: the sweep of watch %d failed", w.id);
                queued = SPI_processed;
                items = SPI_tuptable;
            });
            if (claiming && out)
                for (auto& item : claimed_items(items, queued)) out->push_back(std::move(item));
            taken += static_cast<int64>(queued);
            if (taken >= wanted) break;
        }
        total += taken;
    }
    // The other workers may have found the queue empty meanwhile. A claiming
    // sweep keeps what it found; a full one means there may be more.
    if (total > 0 && (!claiming || total >= max_rows)) run_kept_plan(wake_plan, nullptr);
    return total;
}

}  // namespace

std::vector<ClaimedItem> claim_batch(int32 worker_id, int batch_size, int lease_seconds) {
    give_up_expired_claims();
    std::vector<ClaimedItem> items = claim_ready_items(worker_id, batch_size, lease_seconds);
    // The table is swept only when the queue falls short, so rows inserted
    // behind a long queue wait their turn instead of being walked over on
    // every claim.
    if (static_cast<int>(items.size()) < batch_size) {
        int wanted = batch_size - static_cast<int>(items.size());
        with_sweep_settings([&] { sweep(wanted, false, worker_id, lease_seconds, &items); });
    }
    return keep_leased_rows(worker_id, std::move(items), lease_seconds);
}

int64 sweep_into_queue(int max_rows, bool stale) {
    int64 queued = 0;
    with_sweep_settings([&] { queued = sweep(max_rows, stale, std::nullopt, 0, nullptr); });
    return queued;
}

}  // namespace ev::pg
