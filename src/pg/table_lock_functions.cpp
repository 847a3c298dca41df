// try_lock_table(): lets a privileged reader (the worker's sweep,
// queue_stats) read a watched table only once it holds the table's
// AccessShareLock, and never wait for it.
//
// Holding the lock first matters twice: the reader re-checks the watched
// columns' types after taking it (an ALTER TABLE that commits in between can
// no longer change what the read will evaluate), and a table someone holds
// under ALTER TABLE or LOCK TABLE is skipped for this round instead of making
// the worker, and every other watch, wait for it.
#include "guard.h"  // first: it brings postgres.h
#include "table_tree_lock.h"

EV_SQL_FUNCTION(try_lock_table) {
    Oid relid = PG_GETARG_OID(0);
    bool locked = false;
    // Taking the lock accepts the pending invalidations, so the catalog
    // lookups that follow see any ALTER TABLE that committed before it.
    // A partitioned table's partitions too (table_tree_lock.h); a foreign
    // partition would be read through the reader's user mapping.
    ev::pg::pg_call([&] {
        ev::pg::TreeLock lock = ev::pg::try_lock_table_tree(relid, AccessShareLock);
        locked = lock.locked && !lock.has_foreign;
    });
    PG_RETURN_BOOL(locked);
}
