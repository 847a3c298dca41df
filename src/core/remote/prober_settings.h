// What email-verify-prober probes with: the server's email_verify.*
// settings (prober_hello hands them over, by name, in PostgreSQL's units:
// milliseconds and seconds as the settings are declared), each overridden
// by the prober's own configuration file, plus the prober's own settings.
#pragma once

#include <map>
#include <string>

#include "prober/verifier.h"
#include "queue/item_lifecycle.h"

namespace ev::remote {

struct RemoteSettings {
    prober::VerifierSettings verifier;
    queue::RetryPolicy retry;
    int batch_size = 500;     // items claimed at once (email_verify.worker_batch_size)
    int lease_seconds = 300;  // how long a claim is held (lease_seconds)
    int idle_ms = 1000;       // between claims that found nothing (idle_ms)
};

struct SettingsResult {
    RemoteSettings settings;
    std::string error;  // the first setting that is not valid; empty when all are
};

// server: the settings from prober_hello; own: the configuration file's
// (the same names, and the prober's own: batch_size, lease_seconds, idle_ms,
// email_verify.source_addresses and email_verify.socks5_proxy, which only
// the prober's configuration may give). helo_default: the host's name.
SettingsResult remote_settings(const std::map<std::string, std::string>& server,
                               const std::map<std::string, std::string>& own, const std::string& helo_default);

}  // namespace ev::remote
