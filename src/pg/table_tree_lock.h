// Locking a watched table without waiting, partitions included. A statement
// on a partitioned table locks every partition it reads or writes; one
// partition held under ALTER TABLE, LOCK TABLE or TRUNCATE would make the
// worker wait there, and every other watch with it. The privileged readers
// and the write-back therefore take the whole tree's locks first, each
// without waiting, and leave the table for a later round when one is taken.
#pragma once

#include "pg_prelude.h"

namespace ev::pg {

struct TreeLock {
    bool locked = false;       // relid and every partition below it, in mode
    bool has_foreign = false;  // a foreign table among them (see check_supported)
};

// Tries to lock relid and its partitions (any depth) in mode, never waiting.
// Locks taken stay until the end of the transaction, as PostgreSQL's do.
// May raise (call it under pg_call).
TreeLock try_lock_table_tree(Oid relid, LOCKMODE mode);

}  // namespace ev::pg
