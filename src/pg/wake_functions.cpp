// wake_workers_at_commit(): called by the enqueue triggers. The workers are
// woken once, when the enqueuing transaction commits, never on rollback and
// never before the rows are visible to them.
#include "guard.h"  // first: it brings postgres.h

#include "worker_shmem.h"

namespace {

bool wake_pending = false;
bool callback_registered = false;

void on_transaction_end(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT) {
        if (wake_pending) ev::pg::wake_all_workers();
        wake_pending = false;
    } else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        wake_pending = false;
    }
}

}  // namespace

EV_SQL_FUNCTION(wake_workers_at_commit) {
    if (!ev::pg::worker_shmem_ready()) PG_RETURN_VOID();  // not preloaded: no workers to wake
    ev::pg::pg_call([] {
        if (!callback_registered) {
            RegisterXactCallback(on_transaction_end, nullptr);
            callback_registered = true;
        }
    });
    wake_pending = true;
    PG_RETURN_VOID();
}
