// The prober engine: takes addresses that passed the syntax check and
// verifies them at level dns or smtp, all concurrently in one event loop.
//
// Addresses are grouped by domain (one route lookup, one catch-all probe per
// domain) and by MX address (a queue of recipients that at most
// max_connections_per_host sessions drain, many RCPTs per session). A host
// that refuses, times out or 421s at the start hands its recipients to the
// next MX address of their domain. A domain whose preferred MX belongs to a
// known big provider (ProbeSettings::providers) is probed, and its answers
// read, only as far as that provider's behaviour allows (provider_rules.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "prober/caches.h"
#include "prober/probe_settings.h"
#include "prober/run_stats.h"
#include "syntax_verifier.h"

namespace ev::prober {

// Called between event-loop turns, at least every ProbeSettings::turn. It may throw to
// abandon the run (a query cancel): every socket is closed on the way out.
using Poll = std::function<void()>;

// Called with an item's index as soon as its verdict is reached (all the
// items of a domain settle together, when the domain's last probe ends), so
// that a slow domain does not hold back the others' verdicts. It runs inside
// the event loop: it must only take note, never throw.
using Settled = std::function<void(std::size_t item)>;

// The streaming form of Settled: the item itself, with the ticket it was
// added with; the callee may move its findings away.
using Done = std::function<void(std::uint64_t ticket, OfflineFindings& item)>;

// Called with a settled item's ticket once no session is open any more at
// the hosts its domain's probes went to (a session may outlive the items it
// served: its QUIT, or an RCPT still out after the address timed out). Until
// then another claimer must not be let at the domain (domain leases).
using Released = std::function<void(std::uint64_t ticket)>;

class Engine {
  public:
    Engine(const ProbeSettings& settings, ProberCaches& caches);
    ~Engine();

    // Verifies every item in place at `level` (Dns or Smtp); items whose
    // syntax failed are left as they are. Results keep the items' order.
    // Each item's findings gain what the probe found, and network_answered
    // says whether any answer came back (the Verifier's rule for verdicts
    // reached without one is not applied here).
    // released: as Released, by index (every item is released before run returns).
    void run(std::vector<OfflineFindings>& items, Level level, const Poll& poll, Settled settled = nullptr,
             Settled released = nullptr);

    // The streaming form (the external prober's rolling window): items are
    // added while others are being probed, each at its own level, and each
    // is handed to `done` when it settles. Hosts, their sessions and what
    // was learned of them live as long as the engine. set_done first.
    void set_done(Done done);
    void set_released(Released released);
    // An item that passed the syntax check, at level Dns or Smtp.
    void add(std::uint64_t ticket, OfflineFindings item, Level level);
    // Turns the event loop for about `slice`; returns at once when nothing
    // is open (no item, no session).
    void run_for(std::chrono::milliseconds slice, const Poll& poll);
    // Items added and not yet settled.
    std::size_t open_items() const;
    // Anything left to run for: an open item, a session, an item not yet released.
    bool busy() const;
    // Lets open sessions say QUIT (briefly), then closes every socket; an
    // item still open is not settled.
    void close(const Poll& poll);

    const RunStats& stats() const { return stats_; }

  private:
    struct State;
    std::unique_ptr<State> state_;
    RunStats stats_;
};

}  // namespace ev::prober
