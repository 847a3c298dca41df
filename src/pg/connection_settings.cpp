#include "connection_settings.h"

#include <stdexcept>
#include <string>

#include "net/socks5_url.h"
#include "net/source_addresses.h"
#include "pg_prelude.h"
#include "secret_log_filter.h"

namespace ev::pg {

namespace {

int session_timeout_setting = 120000;
char* source_addresses_setting = nullptr;
char* socks5_proxy_setting = nullptr;

bool check_source_addresses(char** value, void** extra, GucSource source) {
    ev::net::SourceAddressList list = ev::net::parse_source_addresses(*value ? *value : "");
    if (list.error.empty()) return true;
    GUC_check_errdetail("%s.", list.error.c_str());
    GUC_check_errhint("Write addresses of this machine separated by commas, e.g. 192.0.2.10,2001:db8::10.");
    return false;
}

// PostgreSQL's own message for a rejected value quotes it; a proxy URL may
// hold a password, so this hook's message replaces it and quotes nothing.
bool check_socks5_proxy(char** value, void** extra, GucSource source) {
    ev::net::Socks5UrlResult parsed = ev::net::parse_socks5_url(*value ? *value : "");
    if (parsed.error.empty()) return true;
    GUC_check_errmsg("invalid value for parameter \"email_verify.socks5_proxy\"");
    GUC_check_errdetail("%s.", parsed.error.c_str());
    GUC_check_errhint(
        "Give the host as an IP address ([...] for IPv6); escape ':', '@' and '%%' in the user name and password as "
        "%%XX.");
    return false;
}

}  // namespace

void ConnectionSettingsInit() {
    DefineCustomIntVariable("email_verify.session_timeout",
                            "Time one SMTP session may take, from the start of its connect to its end.",
                            "Unanswered recipients go back to be tried again, uncharged.", &session_timeout_setting,
                            120000, 100, 3600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    // Where probes leave from: superuser-only, like every setting that
    // decides which addresses the prober uses or reaches.
    DefineCustomStringVariable("email_verify.source_addresses",
                               "Local IPv4/IPv6 addresses probes leave from (comma-separated).",
                               "Each MX host always sees the same one of its family. Empty: the system's choice.",
                               &source_addresses_setting, "", PGC_SUSET, 0, check_source_addresses, nullptr, nullptr);
    // The proxy URL may carry a password: only superusers (and members of
    // pg_read_all_settings) may see it, and it cannot be SET in a session,
    // only in the server's configuration, so no SET statement carries it.
    DefineCustomStringVariable("email_verify.socks5_proxy", "SOCKS5 proxy probes go through.",
                               "socks5://[user:password@]host:port; empty: probes connect directly.",
                               &socks5_proxy_setting, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, check_socks5_proxy, nullptr,
                               nullptr);
    SecretLogFilterInit();
}

void apply_connection_settings(ev::prober::ProbeSettings* settings) {
    settings->session.session_timeout = std::chrono::milliseconds(session_timeout_setting);
    ev::net::SourceAddressList sources =
        ev::net::parse_source_addresses(source_addresses_setting ? source_addresses_setting : "");
    settings->session.source_addresses = std::move(sources.addresses);
    // The check hooks have seen both values; a proxy that somehow does not
    // parse must stop the probe rather than let it go out directly.
    ev::net::Socks5UrlResult proxy = ev::net::parse_socks5_url(socks5_proxy_setting ? socks5_proxy_setting : "");
    if (!proxy.error.empty()) throw std::runtime_error("email_verify.socks5_proxy is not valid: " + proxy.error);
    settings->session.socks5_proxy = std::move(proxy.proxy);
    if (!sources.error.empty())
        throw std::runtime_error("email_verify.source_addresses is not valid: " + sources.error);
}

}  // namespace ev::pg
