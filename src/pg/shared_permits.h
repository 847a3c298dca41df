// The server's politeness state in shared memory (prober/host_permits.h):
// every backend's and every worker's probes take their session slots and
// rate tokens from it, and read the host facts any of them learned.
#pragma once

#include "prober/host_permits.h"

namespace ev::pg {

// From _PG_init while shared_preload_libraries is processed.
void SharedPermitsInit();

// The server's permits, or nullptr when the module was not preloaded (each
// backend then keeps its own, as ProberCaches::local_permits).
ev::prober::HostPermits* shared_permits();

// One site as the permits see it, for the prober_sites view.
struct SiteSnapshot {
    std::string site;  // as far as it fits (kept names are truncated)
    int sessions_open = 0;
    double session_tokens_due_in_ms = 0;  // > 0: the session rate is spent
    double rcpt_tokens_due_in_ms = 0;
};
std::vector<SiteSnapshot> site_snapshots();

// Forgets learned facts and rate history (sessions open keep their slots).
void forget_shared_permits();

}  // namespace ev::pg
