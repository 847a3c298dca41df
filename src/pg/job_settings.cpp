#include "job_settings.h"

#include "pg_prelude.h"

namespace ev::pg {

namespace {

// The SQL side reads some of these with current_setting(name, true) and the
// same defaults, for a backend that has not loaded the module.
int job_retention_setting = 7 * 24 * 3600;
int webhook_max_attempts_setting = 14;
int webhook_retry_delay_setting = 30;
int webhook_max_retry_delay_setting = 6 * 3600;
int webhook_timeout_setting = 10000;
int webhook_progress_interval_setting = 30;
int webhook_inline_results_setting = 100;
bool webhook_allow_private_setting = false;
char* webhook_ca_file_setting = nullptr;

}  // namespace

void JobSettingsInit() {
    DefineCustomIntVariable("email_verify.job_retention", "How long finished jobs and their results are kept.",
                            "Removed by the worker after this long, never while an event of theirs waits.",
                            &job_retention_setting, 7 * 24 * 3600, 60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    // With the defaults (30 s doubling to 6 h, 14 attempts, jitter 0.5-1.5)
    // the last attempt comes about 26 hours after the first (13 to 40), a
    // day or more as in the Standard Webhooks schedule.
    DefineCustomIntVariable("email_verify.webhook_max_attempts",
                            "Delivery attempts of one webhook event before it goes to the dead letters.", nullptr,
                            &webhook_max_attempts_setting, 14, 1, 100, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.webhook_retry_delay",
                            "Delay before the first retry of a webhook event; each later one doubles, with jitter.",
                            nullptr, &webhook_retry_delay_setting, 30, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("email_verify.webhook_max_retry_delay", "Longest delay between two attempts of an event.",
                            nullptr, &webhook_max_retry_delay_setting, 6 * 3600, 0, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.webhook_timeout", "Time one webhook request may take, connect included.",
                            nullptr, &webhook_timeout_setting, 10000, 100, 300000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable(
        "email_verify.webhook_progress_interval", "Least time between two bulk.progress events of a job.", nullptr,
        &webhook_progress_interval_setting, 30, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.webhook_inline_results",
                            "Jobs of at most this many addresses carry their results in bulk.completed.", nullptr,
                            &webhook_inline_results_setting, 100, 0, 1000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    // Which addresses webhooks reach is the server's choice, as for probes.
    DefineCustomBoolVariable("email_verify.webhook_allow_private",
                             "Allow webhook URLs that resolve to private, loopback or other non-public addresses.",
                             nullptr, &webhook_allow_private_setting, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("email_verify.webhook_ca_file",
                               "CA certificates (PEM) that webhook receivers' certificates are checked against.",
                               "Empty: the system's bundle.", &webhook_ca_file_setting, "", PGC_SIGHUP, 0, nullptr,
                               nullptr, nullptr);
}

WebhookSettings webhook_settings() {
    WebhookSettings s;
    s.schedule.max_attempts = webhook_max_attempts_setting;
    s.schedule.first_delay = std::chrono::seconds(webhook_retry_delay_setting);
    s.schedule.max_delay = std::chrono::seconds(webhook_max_retry_delay_setting);
    s.timeout = std::chrono::milliseconds(webhook_timeout_setting);
    s.allow_private = webhook_allow_private_setting;
    s.ca_file = webhook_ca_file_setting ? webhook_ca_file_setting : "";
    return s;
}

}  // namespace ev::pg
