// What the queue's C++ needs to know of a watched table, read from the
// catalog once and kept per watch until the table changes: its name, how its
// rows are addressed by primary key (email_verify_internal.key_sql) and whether its
// columns may be read by a privileged reader (email_verify_internal.column_problem).
// A relation cache invalidation of the table, or any change of a type, drops
// the entry. Facts are only kept when they were read while the caller held
// the table's lock (no change to the table can commit then) and no
// invalidation came in meanwhile; a reader that has just locked the table
// (which accepts pending invalidations) therefore never sees facts older
// than its lock.
#pragma once

#include <optional>
#include <string>

#include "pg_prelude.h"

namespace ev::pg {

struct WatchFacts {
    Oid relid = InvalidOid;
    std::string table;                          // "schema"."table" as the catalog says it
    std::optional<std::string> key_match;       // aliases t (the table) and k (the key record); none: the key changed
    std::optional<std::string> key_record;      // "col" type, ... for jsonb_to_record
    std::optional<std::string> column_problem;  // why a privileged reader may not read the columns
};

// The facts of watch watch_id (needs SPI), read with a fresh snapshot when
// they are not kept; table_locked: the caller holds the table's lock, so
// they may be kept. nullopt when the watch is gone.
std::optional<WatchFacts> watch_facts(int32 watch_id, bool table_locked);

}  // namespace ev::pg
