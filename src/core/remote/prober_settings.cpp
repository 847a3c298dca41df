#include "remote/prober_settings.h"

#include <charconv>
#include <chrono>

#include "net/socks5_url.h"
#include "net/source_addresses.h"

namespace ev::remote {

namespace {

class Reader {
  public:
    Reader(const std::map<std::string, std::string>& server, const std::map<std::string, std::string>& own)
        : server_(server), own_(own) {}

    const std::string* find(const std::string& name) const {
        if (auto it = own_.find(name); it != own_.end()) return &it->second;
        if (auto it = server_.find(name); it != server_.end()) return &it->second;
        return nullptr;
    }

    // Only the prober's own configuration may give it.
    const std::string* own(const std::string& name) const {
        auto it = own_.find(name);
        return it == own_.end() ? nullptr : &it->second;
    }

    void integer(const std::string& name, int& out, int low, int high) {
        const std::string* v = find(name);
        if (!v || !error.empty()) return;
        int parsed = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), parsed);
        if (ec != std::errc() || end != v->data() + v->size() || parsed < low || parsed > high) {
            error = name + " must be an integer from " + std::to_string(low) + " to " + std::to_string(high);
            return;
        }
        out = parsed;
    }

    template <typename Duration>
    void duration(const std::string& name, Duration& out, int low, int high) {
        int n = static_cast<int>(out.count());
        integer(name, n, low, high);
        out = Duration(n);
    }

    void boolean(const std::string& name, bool& out) {
        const std::string* v = find(name);
        if (!v || !error.empty()) return;
        if (*v == "on" || *v == "true" || *v == "1") out = true;
        else if (*v == "off" || *v == "false" || *v == "0") out = false;
        else error = name + " must be on or off";
    }

    void text(const std::string& name, std::string& out) {
        if (const std::string* v = find(name)) out = *v;
    }

    std::string error;

  private:
    const std::map<std::string, std::string>& server_;
    const std::map<std::string, std::string>& own_;
};

}  // namespace

SettingsResult remote_settings(const std::map<std::string, std::string>& server,
                               const std::map<std::string, std::string>& own, const std::string& helo_default) {
    SettingsResult out;
    RemoteSettings& s = out.settings;
    prober::ProbeSettings& p = s.verifier.probe;
    Reader r(server, own);
    r.text("email_verify.dns_servers", p.dns.servers);
    r.duration("email_verify.dns_timeout", p.dns.timeout, 10, 60000);
    r.integer("email_verify.smtp_port", p.smtp_port, 1, 65535);
    r.text("email_verify.helo_name", p.session.helo_name);
    if (p.session.helo_name.empty()) p.session.helo_name = helo_default;
    r.text("email_verify.mail_from", p.session.mail_from);
    r.duration("email_verify.connect_timeout", p.session.connect_timeout, 10, 300000);
    r.duration("email_verify.reply_timeout", p.session.reply_timeout, 10, 600000);
    r.duration("email_verify.session_timeout", p.session.session_timeout, 100, 3600000);
    r.boolean("email_verify.starttls", p.session.starttls);
    r.duration("email_verify.address_timeout", p.address_timeout, 10, 3600000);
    r.integer("email_verify.max_connections_per_host", p.politeness.max_connections_per_host, 1, 1000);
    r.integer("email_verify.max_connections", p.politeness.max_connections, 1, 100000);
    r.integer("email_verify.host_session_rate", p.politeness.host_session_rate, 0, 1000000);
    r.integer("email_verify.host_rcpt_rate", p.politeness.host_rcpt_rate, 0, 1000000);
    r.duration("email_verify.permit_wait", p.permit_wait, 0, 3600000);
    int ttl = static_cast<int>(s.verifier.result_ttl.count());
    r.integer("email_verify.result_ttl", ttl, 0, 1 << 30);
    s.verifier.result_ttl = std::chrono::seconds(ttl);
    p.catch_all_ttl = std::chrono::seconds(ttl);
    r.integer("email_verify.retry_attempts", s.retry.retry_attempts, 1, 100);
    r.duration("email_verify.retry_delay", s.retry.retry_delay, 1, 86400);
    r.integer("email_verify.worker_batch_size", s.batch_size, 1, 100000);
    r.integer("batch_size", s.batch_size, 1, 100000);
    r.integer("lease_seconds", s.lease_seconds, 5, 86400);
    r.integer("idle_ms", s.idle_ms, 10, 60000);
    // A re-check must ask the network, as the workers' do.
    s.verifier.reuse_cached = false;
    if (r.error.empty()) {
        if (const std::string* v = r.own("email_verify.source_addresses")) {
            auto sources = net::parse_source_addresses(*v);
            if (!sources.error.empty()) r.error = "email_verify.source_addresses: " + sources.error;
            p.session.source_addresses = std::move(sources.addresses);
        }
    }
    if (r.error.empty()) {
        if (const std::string* v = r.own("email_verify.socks5_proxy")) {
            // The message never repeats the value: it may hold a password.
            auto proxy = net::parse_socks5_url(*v);
            if (!proxy.error.empty()) r.error = "email_verify.socks5_proxy is not valid: " + proxy.error;
            p.session.socks5_proxy = std::move(proxy.proxy);
        }
    }
    out.error = r.error;
    return out;
}

}  // namespace ev::remote
