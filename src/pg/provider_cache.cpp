#include "provider_cache.h"

#include <string>
#include <utility>
#include <vector>

#include "guard.h"
#include "pg_prelude.h"

namespace ev::pg {

namespace {

std::shared_ptr<const ev::prober::ProviderRules> cached_rules;
bool rules_valid = false;
Oid providers_table_oid = InvalidOid;

void on_relcache_invalidation(Datum, Oid relid) {
    // InvalidOid means "every relation" (e.g. after an invalidation overflow).
    if (relid == InvalidOid || relid == providers_table_oid) rules_valid = false;
}

struct PatternRow {
    std::string name;
    std::string behaviour;
    std::string pattern;
};

// One row per pattern of each enabled provider, providers in byte order of
// their names (which one wins a tie between equal patterns must not depend
// on the collation), patterns in array order.
constexpr const char* kReadPatterns =
    "SELECT p.name, p.behaviour, m.pattern"
    " FROM email_verify.providers p"
    " CROSS JOIN LATERAL pg_catalog.unnest(p.mx_patterns) WITH ORDINALITY AS m(pattern, n)"
    " WHERE p.enabled AND m.pattern IS NOT NULL"
    " ORDER BY p.name COLLATE \"C\", m.n";

std::vector<PatternRow> read_pattern_rows() {
    std::vector<PatternRow> rows;
    Oid table = InvalidOid;
    pg_call([&] {
        Oid schema = get_namespace_oid("email_verify", true);
        table = OidIsValid(schema) ? get_relname_relid("providers", schema) : InvalidOid;
    });
    providers_table_oid = table;
    if (!OidIsValid(table)) return rows;

    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "email_verify: SPI_connect failed");
        if (SPI_execute(kReadPatterns, true, 0) != SPI_OK_SELECT)
            elog(ERROR, "email_verify: could not read email_verify.providers");
    });
    for (uint64 i = 0; i < SPI_processed; ++i) {
        char* name = nullptr;
        char* behaviour = nullptr;
        char* pattern = nullptr;
        pg_call([&] {
            HeapTuple tuple = SPI_tuptable->vals[i];
            TupleDesc desc = SPI_tuptable->tupdesc;
            name = SPI_getvalue(tuple, desc, 1);
            behaviour = SPI_getvalue(tuple, desc, 2);
            pattern = SPI_getvalue(tuple, desc, 3);
        });
        if (name && behaviour && pattern) rows.push_back({name, behaviour, pattern});
    }
    pg_call([] { SPI_finish(); });
    return rows;
}

// A row the core refuses (the table's CHECKs let none through) is left out
// rather than failing every probe.
std::shared_ptr<const ev::prober::ProviderRules> build_rules(const std::vector<PatternRow>& rows) {
    auto rules = std::make_shared<ev::prober::ProviderRules>();
    for (std::size_t i = 0; i < rows.size();) {
        std::size_t end = i;
        std::vector<std::string> patterns;
        while (end < rows.size() && rows[end].name == rows[i].name) patterns.push_back(rows[end++].pattern);
        if (auto behaviour = ev::prober::parse_provider_behaviour(rows[i].behaviour))
            rules->add(rows[i].name, *behaviour, patterns);
        i = end;
    }
    return rules;
}

}  // namespace

void ProviderCacheInit() { CacheRegisterRelcacheCallback(on_relcache_invalidation, static_cast<Datum>(0)); }

std::shared_ptr<const ev::prober::ProviderRules> current_provider_rules() {
    if (!rules_valid || !cached_rules) {
        // Set first: an invalidation that arrives while we read clears it again.
        rules_valid = true;
        std::vector<PatternRow> rows;
        try {
            rows = read_pattern_rows();
        } catch (...) {
            rules_valid = false;
            throw;
        }
        cached_rules = build_rules(rows);
    }
    return cached_rules;
}

}  // namespace ev::pg
