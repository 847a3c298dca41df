#include "list_cache.h"

#include <optional>
#include <string>
#include <vector>

#include "guard.h"
#include "pg_prelude.h"
#include "typo_suggester.h"

namespace ev::pg {

namespace {

std::optional<ev::RiskLists> cached_lists;
bool overrides_valid = false;
Oid list_table_oid = InvalidOid;

void on_relcache_invalidation(Datum, Oid relid) {
    // InvalidOid means "every relation" (e.g. after an invalidation overflow).
    if (relid == InvalidOid || relid == list_table_oid) overrides_valid = false;
}

struct ListRow {
    std::string list;
    std::string entry;
    bool listed;
};

std::vector<ListRow> read_list_rows() {
    std::vector<ListRow> rows;
    Oid table = InvalidOid;
    pg_call([&] {
        Oid schema = get_namespace_oid("email_verify", true);
        table = OidIsValid(schema) ? get_relname_relid("list_entries", schema) : InvalidOid;
    });
    list_table_oid = table;
    if (!OidIsValid(table)) return rows;

    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "email_verify: SPI_connect failed");
        if (SPI_execute("SELECT list, entry, listed FROM email_verify.list_entries", true, 0) != SPI_OK_SELECT)
            elog(ERROR, "email_verify: could not read email_verify.list_entries");
    });
    for (uint64 i = 0; i < SPI_processed; ++i) {
        char* list = nullptr;
        char* entry = nullptr;
        bool listed_null = true;
        Datum listed = 0;
        pg_call([&] {
            HeapTuple tuple = SPI_tuptable->vals[i];
            TupleDesc desc = SPI_tuptable->tupdesc;
            list = SPI_getvalue(tuple, desc, 1);
            entry = SPI_getvalue(tuple, desc, 2);
            listed = SPI_getbinval(tuple, desc, 3, &listed_null);
        });
        if (list && entry && !listed_null) rows.push_back({list, entry, DatumGetBool(listed)});
    }
    pg_call([] { SPI_finish(); });
    return rows;
}

}  // namespace

void ListCacheInit() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, static_cast<Datum>(0));
    // Building the shipped lists takes a backend ~30 ms. Preloaded, the
    // postmaster builds them once and every backend inherits them at fork.
    if (!process_shared_preload_libraries_in_progress) return;
    bool built = true;
    try {
        cached_lists = ev::RiskLists::with_builtin_lists();
        ev::TypoSuggester::builtin();
    } catch (...) {
        built = false;
        cached_lists.reset();
    }
    if (!built) elog(WARNING, "email_verify: could not preload the risk lists; each backend will build its own");
}

const ev::RiskLists& current_risk_lists() {
    if (!cached_lists) {
        cached_lists = ev::RiskLists::with_builtin_lists();
        overrides_valid = false;
    }
    if (!overrides_valid) {
        // Set first: an invalidation that arrives while we read clears it again.
        overrides_valid = true;
        std::vector<ListRow> rows;
        try {
            rows = read_list_rows();
        } catch (...) {
            overrides_valid = false;
            throw;
        }
        cached_lists->clear_overrides();
        for (const ListRow& row : rows) {
            ev::ListKind kind;
            // The table's CHECK constraint already refused anything else.
            if (ev::parse_list_kind(row.list, &kind)) cached_lists->add_override(kind, row.entry, row.listed);
        }
    }
    return *cached_lists;
}

}  // namespace ev::pg
