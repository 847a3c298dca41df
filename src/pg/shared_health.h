// The prober's network health for the whole server (prober/network_health.h
// in shared memory): every backend's and worker's sessions report to it, the
// prober_health view reads it, and the workers pause SMTP items while it
// says blocked.
#pragma once

#include <string>

#include "prober/network_health.h"
#include "verdict.h"

namespace ev::pg {

// From _PG_init while shared_preload_libraries is processed.
void SharedHealthInit();

// nullptr without shared memory (each call then knows nothing of the others).
ev::prober::HealthSink* shared_health();

struct HealthSnapshot {
    ev::prober::NetworkState state = ev::prober::NetworkState::Ok;
    double state_since_unix = 0;  // 0: since the server started
    int failing_hosts = 0;
    double seconds_since_success = -1;  // < 0: no session got through yet
    std::string evidence;
};
bool health_snapshot(HealthSnapshot* out);
ev::prober::NetworkState network_state();

// Logs the one WARNING of a change to blocked, in whichever process sees it
// first; call where a PostgreSQL error may be raised (no C++ frames above
// that own resources would be skipped: it goes through the guard).
void warn_if_newly_blocked();

// While blocked, a worker lets one SMTP item through as a test connection
// once per email_verify.health_check_interval: true for the caller that
// takes this period's turn.
bool take_health_check_turn();

// " (…)" to add to the smtp_message of a verdict the blocked network
// explains, or "" when the network is ok.
std::string network_explanation();

// The reasons a blocked network gives every address: these verdicts say
// nothing about the address while it lasts.
bool blames_the_network(ev::Reason reason);

}  // namespace ev::pg
