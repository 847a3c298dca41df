#include "pg_prelude.h"  // first: postgres.h precedes every server header

#include "worker_transaction.h"

#include "guard.h"

namespace ev::pg {

namespace {

// Every wait is bounded: a statement of the worker's that runs away (a bad
// plan for a write-back, a lock held by someone else) fails after this long,
// the batch is logged and rolled back, and its items come back by lease.
// (The timer is armed by hand: only a client backend's command loop arms it.)
constexpr int kWorkerStatementTimeoutMs = 60000;

}  // namespace

void begin_transaction() {
    pg_call([] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        SPI_connect();
        PushActiveSnapshot(GetTransactionSnapshot());
        enable_timeout_after(STATEMENT_TIMEOUT, kWorkerStatementTimeoutMs);
    });
}

void commit_transaction() {
    pg_call([] {
        disable_timeout(STATEMENT_TIMEOUT, false);
        SPI_finish();
        PopActiveSnapshot();
        CommitTransactionCommand();
        pgstat_report_stat(false);
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
}

void abort_transaction() {
    pg_call([] {
        disable_timeout(STATEMENT_TIMEOUT, false);
        if (IsTransactionState() || IsAbortedTransactionBlockState() || GetCurrentTransactionNestLevel() > 0)
            AbortCurrentTransaction();
    });
}

}  // namespace ev::pg
