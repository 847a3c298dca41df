// The life of a queue item, and the retry policy, in one place.
//
// An item of email_verify.queue is Pending (waiting, from not_before), Claimed
// by one worker until its lease ends, or Failed (parked: its verdict could not
// be written, or it was claimed too often without one). An item whose verdict
// is written is deleted: "done" needs no row. The PostgreSQL layer carries
// out these transitions, each in one kept statement of src/pg/queue_items.cpp;
// this is the rule they follow, and the one the worker applies when a verdict
// comes back.
//
//   Pending --claim-------------------> Claimed
//   Claimed --verdict written---------> (deleted)
//   Claimed --not final, attempts left-> Pending   (after backoff, +1 attempt)
//   Claimed --row locked / watch
//             suspended / level raised-> Pending   (no attempt counted: nothing
//                                                    the address did)
//   Claimed --lease expired-----------> Claimed   (by another worker, +1 attempt)
//   Claimed --released by its worker--> Pending   (+1 attempt)
//   Claimed --write-back failed-------> Failed    (the error kept as the reason)
//   any     --claimed claim_limit times-> Failed  (given up)
//   Failed  --watch() called again----> (deleted, the row is swept anew)
#pragma once

#include <chrono>
#include <optional>

namespace ev::queue {

enum class ItemState { Pending, Claimed, Failed };

enum class ItemEvent {
    Claim,
    VerdictWritten,
    RetryLater,  // a verdict that is not final, with attempts left
    PutBack,     // row locked, watch suspended, level raised meanwhile
    LeaseExpired,
    Released,
    WriteFailed,
    GivenUp,
};

struct Transition {
    std::optional<ItemState> to;  // nullopt: the item is deleted
    bool counts_attempt = false;
};

// The transition an event makes from a state; nullopt when the event cannot
// happen in that state (a bug in the caller).
std::optional<Transition> transition(ItemState from, ItemEvent event);

struct RetryPolicy {
    int retry_attempts = 5;                // email_verify.retry_attempts
    std::chrono::seconds retry_delay{60};  // email_verify.retry_delay

    // How many times an item may be claimed: the retries of transient
    // verdicts and two more for claims that came to nothing (a worker died
    // with it, or its write-back failed as a whole).
    int claim_limit() const { return retry_attempts + 2; }

    // Whether a verdict that is not final goes back for another attempt
    // (otherwise it is written as it is, status unknown).
    bool retries(bool final, int attempts) const { return !final && attempts + 1 < retry_attempts; }

    // retry_delay * 2^attempts (doublings capped at 16), times jitter, which
    // the caller draws from [0.5, 1.5) so that one burst's retries spread
    // out; at least one second.
    std::chrono::seconds backoff(int attempts, double jitter) const;
};

}  // namespace ev::queue
