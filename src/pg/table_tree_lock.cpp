// try_lock_table_tree(): see table_tree_lock.h.
#include "table_tree_lock.h"

namespace ev::pg {

TreeLock try_lock_table_tree(Oid relid, LOCKMODE mode) {
    TreeLock result;
    if (!ConditionalLockRelationOid(relid, mode)) return result;
    // Listed without locks, then locked one by one without waiting: a
    // partition attached after the listing is locked by the statement itself
    // (its ATTACH has committed by the time the statement can see it).
    if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE) {
        List* tree = find_all_inheritors(relid, NoLock, nullptr);
        ListCell* cell = nullptr;
        foreach (cell, tree) {
            Oid child = lfirst_oid(cell);
            if (child == relid) continue;
            if (!ConditionalLockRelationOid(child, mode)) {
                list_free(tree);
                return result;
            }
            if (get_rel_relkind(child) == RELKIND_FOREIGN_TABLE) result.has_foreign = true;
        }
        list_free(tree);
    }
    result.locked = true;
    return result;
}

}  // namespace ev::pg
