// The prober's counters for the whole server (shared memory): every run of
// every backend and worker is summed in when it ends, for the
// prober_counters and prober_latency views.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "prober/run_stats.h"

namespace ev::pg {

// From _PG_init while shared_preload_libraries is processed.
void ProberCountersInit();

// Adds a finished (or abandoned) run; nothing without shared memory.
void add_run_to_server(const ev::prober::RunStats& run);

struct NamedCounter {
    std::string name;
    std::uint64_t value;
};
struct PhaseLatency {
    std::string phase;
    ev::prober::LatencyHistogram histogram;
};
// false without shared memory.
bool server_counters(std::vector<NamedCounter>* counters, std::vector<PhaseLatency>* latencies);

}  // namespace ev::pg
