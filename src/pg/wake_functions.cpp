// wake_workers_at_commit(): called by the enqueue triggers. The workers are
// woken once, when the enqueuing transaction commits, never on rollback and
// never before the rows, and the catalog changes made with them, are visible
// to them.
#include "guard.h"  // first: it brings postgres.h

#include "utils/resowner.h"
#include "worker_shmem.h"

namespace {

bool wake_pending = false;
bool callback_registered = false;

void on_transaction_end(XactEvent event, void*) {
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) wake_pending = false;
}

// The wake-up itself comes last in the commit: after the transaction's
// catalog invalidations are sent and its locks released (the commit's
// XactCallback runs before both). Woken earlier, a worker could find the
// table of a new watch still locked, or its grant to the workers' role not
// yet seen by its caches, skip it, and sleep a whole naptime.
void on_resources_released(ResourceReleasePhase phase, bool is_commit, bool is_top_level, void*) {
    if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !is_top_level) return;
    if (is_commit && wake_pending) ev::pg::wake_all_workers();
    wake_pending = false;
}

}  // namespace

EV_SQL_FUNCTION(wake_workers_at_commit) {
    if (!ev::pg::worker_shmem_ready()) PG_RETURN_VOID();  // not preloaded: no workers to wake
    ev::pg::pg_call([] {
        if (!callback_registered) {
            RegisterXactCallback(on_transaction_end, nullptr);
            RegisterResourceReleaseCallback(on_resources_released, nullptr);
            callback_registered = true;
        }
    });
    wake_pending = true;
    PG_RETURN_VOID();
}
