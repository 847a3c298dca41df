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

// Runs sql with text parameters (NULL-free); returns the rows as strings.
std::vector<std::vector<std::string>> query(const char* sql, const std::vector<std::string>& params) {
    std::vector<std::vector<std::string>> rows;
    // Copied out of SPI memory into palloc'd C strings inside the guard, then
    // into C++ strings outside it (no C++ object may live in a pg_call frame
    // that can longjmp).
    int nrows = 0, ncols = 0;
    char** cells = nullptr;
    pg_call([&] {
        int n = static_cast<int>(params.size());
        Oid* types = static_cast<Oid*>(palloc0(sizeof(Oid) * (n + 1)));
        Datum* values = static_cast<Datum*>(palloc0(sizeof(Datum) * (n + 1)));
        for (int i = 0; i < n; ++i) {
            types[i] = TEXTOID;
            values[i] = CStringGetTextDatum(params[i].c_str());
        }
        pgstat_report_activity(STATE_RUNNING, sql);
        int rc = SPI_execute_with_args(sql, n, types, values, nullptr, false, 0);
        if (rc < 0) elog(ERROR, "email_verify worker: SPI failed (%d) on: %s", rc, sql);
        nrows = static_cast<int>(SPI_processed);
        ncols = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
        MemoryContext outer = MemoryContextSwitchTo(CurTransactionContext);
        cells = static_cast<char**>(palloc0(sizeof(char*) * (nrows * ncols + 1)));
        for (int r = 0; r < nrows; ++r)
            for (int c = 0; c < ncols; ++c)
                cells[r * ncols + c] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1);
        MemoryContextSwitchTo(outer);
    });
    rows.reserve(nrows);
    for (int r = 0; r < nrows; ++r) {
        std::vector<std::string> row;
        row.reserve(static_cast<std::size_t>(ncols));
        for (int c = 0; c < ncols; ++c) row.emplace_back(cells[r * ncols + c] ? cells[r * ncols + c] : "");
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace ev::pg
