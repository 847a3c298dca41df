// DROP DATABASE of email_verify.database must not wait on our workers: the
// server refuses to drop a database anyone is connected to. A utility hook
// asks the workers to leave first (they exit and, once the database is gone,
// stay stopped until the server restarts) and then lets the command
// run (if it then fails, they come back). The hook is plain C in spirit: no C++ object lives in its frame, since
// standard_ProcessUtility may longjmp out of it.
#include "pg_prelude.h"

#include "settings.h"
#include "worker_shmem.h"

namespace {

ProcessUtility_hook_type previous_hook = nullptr;

// Only a DROP DATABASE that can succeed sends the workers away: of our
// database, by its owner, outside a transaction block.
bool drops_worker_database(PlannedStmt* pstmt) {
    Node* tree = pstmt->utilityStmt;
    if (tree == nullptr || !IsA(tree, DropdbStmt) || !ev::pg::worker_shmem_ready()) return false;
    const char* target = reinterpret_cast<DropdbStmt*>(tree)->dbname;
    const char* ours = ev::pg::worker_database_name();
    if (target == nullptr || ours == nullptr || strcmp(target, ours) != 0) return false;
    if (IsTransactionBlock()) return false;
    Oid database = get_database_oid(target, true);
    if (!OidIsValid(database)) return false;
    return pg_database_ownercheck(database, GetUserId());
}

void on_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
    if (drops_worker_database(pstmt)) {
        ereport(LOG, (errmsg("email_verify: DROP DATABASE of the workers' database; the workers stop until the "
                             "server restarts")));
        ev::pg::ask_workers_to_leave();
        if (!ev::pg::wait_for_workers_to_leave(5000))
            ereport(WARNING, (errmsg("email_verify: the workers did not leave the database within 5 s")));
    }
    // If the DROP fails after all (other sessions still connected), the
    // workers come back: they exited with status 1 and find the flag cleared.
    PG_TRY();
    {
        if (previous_hook) previous_hook(pstmt, query, read_only_tree, context, params, env, dest, qc);
        else standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    }
    PG_CATCH();
    {
        ev::pg::workers_may_return();
        PG_RE_THROW();
    }
    PG_END_TRY();
}

}  // namespace

namespace ev::pg {

void DropDatabaseHookInit() {
    previous_hook = ProcessUtility_hook;
    ProcessUtility_hook = on_utility;
}

}  // namespace ev::pg
