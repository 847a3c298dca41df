// The settings of how a probe's connections are made and bounded:
// email_verify.session_timeout, and where probes leave from
// (email_verify.source_addresses, email_verify.socks5_proxy).
#pragma once

#include "prober/probe_settings.h"

namespace ev::pg {

// Defines the settings; called by SettingsInit before the prefix is sealed.
void ConnectionSettingsInit();

// Puts the current values into the probe's settings.
void apply_connection_settings(ev::prober::ProbeSettings* settings);

}  // namespace ev::pg
