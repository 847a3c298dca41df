#include "settings.h"

#include <unistd.h>

#include <string>

#include "connection_settings.h"
#include "dns/resolver.h"
#include "job_settings.h"
#include "pg_prelude.h"

namespace ev::pg {

namespace {

int default_level_setting = static_cast<int>(ev::Level::Smtp);
bool allow_quoted_local_setting = false;
bool allow_domain_literal_setting = false;
char* dns_servers_setting = nullptr;
int smtp_port_setting = 25;
char* helo_name_setting = nullptr;
char* mail_from_setting = nullptr;
int result_ttl_setting = 86400;
int dns_timeout_setting = 2000;
int write_back_timeout_setting = 10000;
int connect_timeout_setting = 5000;
int reply_timeout_setting = 15000;
int address_timeout_setting = 45000;
int max_connections_per_host_setting = 2;
int max_connections_setting = 64;
// Internet-safe: a few sessions and a few dozen RCPTs a minute per MX site,
// the pace at which big receivers do not start refusing a sender's IP.
int host_session_rate_setting = 6;
int host_rcpt_rate_setting = 30;
int permit_wait_setting = 45000;
int health_check_interval_setting = 30;
bool starttls_setting = true;
char* database_setting = nullptr;
int workers_setting = 1;
int shared_cache_size_setting = 32;
int worker_batch_size_setting = 500;
int retry_attempts_setting = 5;
int retry_delay_setting = 60;
int worker_naptime_setting = 10;
char default_helo_name[256] = "localhost";

bool check_dns_servers(char** value, void** extra, GucSource source) {
    if (*value == nullptr || **value == '\0') return true;
    std::string problem = ev::dns::check_server_list(*value);
    if (problem.empty()) return true;
    GUC_check_errdetail("%s", problem.c_str());
    GUC_check_errhint("Write ip[:port] entries separated by commas, e.g. 127.0.0.1:5353,[::1]:53.");
    return false;
}

// Reply lines are CRLF-terminated: a CR or LF in a name would let a setting
// inject SMTP commands.
bool check_smtp_word(char** value, void** extra, GucSource source) {
    for (const char* p = *value ? *value : ""; *p; ++p) {
        unsigned char c = static_cast<unsigned char>(*p);
        if (c < 0x21 || c == 0x7f || c == '<' || c == '>') {
            GUC_check_errdetail("Spaces, control characters and angle brackets are not allowed.");
            return false;
        }
    }
    return true;
}

const struct config_enum_entry level_options[] = {
    {"syntax", static_cast<int>(ev::Level::Syntax), false},
    {"dns", static_cast<int>(ev::Level::Dns), false},
    {"smtp", static_cast<int>(ev::Level::Smtp), false},
    {nullptr, 0, false},
};

}  // namespace

void SettingsInit() {
    DefineCustomEnumVariable("email_verify.default_level", "Verification level used when a call gives none.",
                             "syntax: no network; dns: adds MX/A lookups; smtp: adds the mailbox probe.",
                             &default_level_setting, static_cast<int>(ev::Level::Smtp), level_options, PGC_USERSET, 0,
                             nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("email_verify.allow_quoted_local",
                             "Accept quoted local parts such as \"john doe\"@example.com.", nullptr,
                             &allow_quoted_local_setting, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    // Superuser-only: at levels dns and smtp a domain literal is where the
    // probe connects, so whoever may set this could aim SMTP at any address.
    DefineCustomBoolVariable("email_verify.allow_domain_literal", "Accept domain literals such as user@[192.0.2.1].",
                             nullptr, &allow_domain_literal_setting, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    if (gethostname(default_helo_name, sizeof default_helo_name - 1) != 0 || default_helo_name[0] == '\0')
        snprintf(default_helo_name, sizeof default_helo_name, "localhost");

    // Where probes go: superuser-only, or any user could aim the prober at
    // other hosts and ports.
    DefineCustomStringVariable("email_verify.dns_servers", "DNS servers for levels dns and smtp (ip[:port],...).",
                               "Empty: the system resolver configuration (/etc/resolv.conf).", &dns_servers_setting, "",
                               PGC_SUSET, 0, check_dns_servers, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.smtp_port", "TCP port used for MX hosts.", nullptr, &smtp_port_setting, 25, 1,
                            65535, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("email_verify.helo_name", "Name sent in EHLO/HELO.",
                               "Use a name you own with matching reverse DNS. Default: the host name.",
                               &helo_name_setting, default_helo_name, PGC_SUSET, 0, check_smtp_word, nullptr, nullptr);
    DefineCustomStringVariable("email_verify.mail_from", "Envelope sender of probes (MAIL FROM).",
                               "Empty sends the null sender <>.", &mail_from_setting, "", PGC_SUSET, 0, check_smtp_word,
                               nullptr, nullptr);
    DefineCustomIntVariable("email_verify.result_ttl", "How long a verdict is reused.", "0 disables the result cache.",
                            &result_ttl_setting, 86400, 0, INT_MAX, PGC_USERSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.dns_timeout", "Time one DNS query may take per try.", nullptr,
                            &dns_timeout_setting, 2000, 10, 60000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.connect_timeout", "Time a TCP connect to an MX host may take.", nullptr,
                            &connect_timeout_setting, 5000, 10, 300000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable(
        "email_verify.reply_timeout", "Time one whole SMTP reply, or the STARTTLS handshake, may take.", nullptr,
        &reply_timeout_setting, 15000, 10, 600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "email_verify.address_timeout", "Time one address may take from its first RCPT to its verdict.", nullptr,
        &address_timeout_setting, 45000, 10, 3600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    // Politeness, for the whole server (src/pg/shared_permits.cpp): every
    // backend and worker together. Superuser-only, as raising them is what
    // gets a server's IP blocklisted.
    DefineCustomIntVariable("email_verify.max_connections_per_host",
                            "Concurrent SMTP sessions to one MX site, for the whole server.",
                            "A site is a domain's set of MX host names; domains with the same set share it.",
                            &max_connections_per_host_setting, 2, 1, 100, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.max_connections",
                            "Concurrent SMTP sessions to all hosts, for the whole server.", nullptr,
                            &max_connections_setting, 64, 1, 10000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.host_session_rate", "New SMTP sessions per minute to one MX site.",
                            "0 means unlimited.", &host_session_rate_setting, 6, 0, 1000000, PGC_SUSET, 0, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("email_verify.host_rcpt_rate", "RCPT TO commands per minute to one MX site.",
                            "0 means unlimited.", &host_rcpt_rate_setting, 30, 0, 10000000, PGC_SUSET, 0, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable(
        "email_verify.permit_wait",
        "Time a probe waits for its MX site's politeness budget before it gives up on the address.",
        "The address then ends unknown (timeout); the worker puts it back without counting an attempt.",
        &permit_wait_setting, 45000, 0, 3600000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("email_verify.starttls", "Use STARTTLS when an MX host offers it.",
                             "Certificates are checked and the outcome recorded, but never stop a probe.",
                             &starttls_setting, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.health_check_interval",
                            "While the prober's network looks blocked, how often a worker lets one SMTP probe through "
                            "as a test.",
                            nullptr, &health_check_interval_setting, 30, 1, 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    // The background workers (README.md, "In-place verification").
    // PostgreSQL refuses new postmaster-level settings once it runs: these two
    // exist only when the module is preloaded, as the workers do.
    if (process_shared_preload_libraries_in_progress) {
        DefineCustomStringVariable("email_verify.database", "Database the background workers work in.", nullptr,
                                   &database_setting, "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
        DefineCustomIntVariable("email_verify.workers", "Background workers draining the verification queue.",
                                "Needs shared_preload_libraries; 0 starts none.", &workers_setting, 1, 0, 16,
                                PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
        DefineCustomIntVariable("email_verify.shared_cache_size",
                                "Shared memory for the prober's caches of the whole server (verdicts, catch-all "
                                "answers, mail routes).",
                                "0 keeps a cache in each backend instead. Least recently used entries are evicted.",
                                &shared_cache_size_setting, 32, 0, 65536, PGC_POSTMASTER, GUC_UNIT_MB, nullptr, nullptr,
                                nullptr);
    }
    DefineCustomIntVariable("email_verify.worker_batch_size", "Queue items one worker claims and probes at once.",
                            nullptr, &worker_batch_size_setting, 500, 1, 100000, PGC_SIGHUP, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("email_verify.retry_attempts",
                            "Attempts for greylisted, temporary_failure, timeout and dns_error verdicts.",
                            "After the last one the verdict is written as it is (status unknown).",
                            &retry_attempts_setting, 5, 1, 100, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("email_verify.retry_delay", "First retry delay; doubles each attempt, with jitter.",
                            nullptr, &retry_delay_setting, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
                            nullptr);
    // A watch's write-back runs its owner's triggers; this bounds them (see
    // src/pg/write_back_watchdog.cpp): past it the write is cancelled, a
    // second later the worker ends, and the watch is suspended either way.
    DefineCustomIntVariable("email_verify.write_back_timeout",
                            "Time the write-back of one watch's verdicts may take before the watch is suspended.",
                            nullptr, &write_back_timeout_setting, 10000, 100, 600000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("email_verify.worker_naptime",
                            "Longest sleep of an idle worker (it is woken at once for new work).", nullptr,
                            &worker_naptime_setting, 10, 1, 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
    ConnectionSettingsInit();
    JobSettingsInit();
    // The prefix is reserved in _PG_init (src/pg/module.cpp), after every
    // part has defined its settings.
}

ev::Level default_level() { return static_cast<ev::Level>(default_level_setting); }

ev::SyntaxOptions syntax_options() {
    ev::SyntaxOptions options;
    options.allow_quoted_local = allow_quoted_local_setting;
    options.allow_domain_literal = allow_domain_literal_setting;
    return options;
}

ev::prober::ProbeSettings probe_settings() {
    ev::prober::ProbeSettings s;
    s.dns.servers = dns_servers_setting ? dns_servers_setting : "";
    s.dns.timeout = std::chrono::milliseconds(dns_timeout_setting);
    s.smtp_port = smtp_port_setting;
    s.session.helo_name = helo_name_setting && *helo_name_setting ? helo_name_setting : default_helo_name;
    s.session.mail_from = mail_from_setting ? mail_from_setting : "";
    s.session.connect_timeout = std::chrono::milliseconds(connect_timeout_setting);
    s.session.reply_timeout = std::chrono::milliseconds(reply_timeout_setting);
    s.session.starttls = starttls_setting;
    s.address_timeout = std::chrono::milliseconds(address_timeout_setting);
    s.politeness.max_connections_per_host = max_connections_per_host_setting;
    s.politeness.max_connections = max_connections_setting;
    s.politeness.host_session_rate = host_session_rate_setting;
    s.politeness.host_rcpt_rate = host_rcpt_rate_setting;
    s.permit_wait = std::chrono::milliseconds(permit_wait_setting);
    s.catch_all_ttl = std::chrono::seconds(result_ttl_setting > 0 ? result_ttl_setting : 0);
    apply_connection_settings(&s);
    return s;
}

const char* worker_database_name() { return database_setting; }

int configured_workers() { return workers_setting; }

int shared_cache_size_mb() { return shared_cache_size_setting; }

long worker_naptime_ms() { return static_cast<long>(worker_naptime_setting) * 1000L; }

WorkerSettings worker_settings() {
    WorkerSettings w;
    w.database = database_setting ? database_setting : "postgres";
    w.workers = workers_setting;
    w.batch_size = worker_batch_size_setting;
    w.retry_attempts = retry_attempts_setting;
    w.retry_delay = std::chrono::seconds(retry_delay_setting);
    w.naptime = std::chrono::seconds(worker_naptime_setting);
    return w;
}

std::chrono::seconds health_check_interval() { return std::chrono::seconds(health_check_interval_setting); }

std::chrono::seconds result_ttl() { return std::chrono::seconds(result_ttl_setting); }

std::chrono::milliseconds write_back_timeout() { return std::chrono::milliseconds(write_back_timeout_setting); }

}  // namespace ev::pg
