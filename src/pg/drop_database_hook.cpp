// DROP DATABASE of email_verify.database must not wait on our workers: the
// server refuses to drop a database anyone is connected to. A utility hook
// asks the workers to leave first (they exit and stay stopped until the
// server restarts, as the database is going away) and then lets the command
// run. The hook is plain C in spirit: no C++ object lives in its frame, since
// standard_ProcessUtility may longjmp out of it.
#include "pg_prelude.h"

#include "settings.h"
#include "worker_shmem.h"

extern "C" {
#include "tcop/utility.h"
}

namespace {

ProcessUtility_hook_type previous_hook = nullptr;

bool drops_worker_database(PlannedStmt* pstmt) {
    Node* tree = pstmt->utilityStmt;
    if (tree == nullptr || !IsA(tree, DropdbStmt) || !ev::pg::worker_shmem_ready()) return false;
    const char* target = reinterpret_cast<DropdbStmt*>(tree)->dbname;
    const char* ours = ev::pg::worker_database_name();
    return target != nullptr && ours != nullptr && strcmp(target, ours) == 0;
}

#if PG_VERSION_NUM >= 140000
void on_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
#else
void on_utility(PlannedStmt* pstmt, const char* query, ProcessUtilityContext context, ParamListInfo params,
                QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
#endif
    if (drops_worker_database(pstmt)) {
        ereport(LOG, (errmsg("email_verify: DROP DATABASE of the workers' database; the workers stop until the "
                             "server restarts")));
        ev::pg::ask_workers_to_leave();
        if (!ev::pg::wait_for_workers_to_leave(5000))
            ereport(WARNING, (errmsg("email_verify: the workers did not leave the database within 5 s")));
    }
#if PG_VERSION_NUM >= 140000
    if (previous_hook)
        previous_hook(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
#else
    if (previous_hook)
        previous_hook(pstmt, query, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, context, params, env, dest, qc);
#endif
}

}  // namespace

namespace ev::pg {

void DropDatabaseHookInit() {
    previous_hook = ProcessUtility_hook;
    ProcessUtility_hook = on_utility;
}

}  // namespace ev::pg
