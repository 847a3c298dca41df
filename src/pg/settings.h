// The email_verify.* settings (GUCs; README.md, "Settings"), defined once per backend.
#pragma once

#include <chrono>
#include <string>

#include "address.h"
#include "prober/probe_settings.h"
#include "verdict.h"

namespace ev::pg {

void SettingsInit();

ev::Level default_level();
ev::SyntaxOptions syntax_options();
// The probe-related settings as the core takes them.
ev::prober::ProbeSettings probe_settings();
struct WorkerSettings {
    std::string database;
    int workers = 1;
    int batch_size = 500;
    int retry_attempts = 5;
    std::chrono::seconds retry_delay{60};
    std::chrono::seconds naptime{10};
};
WorkerSettings worker_settings();
// email_verify.database; nullptr when the module was not preloaded.
const char* worker_database_name();
// email_verify.workers and email_verify.worker_naptime, for the launcher
// (whose frames hold no C++ objects, see worker_launcher.cpp).
int configured_workers();
// email_verify.shared_cache_size in MB (defined only while preloading).
int shared_cache_size_mb();
long worker_naptime_ms();

// email_verify.health_check_interval (shared_health.h).
std::chrono::seconds health_check_interval();

// email_verify.result_ttl; zero disables the result cache.
std::chrono::seconds result_ttl();

// email_verify.write_back_timeout: how long one watch's write-back may run.
std::chrono::milliseconds write_back_timeout();

}  // namespace ev::pg
