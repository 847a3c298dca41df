// Big mail providers whose RCPT answers say less than they seem (README.md,
// "Big providers"): recognised by the host name of a domain's most preferred
// MX, each with what is known of how it answers probes. The table
// email_verify.providers fills the rules; the engine asks them whether and
// how to probe a domain, and what its answers allow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/mail_route.h"
#include "verdict.h"
#include "verification_result.h"

namespace ev::prober {

enum class ProviderBehaviour : std::uint8_t {
    // Refuses unknown recipients at RCPT (550 5.1.1 and kin): its answers
    // are read as any server's, catch-all probe included.
    RevealsMailboxes,
    // Accepts every recipient at RCPT and bounces later: acceptance proves
    // nothing (risky/catch_all), so no catch-all probe is spent on it.
    AcceptsAll,
    // Answers one recipient per transaction (452 4.5.3 to the next): each
    // recipient gets a transaction of its own; a 4xx is never a verdict.
    ThrottlesRcpt,
    // Each hosted domain decides whether unknown recipients are refused
    // (Microsoft 365): an acceptance counts only where the domain refused the
    // catch-all probe; where that probe settled nothing it proves nothing.
    PerDomain,
    // Holds probers' connections open without answering: never probed.
    Tarpits,
    // Nothing reliable is published: answers are read as any server's.
    Undocumented,
};

std::optional<ProviderBehaviour> parse_provider_behaviour(std::string_view text);
std::string_view to_string(ProviderBehaviour behaviour);

// An MX host name pattern as the rules keep it: lower case, without leading
// or trailing dots ("Google.com." -> "google.com"). nullopt when it is not a
// host name: 1-253 characters, labels of 1-63 letters, digits, hyphens or
// underscores, at least one dot (a bare top-level domain would claim half
// the world).
std::optional<std::string> normalize_mx_pattern(std::string_view pattern);

struct Provider {
    std::string name;
    ProviderBehaviour behaviour = ProviderBehaviour::Undocumented;
    std::vector<std::string> mx_patterns;  // normalized
};

class ProviderRules {
  public:
    // Adds a provider; false (and nothing added) when its name is empty,
    // longer than 64 bytes or holds a control character, it has no pattern,
    // or a pattern is not a host name. Pointers from match() stay valid until the next add().
    bool add(std::string name, ProviderBehaviour behaviour, const std::vector<std::string>& mx_patterns);

    // The provider one of whose patterns is `mx_host` or a parent domain of
    // it, case-insensitively; the longest pattern wins ("mail.protection.
    // outlook.com" before "protection.outlook.com"), then the first added.
    const Provider* match(std::string_view mx_host) const;

    // The provider of a domain: that of its most preferred MX host (a
    // domain filtered by another service first is that service's), or
    // nullptr for an implicit MX (the domain's own address) and no route.
    const Provider* for_route(const dns::MailRoute& route) const;

    std::size_t size() const { return providers_.size(); }
    bool empty() const { return providers_.empty(); }

    // Changes with the content: the prober's caches are keyed on it, so a
    // verdict reached under other rules is not reused.
    const std::string& fingerprint() const { return fingerprint_; }

  private:
    std::vector<Provider> providers_;
    std::string fingerprint_;
};

// What the engine does with a provider's domain: whether it is probed at
// all, whether its catch-all status is taken as known (true), and the RCPTs
// one transaction may carry (0: no limit known).
bool probes_mailboxes(const Provider& provider);
bool assumes_catch_all(const Provider& provider);
int rcpt_limit_for(const Provider& provider);

// What the provider's known behaviour makes of one address probed at level
// smtp (or not probed, `probed` false, for a tarpit): adds the reasons the
// evidence calls for (precedence does the rest: an acceptance from an
// accept-all provider ends risky/catch_all, never valid) and appends
// "(provider: <name> - <behaviour>)" to smtp_message.
void apply_provider(const Provider& provider, bool probed, Findings* findings, VerificationResult* result);

}  // namespace ev::prober
