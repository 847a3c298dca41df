#include "watch_facts.h"

#include <unordered_map>

#include "guard.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

std::unordered_map<int32, WatchFacts> facts_by_watch;
bool callbacks_registered = false;
// Counts the invalidations seen, so that facts read while one came in are
// not kept.
uint64 invalidations = 0;

// Called by PostgreSQL (plain C in spirit: nothing here can throw or error).
void forget_relation(Datum, Oid relid) {
    ++invalidations;
    if (!OidIsValid(relid)) {
        facts_by_watch.clear();
        return;
    }
    for (auto it = facts_by_watch.begin(); it != facts_by_watch.end();)
        it = it->second.relid == relid ? facts_by_watch.erase(it) : std::next(it);
}

// A type's owner or definition changed: what column_problem said may be stale.
void forget_all(Datum, int, uint32) {
    ++invalidations;
    facts_by_watch.clear();
}

}  // namespace

std::optional<WatchFacts> watch_facts(int32 watch_id, bool table_locked) {
    if (!callbacks_registered) {
        pg_call([] {
            CacheRegisterRelcacheCallback(forget_relation, 0);
            CacheRegisterSyscacheCallback(TYPEOID, forget_all, 0);
        });
        callbacks_registered = true;
    }
    auto found = facts_by_watch.find(watch_id);
    if (found != facts_by_watch.end()) return found->second;

    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[1] = {INT4OID};
        plan = keep_plan(
            "SELECT w.relid::pg_catalog.oid::pg_catalog.text, k.qualified_name, k.key_match, k.key_record, "
            "       email_verify_internal.column_problem(w.relid, w.column_name) "
            "FROM email_verify.watches w "
            "CROSS JOIN LATERAL email_verify_internal.key_sql(w.relid, w.key_columns, 't', 'k') k "
            "WHERE w.id OPERATOR(pg_catalog.=) $1",
            1, types);
    }
    Datum values[1] = {Int32GetDatum(watch_id)};
    uint64 rows = 0;
    uint64 seen = invalidations;
    // Not read-only: the statement takes a snapshot of its own, taken after
    // the caller's lock, not the transaction's older one.
    pg_call([&] {
        if (SPI_execute_plan(plan, values, nullptr, false, 1) != SPI_OK_SELECT)
            elog(ERROR, "email_verify: watch facts");
        rows = SPI_processed;
    });
    if (rows != 1) return std::nullopt;
    SPITupleTable* table = SPI_tuptable;
    WatchFacts facts;
    facts.relid = static_cast<Oid>(std::stoul(cell_text(table, 0, 1).value_or("0")));
    facts.table = cell_text(table, 0, 2).value_or("");
    facts.key_match = cell_text(table, 0, 3);
    facts.key_record = cell_text(table, 0, 4);
    facts.column_problem = cell_text(table, 0, 5);
    if (table_locked && invalidations == seen) facts_by_watch[watch_id] = facts;
    return facts;
}

}  // namespace ev::pg
