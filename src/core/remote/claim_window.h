// The external prober's rolling window: what it has claimed and not yet
// reported. Items come in by claim and leave by report as each settles, so
// that a slow domain (a tarpit's reply timeout, a greylisting retry) holds
// back only its own items, never the claimer: the prober claims again as
// soon as its window has room. A job claim (a range of a job's addresses)
// ends with its last item's report, a domain lease with its domain's last
// item's (domain_tally.h).
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

    std::size_t in_flight() const { return open_.size(); }
    std::vector<std::uint64_t> open_tickets() const;
    std::size_t settled() const { return settled_.size(); }

    // What settled since the last report, with the claims and domains it
    // ends; forgets it.
    BatchReport take_report(const queue::RetryPolicy& policy, std::mt19937& random,
                            const std::optional<std::string>& error);

  private:
    std::uint64_t next_ticket_ = 1;
    std::unordered_map<std::uint64_t, ClaimedItem> open_;
    std::unordered_map<std::int64_t, std::size_t> claim_open_;  // job claim -> its items in flight
    queue::DomainTally leased_;                                 // domains of the items at level smtp
    std::vector<SettledItem> settled_;
    ReportEnds ends_;
};

}  // namespace ev::remote
