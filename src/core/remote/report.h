// What has settled since the last report, as prober_report takes it (a JSON
// object; see extension/src/99_remote_probers.sql): final verdicts, items
// put back for another attempt, the job claims and the domain leases it
// ends. The rule is the workers':
// a verdict that is not final goes back while attempts are left (after a
// backoff, one attempt more); one deferred by politeness goes back with no
// attempt counted.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "prober/verifier.h"
#include "queue/item_lifecycle.h"
#include "remote/protocol.h"

namespace ev::remote {

struct BatchReport {
    std::string json;
    int verdicts = 0;  // final verdicts in it
    int retries = 0;   // items put back
};

struct SettledItem {
    ClaimedItem item;
    prober::Verdict verdict;
};

// What the report ends besides its items: job claims (ranges) none of whose
// items is in flight any more, and domains the prober holds no item of.
// in_flight and error go to the prober's row.
struct ReportEnds {
    std::vector<std::int64_t> claims;
    std::vector<std::string> domains;
    int in_flight = 0;
    std::optional<std::string> error;
};

BatchReport build_report(const std::vector<SettledItem>& settled, const ReportEnds& ends,
                         const queue::RetryPolicy& policy, std::mt19937& random);

// Seconds since the Unix epoch as an ISO 8601 UTC timestamp, microseconds kept.
std::string iso_utc(double seconds);

}  // namespace ev::remote
