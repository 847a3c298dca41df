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
std::string caches_fingerprint;
ev::prober::RunStats totals;

}  // namespace

ev::prober::ProberCaches& backend_caches(const ev::prober::ProbeSettings& s) {
    std::string now = s.dns.servers + '|' + std::to_string(s.smtp_port) + '|' + s.session.helo_name + '|' +
                      s.session.mail_from + '|' + (s.session.starttls ? "tls" : "plain");
    if (now != caches_fingerprint) {
        caches.clear();
        caches_fingerprint = now;
    }
    if (auto* server = shared_permits()) caches.permits = server;
    caches.shared_store = shared_cache();
    caches.health = shared_health();
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
