// Politeness towards MX hosts, decided for every prober of the server
// together: how many sessions a site may have open, how fast new sessions
// and RCPTs may reach it, and what was learned about its servers.
//
// A site is a domain's MX rollup: its MX host names, sorted and joined.
// Domains served by the same MX set (every Google Workspace customer, say)
// share one budget, as the receiving servers see them as one sender's
// traffic (KumoMTA keys its throttles the same way). Learned facts belong to
// one server address, since each server has its own limits.
//
// The engine asks and never waits here: a refusal says when asking again may
// succeed, and the engine sets a timer for that moment.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ev::prober {

using SteadyTime = std::chrono::steady_clock::time_point;

// The limits of the calling prober's settings (each call brings its own, so
// a superuser's raised limits apply to that superuser's probes).
struct PolitenessLimits {
    int max_connections_per_host = 2;  // sessions open to one site
    int max_connections = 64;          // sessions open to all sites together
    int host_session_rate = 0;         // new sessions per minute per site; 0 = unlimited
    int host_rcpt_rate = 0;            // RCPT TO per minute per site; 0 = unlimited
};

// Whom a session talks to: slots are counted for its site and for its MX
// address (several sites' MX names may point at one server, and one site
// may have many addresses); rates are the site's.
struct SessionTarget {
    std::string site;
    std::string address;  // "ip:port"
};

struct Admission {
    bool granted = false;
    SteadyTime retry_at{};  // when refused: the earliest moment asking again may succeed
};

// What the probes learned about one MX server, so no prober learns it again
// the hard way. Zero/false means not learned.
struct HostFacts {
    int rcpt_limit = 0;  // recipients per transaction ("452 too many recipients")
    // The adaptive error budget (smtp/error_budget.h): refusals a session
    // may collect, how many of them it may pipeline, whether a limit showed.
    int error_budget = 0;
    int error_budget_pipelined = 0;
    bool error_limit_seen = false;
    bool starttls_broken = false;  // the STARTTLS handshake fails: talk in the clear
    bool pipelining = false;       // offers PIPELINING
    // The server let a session time out before it answered a recipient (no
    // greeting, or no reply) after silent_after_ms: until silent_until_ns
    // (steady clock) no prober that would wait no longer connects to it
    // again, and its recipients end as timed out at once. Postfix marks such
    // a destination dead for five minutes and more; this lasts as long as
    // the timed-out session's slot is held anyway. A prober that waits
    // longer tries for itself: a caller's short reply_timeout teaches
    // nothing to the others.
    std::int64_t silent_until_ns = 0;
    std::int64_t silent_after_ms = 0;
    bool operator==(const HostFacts& o) const {
        return rcpt_limit == o.rcpt_limit && error_budget == o.error_budget &&
               error_budget_pipelined == o.error_budget_pipelined && error_limit_seen == o.error_limit_seen &&
               starttls_broken == o.starttls_broken && pipelining == o.pipelining &&
               silent_until_ns == o.silent_until_ns && silent_after_ms == o.silent_after_ms;
    }
};

// A generic cell rate algorithm: one number per rate (the theoretical
// arrival time of the next event) and no background refill. `burst` events
// may come back to back after a quiet spell, never more: over any window the
// count stays within rate x window + burst.
struct RateCell {
    std::int64_t theoretical_arrival_ns = 0;
};

// Takes one event of `per_minute` at `now_ns` (steady clock); 0 when taken,
// else the nanoseconds to wait. per_minute <= 0 is unlimited.
// burst false: one an interval, however long the cell was idle.
std::int64_t take_rate_token(RateCell& cell, std::int64_t now_ns, int per_minute, bool burst = true);

// One second's worth of events, at least one: a pipelined batch of RCPTs
// may leave together, but never more than a second's share.
int rate_burst(int per_minute);

std::int64_t to_ns(SteadyTime t);
SteadyTime from_ns(std::int64_t ns);

// The MX rollup of a domain's MX host names (any case, any order).
std::string site_of(std::vector<std::string> mx_names);

// Where the admissions and facts live: in-process (LocalHostPermits) or in
// the server's shared memory (the PostgreSQL layer).
class HostPermits {
  public:
    virtual ~HostPermits() = default;
    // A session slot (of the site and of the address) and a session-rate
    // token, all or none.
    virtual Admission open_session(const SessionTarget& target, const PolitenessLimits& limits, SteadyTime now) = 0;
    // Gives back a slot open_session granted.
    virtual void close_session(const SessionTarget& target) = 0;
    virtual Admission send_rcpt(const std::string& site, const PolitenessLimits& limits, SteadyTime now) = 0;
    virtual HostFacts facts(const std::string& server) = 0;
    virtual void learn(const std::string& server, const HostFacts& facts) = 0;
};

// The permits of one process: used when the module is not preloaded (there
// is no shared memory then), and by the core's tests.
class LocalHostPermits : public HostPermits {
  public:
    Admission open_session(const SessionTarget& target, const PolitenessLimits& limits, SteadyTime now) override;
    void close_session(const SessionTarget& target) override;
    Admission send_rcpt(const std::string& site, const PolitenessLimits& limits, SteadyTime now) override;
    HostFacts facts(const std::string& server) override;
    void learn(const std::string& server, const HostFacts& facts) override;
    // Sessions open to a site, or to an address ("ip:port").
    int open_sessions(const std::string& site_or_address) const;
    void clear();
    // An external prober's: it cannot see what the other claimers sent a
    // host just before the host's domain came to it, so its RCPT budget
    // takes no burst (one an interval from the first).
    void without_bursts() { bursts_ = false; }

  private:
    struct Site {
        int sessions_open = 0;
        RateCell session_rate;
        RateCell rcpt_rate;
    };
    std::unordered_map<std::string, Site> sites_;
    std::unordered_map<std::string, HostFacts> facts_;
    std::unordered_map<std::string, int> address_sessions_;
    int sessions_open_ = 0;
    bool bursts_ = true;
};

// The admission rule both implementations share: a slot under the site's,
// the address's and the global cap, then a session-rate token of the site.
Admission admit_session(int& site_sessions, int& address_sessions, int& all_sessions, RateCell& session_rate,
                        const PolitenessLimits& limits, SteadyTime now);
Admission admit_rcpt(RateCell& rcpt_rate, const PolitenessLimits& limits, SteadyTime now, bool burst = true);

}  // namespace ev::prober
