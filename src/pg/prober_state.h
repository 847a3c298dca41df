// What this backend's prober keeps between calls: its caches (pointed at the
// server's shared store, permits and health when the module is preloaded)
// and its run counters.
#pragma once

#include "prober/caches.h"
#include "prober/engine.h"
#include "prober/probe_settings.h"

namespace ev::pg {

// Points a prober's caches at the server's shared store, permits and health
// (when the module is preloaded; else they stay the process's own).
void use_server_state(ev::prober::ProberCaches& prober);

// The backend's caches, on the server's state. The Verifier empties them when
// the settings that decide where probes go change (ProberCaches::use_for).
ev::prober::ProberCaches& backend_caches();

// The caches as they are, without checking the settings.
const ev::prober::ProberCaches& peek_caches();

// Counters summed over every run of this backend (max_sessions_per_host: the
// most of any run).
const ev::prober::RunStats& backend_totals();
void add_to_totals(const ev::prober::RunStats& run);

// Forgets cached verdicts, routes, catch-all answers and the counters, this
// backend's and the server's (shared caches, learned host facts and rate
// history; sessions open keep their slots).
void clear_backend_state();

}  // namespace ev::pg
