#include "prober_state.h"

#include <algorithm>
#include <string>

#include "prober_counters.h"
#include "shared_cache.h"
#include "shared_health.h"
#include "shared_permits.h"

namespace ev::pg {

namespace {

ev::prober::ProberCaches caches;
ev::prober::RunStats totals;

}  // namespace

void use_server_state(ev::prober::ProberCaches& prober) {
    if (auto* server = shared_permits()) prober.permits = server;
    prober.shared_store = shared_cache();
    prober.health = shared_health();
}

ev::prober::ProberCaches& backend_caches() {
    use_server_state(caches);
    return caches;
}

const ev::prober::ProberCaches& peek_caches() { return caches; }

void add_to_totals(const ev::prober::RunStats& run) {
    totals.add(run);
    add_run_to_server(run);
}

const ev::prober::RunStats& backend_totals() { return totals; }

void clear_backend_state() {
    caches.clear();
    clear_shared_cache();
    forget_shared_permits();
    totals = ev::prober::RunStats{};
}

}  // namespace ev::pg
