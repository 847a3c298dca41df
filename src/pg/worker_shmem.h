// The little the background workers share with every backend: who they are
// (so a committing transaction can wake them) and counters for the stats view.
#pragma once

#include "pg_prelude.h"

namespace ev::pg {

constexpr int kMaxWorkers = 16;

// From _PG_init while shared_preload_libraries is processed: asks for the
// shared memory (shmem_request_hook) and registers the workers.
void WorkerShmemInit();

// Whether the shared state exists (the module was preloaded).
bool worker_shmem_ready();

// The worker `slot` announces its latch / leaves. false: another worker holds
// the slot (a launcher started again has started a second one).
bool worker_attach(int slot);
void worker_detach(int slot);
bool worker_slot_taken(int slot);

// The launcher announces its latch / leaves; wake_all_workers wakes it too
// (CREATE EXTENSION has made the workers' role).
void launcher_attach();
void launcher_detach();

// Where the write-back watchdog notes the watch it ended slot's worker for
// (write_back_watchdog.h); nullptr without shared memory.
volatile int32* worker_overdue_watch(int slot);

// Sets every registered worker's latch, and the launcher's.
void wake_all_workers();

// DROP DATABASE of the workers' database: they are asked to leave it (and do
// not come back until the server restarts), and the caller waits, bounded,
// until none is attached.
void ask_workers_to_leave();
void workers_may_return();
bool workers_asked_to_leave();
bool wait_for_workers_to_leave(int timeout_ms);

// Counters, all backends and workers.
struct WorkerCounters {
    uint64 probes_in_flight;
    uint64 verdicts_written;
    uint64 retries_scheduled;
    uint64 batches;
    uint64 latency_us_buckets[32];  // verdict latency, log2 microseconds
};
void counters_add_in_flight(int64 delta);
void counters_note_batch(uint64 written, uint64 retried);
void counters_note_latency(double ms);
bool counters_snapshot(WorkerCounters* out);

}  // namespace ev::pg
