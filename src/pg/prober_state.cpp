#include "prober_state.h"

#include <algorithm>
#include <string>

namespace ev::pg {

namespace {

ev::prober::ProberCaches caches;
std::string caches_fingerprint;
ProberTotals totals;

}  // namespace

ev::prober::ProberCaches& backend_caches(const ev::prober::ProbeSettings& s) {
    std::string now = s.dns.servers + '|' + std::to_string(s.smtp_port) + '|' + s.session.helo_name + '|' +
                      s.session.mail_from + '|' + (s.session.starttls ? "tls" : "plain");
    if (now != caches_fingerprint) {
        caches.clear();
        caches_fingerprint = now;
    }
    return caches;
}

const ev::prober::ProberCaches& peek_caches() { return caches; }

void ProberTotals::add(const ev::prober::RunStats& run) {
    sessions_opened += run.sessions_opened;
    max_sessions_per_host = std::max(max_sessions_per_host, run.max_sessions_per_host);
    rcpts_sent += run.rcpts_sent;
    catch_all_probes += run.catch_all_probes;
    tls_sessions += run.tls_sessions;
    tls_unverified += run.tls_unverified;
}

ProberTotals& backend_totals() { return totals; }

void clear_backend_state() {
    caches.clear();
    totals = ProberTotals{};
}

}  // namespace ev::pg
