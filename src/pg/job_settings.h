// The settings of bulk jobs and their webhooks: email_verify.job_retention
// and email_verify.webhook_* (README.md, "Bulk jobs and webhooks").
#pragma once

#include <chrono>
#include <string>

#include "webhook/retry_schedule.h"

namespace ev::pg {

// Defines the settings; called by SettingsInit before the prefix is sealed.
void JobSettingsInit();

struct WebhookSettings {
    ev::webhook::RetrySchedule schedule;
    std::chrono::milliseconds timeout{10000};
    bool allow_private = false;
    std::string ca_file;
};
WebhookSettings webhook_settings();

}  // namespace ev::pg
