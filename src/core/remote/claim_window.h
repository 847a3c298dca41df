// The external prober's rolling window: what it has claimed and not yet
// reported. Items come in by claim and leave by report as each settles, so
// that a slow domain (a tarpit's reply timeout, a greylisting retry) holds
// back only its own items, never the claimer: the prober claims again as
// soon as its window has room. A job claim (a range of a job's addresses)
// ends with its last item's report; a domain lease once every item of the
// domain is released (no session its probes used is open any more:
// Engine::Released), with the report after that (domain_tally.h).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "queue/domain_tally.h"
#include "remote/report.h"

namespace ev::remote {

class ClaimWindow {
  public:
    // Takes claimed items in; returns each one's ticket, in order.
    std::vector<std::uint64_t> add(std::vector<ClaimedItem> items);

    // The item of this ticket, while it is in flight.
    const ClaimedItem* find(std::uint64_t ticket) const;

    // Its verdict came: it leaves the window with the next report.
    void settle(std::uint64_t ticket, const prober::Verdict& verdict);

    // Its domain's sessions are over (after settle): the domain's lease may
    // end. Every ticket is released once; items at levels syntax and dns
    // hold no lease.
    void release(std::uint64_t ticket);
    // Every item released at once (the engine is gone).
    void release_all();

    std::size_t in_flight() const { return open_.size(); }
    std::vector<std::uint64_t> open_tickets() const;
    std::size_t settled() const { return settled_.size(); }
    // Something for the next report: a verdict, a claim or a lease it ends.
    bool has_news() const { return !settled_.empty() || !ends_.claims.empty() || !ends_.domains.empty(); }

    // What settled since the last report, with the claims and domains it
    // ends; forgets it.
    BatchReport take_report(const queue::RetryPolicy& policy, std::mt19937& random,
                            const std::optional<std::string>& error);

  private:
    std::uint64_t next_ticket_ = 1;
    std::unordered_map<std::uint64_t, ClaimedItem> open_;
    std::unordered_map<std::int64_t, std::size_t> claim_open_;   // job claim -> its items in flight
    std::unordered_map<std::uint64_t, std::string> unreleased_;  // ticket -> its lease domain (level smtp)
    queue::DomainTally leased_;                                  // of the unreleased items
    std::vector<SettledItem> settled_;
    ReportEnds ends_;
};

}  // namespace ev::remote
