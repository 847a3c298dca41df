// A small mail world on loopback for the engine and verifier suites: the
// fake DNS server publishes domains whose MX hosts are 127.0.0.x, where a
// FakeSmtpServer listens; probe settings point at both with short timeouts.
#pragma once

#include <string>

#include "fake_dns_server.h"
#include "prober/probe_settings.h"
#include "risk_lists.h"
#include "typo_suggester.h"

namespace ev::test {

// Lists of a few entries: the shipped ones take a second to build under
// ASan, in every test process ctest starts.
inline const RiskLists& small_lists() {
    static const RiskLists lists = [] {
        RiskLists l;
        l.add_override(ListKind::Role, "nobody", true);
        l.add_override(ListKind::Role, "postmaster", true);
        l.add_override(ListKind::Disposable, "trash.test", true);
        return l;
    }();
    return lists;
}

// Knows no popular domain: suggests nothing for the .test names used here.
inline const TypoSuggester& no_suggestions() {
    static const TypoSuggester suggester("", "", "", "", "com\n");
    return suggester;
}

// `domain` gets one MX host, mx.<domain>, with address `ip` (no AAAA).
inline void publish_mail_domain(FakeDnsServer& dns, const std::string& domain, const std::string& ip = "127.0.0.1",
                                std::uint32_t ttl = 300) {
    std::string host = "mx." + domain;
    dns.set(domain, kTypeMx, mx_answer({{10, host}}, ttl));
    dns.set(host, kTypeA, address_answer({ip}, ttl));
    dns.set(host, kTypeAaaa, negative_answer(kNoError, ttl));
}

// Probes go to the fake DNS server and to SMTP port `smtp_port`; every
// timeout is short, so a failure shows in a fraction of a second.
inline prober::ProbeSettings loopback_settings(const FakeDnsServer& dns, int smtp_port) {
    prober::ProbeSettings s;
    s.dns.servers = dns.servers();
    s.dns.timeout = std::chrono::milliseconds(200);
    s.dns.tries = 2;
    s.smtp_port = smtp_port;
    s.session.helo_name = "probe.test";
    s.session.connect_timeout = std::chrono::milliseconds(1000);
    s.session.reply_timeout = std::chrono::milliseconds(1000);
    s.address_timeout = std::chrono::milliseconds(5000);
    return s;
}

}  // namespace ev::test
