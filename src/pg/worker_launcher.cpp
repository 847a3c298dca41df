// The launcher: the only process of email_verify that runs as the bootstrap
// superuser, and it opens no database. Like PostgreSQL's own logical
// replication launcher it reads the shared catalogs only: it learns whether
// the role the workers log in as (kWorkerRole, made by CREATE EXTENSION)
// exists, starts email_verify.workers workers as that role, and starts again,
// kRestartDelayMs later, any that stops. It runs no SQL and no code of a user.
//
// Without it a worker would have to log in before the role exists (before
// CREATE EXTENSION), fail, and be restarted every few seconds, each time with
// a FATAL in the server log.
//
// Plain C in spirit: no C++ object lives in these frames, so an error's
// longjmp (it ends the process; the postmaster starts it again) skips nothing.
#include "pg_prelude.h"

#include <algorithm>

#include "settings.h"
#include "worker.h"
#include "worker_shmem.h"

namespace ev::pg {

namespace {

// How long a stopped worker's slot stays empty: a worker that fails at once
// (its database is gone, the role may not connect to it) does not spin.
constexpr long kRestartDelayMs = 5000;

struct LaunchedWorker {
    BackgroundWorkerHandle* handle;
    TimestampTz start_after;
};

LaunchedWorker launched[kMaxWorkers];

bool worker_role_exists() {
    StartTransactionCommand();
    bool exists = OidIsValid(get_role_oid(kWorkerRole, true));
    CommitTransactionCommand();
    return exists;
}

// Whether slot's worker runs or is starting: one this launcher started, or
// one a launcher before it started (this one was restarted; the worker sits
// in its slot).
bool slot_busy(int slot) {
    LaunchedWorker& w = launched[slot];
    if (w.handle != nullptr) {
        pid_t pid = 0;
        if (GetBackgroundWorkerPid(w.handle, &pid) != BGWH_STOPPED) return true;
        pfree(w.handle);
        w.handle = nullptr;
        w.start_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kRestartDelayMs);
    }
    return worker_slot_taken(slot);
}

void start_worker(int slot) {
    BackgroundWorker worker{};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    // The launcher restarts it, after kRestartDelayMs, unless the workers
    // were asked to leave their database.
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "email_verify");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "email_verify_worker_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "email_verify worker %d", slot);
    snprintf(worker.bgw_type, BGW_MAXLEN, "email_verify worker");
    worker.bgw_main_arg = Int32GetDatum(slot);
    // Its start and stop set this launcher's latch.
    worker.bgw_notify_pid = MyProcPid;
    LaunchedWorker& w = launched[slot];
    if (!RegisterDynamicBackgroundWorker(&worker, &w.handle)) {
        w.handle = nullptr;
        w.start_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kRestartDelayMs);
        ereport(WARNING, (errmsg("email_verify launcher: no background worker slot free for worker %d", slot),
                          errhint("Raise max_worker_processes.")));
    }
}

// Starts the workers whose slots are empty and due; returns how long the
// launcher may sleep before the next one is due.
long start_due_workers(int workers, long naptime_ms) {
    long sleep_ms = naptime_ms;
    TimestampTz now = GetCurrentTimestamp();
    for (int slot = 0; slot < workers && slot < kMaxWorkers; ++slot) {
        if (slot_busy(slot)) continue;
        if (launched[slot].start_after > now) {
            long until = TimestampDifferenceMilliseconds(now, launched[slot].start_after);
            if (until < sleep_ms) sleep_ms = until;
            continue;
        }
        start_worker(slot);
    }
    return sleep_ms;
}

}  // namespace

void register_worker_launcher() {
    BackgroundWorker launcher{};
    launcher.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    launcher.bgw_start_time = BgWorkerStart_RecoveryFinished;
    launcher.bgw_restart_time = 5;
    snprintf(launcher.bgw_library_name, BGW_MAXLEN, "email_verify");
    snprintf(launcher.bgw_function_name, BGW_MAXLEN, "email_verify_launcher_main");
    snprintf(launcher.bgw_name, BGW_MAXLEN, "email_verify launcher");
    snprintf(launcher.bgw_type, BGW_MAXLEN, "email_verify launcher");
    RegisterBackgroundWorker(&launcher);
}

}  // namespace ev::pg

extern "C" void email_verify_launcher_main(Datum) {
    pqsignal(SIGTERM, die);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    // No database: the shared catalogs (pg_authid) are all it reads.
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    ev::pg::launcher_attach();
    before_shmem_exit([](int, Datum) { ev::pg::launcher_detach(); }, 0);
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        long sleep_ms = ev::pg::worker_naptime_ms();
        // Asked to leave: the workers' database is being dropped. They come
        // back if the DROP fails (the flag is cleared); if not, not until the
        // server restarts.
        if (!ev::pg::workers_asked_to_leave() && ev::pg::worker_role_exists())
            sleep_ms = ev::pg::start_due_workers(ev::pg::configured_workers(), sleep_ms);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, std::max(sleep_ms, 10L),
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}
