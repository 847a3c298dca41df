#include "secret_log_filter.h"

#include <cstring>
#include <string>

#include "net/socks5_url.h"
#include "pg_prelude.h"
#include "sql_redaction.h"

namespace ev::pg {

namespace {

emit_log_hook_type previous_emit_log_hook = nullptr;
bool installed = false;

constexpr const char kHidden[] = "(hidden: it may hold a secret)";

// The masked text, or kHidden when masking itself failed; never throws.
std::string masked(const char* text, bool proxy, bool webhook) noexcept {
    try {
        std::string out = webhook ? ev::mask_sql_literals(text) : std::string(text);
        return proxy ? ev::net::redact_socks5_credentials(out) : out;
    } catch (...) {
        try {
            return kHidden;
        } catch (...) {
            return std::string();
        }
    }
}

bool mentions_proxy(const char* text) noexcept {
    if (text == nullptr) return false;
    try {
        return ev::net::mentions_socks5_url(text) || strstr(text, "socks5_proxy") != nullptr;
    } catch (...) {
        return true;
    }
}

// Webhook secrets are arguments of a few calls (sql_redaction.h).
bool mentions_webhook_secret(const char* text) noexcept {
    if (text == nullptr) return false;
    try {
        return ev::may_hold_webhook_secret(text);
    } catch (...) {
        return true;
    }
}

// Replaces *field by its masked copy, allocated where the error lives
// (EmitErrorReport runs the hook in ErrorContext). The copy never raises
// an error: palloc_extended without MCXT_ALLOC_NO_OOM could longjmp over
// the std::string. in_webhook_call: the statement may pass a webhook secret
// as a bind parameter, which the detail ("parameters: $1 = '...'") shows.
void mask_field(char** field, bool in_webhook_call = false) {
    if (*field == nullptr) return;
    bool proxy = mentions_proxy(*field);
    bool webhook = in_webhook_call || mentions_webhook_secret(*field);
    if (!proxy && !webhook) return;
    std::string clean = masked(*field, proxy, webhook);
    auto* copy = static_cast<char*>(palloc_extended(clean.size() + 1, MCXT_ALLOC_NO_OOM));
    if (copy == nullptr) {
        (*field)[0] = '\0';
        return;
    }
    memcpy(copy, clean.c_str(), clean.size() + 1);
    *field = copy;
}

void filter_message(ErrorData* edata) {
    if (edata->output_to_server) {
        bool webhook_call = mentions_webhook_secret(debug_query_string);
        mask_field(&edata->message);
        mask_field(&edata->detail, webhook_call);
        mask_field(&edata->detail_log, webhook_call);
        mask_field(&edata->hint);
        mask_field(&edata->context);
        mask_field(&edata->internalquery);
        // "STATEMENT: ..." is written from debug_query_string, which the
        // hook cannot mask: leave it out instead.
        if (mentions_proxy(debug_query_string) || webhook_call) edata->hide_stmt = true;
    }
    if (previous_emit_log_hook != nullptr) previous_emit_log_hook(edata);
}

}  // namespace

void SecretLogFilterInit() {
    if (installed) return;
    installed = true;
    previous_emit_log_hook = emit_log_hook;
    emit_log_hook = filter_message;
}

}  // namespace ev::pg
