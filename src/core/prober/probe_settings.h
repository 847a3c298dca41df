// Everything a probe run can be tuned with; the PostgreSQL layer fills it
// from the email_verify.* settings.
#pragma once

#include <chrono>
#include <memory>

#include "dns/mail_route.h"
#include "dns/resolver.h"
#include "prober/host_permits.h"
#include "prober/provider_rules.h"
#include "smtp/session.h"

namespace ev::prober {

struct ProbeSettings {
    dns::ResolverConfig dns;
    dns::RouteOptions routes;
    smtp::SessionConfig session;
    int smtp_port = 25;
    // Sessions and rates per site, for the whole server (host_permits.h).
    PolitenessLimits politeness;
    // How long a recipient may wait for its site's politeness budget before
    // it ends unprobed, `deferred` (the worker puts it back, no attempt
    // counted; a SQL call reports a timeout).
    std::chrono::milliseconds permit_wait{45000};
    // From the first RCPT sent for an address to its verdict, across retries
    // and fall-through to other MX hosts.
    std::chrono::milliseconds address_timeout{45000};
    std::chrono::seconds catch_all_ttl{86400};
    int max_attempts = 3;  // sessions one recipient may be tried in on one host
    // The longest event-loop turn, so the longest time between two polls: a
    // caller with a time budget (check_signup) asks for shorter turns.
    std::chrono::milliseconds turn{50};
    // A host gets another session only for this many queued recipients each.
    int recipients_per_extra_session = 20;
    // Big providers recognised by MX host name (email_verify.providers);
    // none when null.
    std::shared_ptr<const ProviderRules> providers;
};

}  // namespace ev::prober
