#include "worker_shmem.h"

#include <cmath>
#include <cstring>

#include "shared_region.h"

namespace ev::pg {

namespace {

struct SharedState {
    slock_t mutex;
    int procno[kMaxWorkers];  // -1: slot empty
    int launcher_procno;      // -1: no launcher
    // The watch whose write-back outlived its limit when the watchdog ended
    // the slot's worker; the worker that takes the slot suspends it.
    volatile int32 overdue_watch[kMaxWorkers];
    pg_atomic_uint32 leave_database;
    pg_atomic_uint64 probes_in_flight;
    pg_atomic_uint64 verdicts_written;
    pg_atomic_uint64 retries_scheduled;
    pg_atomic_uint64 batches;
    pg_atomic_uint64 latency_buckets[32];
};

SharedState* shared = nullptr;

void initialise(void* memory, LWLockPadded*) {
    auto* state = static_cast<SharedState*>(memory);
    SpinLockInit(&state->mutex);
    for (int& p : state->procno) p = -1;
    state->launcher_procno = -1;
    pg_atomic_init_u32(&state->leave_database, 0);
    pg_atomic_init_u64(&state->probes_in_flight, 0);
    pg_atomic_init_u64(&state->verdicts_written, 0);
    pg_atomic_init_u64(&state->retries_scheduled, 0);
    pg_atomic_init_u64(&state->batches, 0);
    for (auto& b : state->latency_buckets) pg_atomic_init_u64(&b, 0);
}

const SharedRegion region{"email_verify worker state", sizeof(SharedState), initialise,
                          reinterpret_cast<void**>(&shared), 0};

}  // namespace

void WorkerShmemInit() { add_shared_region(&region); }

bool worker_shmem_ready() { return shared != nullptr; }

bool worker_attach(int slot) {
    if (!shared || slot < 0 || slot >= kMaxWorkers) return true;
    SpinLockAcquire(&shared->mutex);
    bool free = shared->procno[slot] < 0;
    if (free) shared->procno[slot] = MyProc->pgprocno;
    SpinLockRelease(&shared->mutex);
    return free;
}

bool worker_slot_taken(int slot) {
    if (!shared || slot < 0 || slot >= kMaxWorkers) return false;
    SpinLockAcquire(&shared->mutex);
    bool taken = shared->procno[slot] >= 0;
    SpinLockRelease(&shared->mutex);
    return taken;
}

void launcher_attach() {
    if (!shared) return;
    SpinLockAcquire(&shared->mutex);
    shared->launcher_procno = MyProc->pgprocno;
    SpinLockRelease(&shared->mutex);
}

void launcher_detach() {
    if (!shared) return;
    SpinLockAcquire(&shared->mutex);
    if (shared->launcher_procno == MyProc->pgprocno) shared->launcher_procno = -1;
    SpinLockRelease(&shared->mutex);
}

volatile int32* worker_overdue_watch(int slot) {
    if (!shared || slot < 0 || slot >= kMaxWorkers) return nullptr;
    return &shared->overdue_watch[slot];
}

void worker_detach(int slot) {
    if (!shared || slot < 0 || slot >= kMaxWorkers) return;
    SpinLockAcquire(&shared->mutex);
    if (MyProc != nullptr && shared->procno[slot] == MyProc->pgprocno) shared->procno[slot] = -1;
    SpinLockRelease(&shared->mutex);
}

void wake_all_workers() {
    if (!shared) return;
    int procnos[kMaxWorkers + 1];
    SpinLockAcquire(&shared->mutex);
    std::memcpy(procnos, shared->procno, sizeof shared->procno);
    procnos[kMaxWorkers] = shared->launcher_procno;
    SpinLockRelease(&shared->mutex);
    for (int procno : procnos)
        if (procno >= 0) SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

void ask_workers_to_leave() {
    if (!shared) return;
    pg_atomic_write_u32(&shared->leave_database, 1);
    wake_all_workers();
}

void workers_may_return() {
    if (shared) pg_atomic_write_u32(&shared->leave_database, 0);
}

bool workers_asked_to_leave() { return shared && pg_atomic_read_u32(&shared->leave_database) != 0; }

bool wait_for_workers_to_leave(int timeout_ms) {
    if (!shared) return true;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        bool any = false;
        SpinLockAcquire(&shared->mutex);
        for (int procno : shared->procno) any = any || procno >= 0;
        SpinLockRelease(&shared->mutex);
        if (!any) return true;
        pg_usleep(10000L);
        CHECK_FOR_INTERRUPTS();
    }
    return false;
}

void counters_add_in_flight(int64 delta) {
    if (!shared) return;
    if (delta >= 0) pg_atomic_add_fetch_u64(&shared->probes_in_flight, delta);
    else pg_atomic_sub_fetch_u64(&shared->probes_in_flight, -delta);
}

void counters_note_batch(uint64 written, uint64 retried) {
    if (!shared) return;
    pg_atomic_add_fetch_u64(&shared->verdicts_written, static_cast<int64>(written));
    pg_atomic_add_fetch_u64(&shared->retries_scheduled, static_cast<int64>(retried));
    pg_atomic_add_fetch_u64(&shared->batches, 1);
}

void counters_note_latency(double ms) {
    if (!shared) return;
    double us = ms * 1000.0;
    int bucket = us < 1 ? 0 : static_cast<int>(std::log2(us));
    if (bucket > 31) bucket = 31;
    pg_atomic_add_fetch_u64(&shared->latency_buckets[bucket], 1);
}

bool counters_snapshot(WorkerCounters* out) {
    if (!shared) return false;
    out->probes_in_flight = pg_atomic_read_u64(&shared->probes_in_flight);
    out->verdicts_written = pg_atomic_read_u64(&shared->verdicts_written);
    out->retries_scheduled = pg_atomic_read_u64(&shared->retries_scheduled);
    out->batches = pg_atomic_read_u64(&shared->batches);
    for (int i = 0; i < 32; ++i) out->latency_us_buckets[i] = pg_atomic_read_u64(&shared->latency_buckets[i]);
    return true;
}

}  // namespace ev::pg
