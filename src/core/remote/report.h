// What a batch came to, as prober_report takes it (a JSON object; see
// extension/src/99_remote_probers.sql): final verdicts, items put back for
// another attempt, the job claims the batch ends. The rule is the workers':
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

// outcomes[k] is items[k]'s, nullopt when it was not reached (the prober is
// stopping): such an item is left out, and its claim kept (prober_goodbye
// frees it). in_flight and error go to the prober's row.
BatchReport build_report(const std::vector<ClaimedItem>& items,
                         const std::vector<std::optional<prober::Verdict>>& outcomes, const queue::RetryPolicy& policy,
                         std::mt19937& random, int in_flight, const std::optional<std::string>& error);

// Seconds since the Unix epoch as an ISO 8601 UTC timestamp, microseconds kept.
std::string iso_utc(double seconds);

}  // namespace ev::remote
