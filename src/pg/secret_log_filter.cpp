#include "secret_log_filter.h"

#include <cctype>
#include <cstring>
#include <string>

#include "net/socks5_url.h"
#include "pg_prelude.h"

namespace ev::pg {

namespace {

emit_log_hook_type previous_emit_log_hook = nullptr;
bool installed = false;

constexpr const char kHidden[] = "(hidden: it may hold a SOCKS5 proxy password)";

// A statement that may carry a webhook secret as a literal: the functions
// that take one. Its text stays out of the log.
bool may_carry_webhook_secret(const char* text) noexcept {
    if (text == nullptr) return false;
    for (const char* name :
         {"whsec_", "webhook_secret", "submit_job", "register_webhook_endpoint", "rotate_webhook_secret"})
        if (strstr(text, name) != nullptr) return true;
    return false;
}

// Secrets made by new_webhook_secret() are "whsec_<base64>": the base64
// part is masked wherever a message quotes one.
void mask_webhook_secrets(std::string& text) {
    static constexpr const char kPrefix[] = "whsec_";
    for (std::size_t at = text.find(kPrefix); at != std::string::npos; at = text.find(kPrefix, at + 1)) {
        std::size_t start = at + sizeof kPrefix - 1, end = start;
        while (end < text.size() && (isalnum(static_cast<unsigned char>(text[end])) || text[end] == '+' ||
                                     text[end] == '/' || text[end] == '='))
            ++end;
        text.replace(start, end - start, "(hidden)");
    }
}

// The masked text, or kHidden when masking itself failed; never throws.
std::string masked(const char* text) noexcept {
    try {
        std::string clean = ev::net::redact_socks5_credentials(text);
        mask_webhook_secrets(clean);
        return clean;
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

// Replaces *field by its masked copy, allocated where the error lives
// (EmitErrorReport runs the hook in ErrorContext). The copy never raises
// an error: palloc_extended without MCXT_ALLOC_NO_OOM could longjmp over
// the std::string.
void mask_field(char** field) {
    if (*field == nullptr || (!mentions_proxy(*field) && strstr(*field, "whsec_") == nullptr)) return;
    std::string clean = masked(*field);
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
        mask_field(&edata->message);
        mask_field(&edata->detail);
        mask_field(&edata->detail_log);
        mask_field(&edata->hint);
        mask_field(&edata->context);
        mask_field(&edata->internalquery);
        // "STATEMENT: ..." is written from debug_query_string, which the
        // hook cannot mask: leave it out instead.
        if (mentions_proxy(debug_query_string) || may_carry_webhook_secret(debug_query_string)) edata->hide_stmt = true;
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
