#include "connection_settings.h"

#include "pg_prelude.h"

namespace ev::pg {

namespace {

int session_timeout_setting = 120000;

}  // namespace

void ConnectionSettingsInit() {
    DefineCustomIntVariable("email_verify.session_timeout",
                            "Time one SMTP session may take, from the start of its connect to its end.",
                            "Unanswered recipients go back to be tried again, uncharged.", &session_timeout_setting,
                            120000, 100, 3600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
}

void apply_connection_settings(ev::prober::ProbeSettings* settings) {
    settings->session.session_timeout = std::chrono::milliseconds(session_timeout_setting);
}

}  // namespace ev::pg
