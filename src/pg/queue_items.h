// Where the items of email_verify.queue change state. Each function is one
// event of the item lifecycle (src/core/queue/item_lifecycle.h), carried out
// by a statement prepared once and kept; nothing else updates or deletes a
// queue item (the sweep inserts them, queue_claim.cpp; end_watch and watch()
// delete the items of a watch that ends or starts over). Each needs a
// transaction and an SPI connection.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg_prelude.h"
#include "verdict.h"

namespace ev::pg {

struct ClaimedItem {
    int64 queue_id = 0;
    int32 watch_id = 0;
    std::string row_key;  // JSON text
    std::string email;
    ev::Level level = ev::Level::Smtp;
    int attempts = 0;
};

// Rows of (queue_id, watch_id, row_key, email, level, attempts), as the claim
// and the sweep's claiming insert return them.
std::vector<ClaimedItem> claimed_items(SPITupleTable* table, uint64 rows);

// Claim and LeaseExpired: up to batch_size items for worker_id until now() +
// lease_seconds, first items whose lease ran out (their worker died; one
// attempt more), then ready retries, then the other ready pending ones,
// oldest first; SKIP LOCKED, so workers claim side by side. Retries first:
// one is due when its delay says, not once the backlog queued before it is
// done (a greylisted address would wait through a whole million). The items
// of suspended watches stay.
std::vector<ClaimedItem> claim_ready_items(int32 worker_id, int batch_size, int lease_seconds);

// GivenUp: expired claims that have used up their attempts become failed
// instead of being claimed once more.
void give_up_expired_claims();

// VerdictWritten: the items are deleted, and their verdicts counted in
// email_verify.worker_counters.
struct WrittenItem {
    int64 queue_id = 0;
    std::string status;
    std::optional<std::string> reason;
};
void settle_written(const std::vector<WrittenItem>& items);

// PutBack: pending again with no attempt counted (nothing the address did: a
// writer held the row, the watch is suspended, its level was raised), at
// once or after email_verify.retry_delay.
struct PutBack {
    int64 queue_id = 0;
    std::string reason;
    bool after_retry_delay = false;
};
void put_back(const std::vector<PutBack>& items);

// WriteFailed: failed, with the error as the reason.
struct Failure {
    int64 queue_id = 0;
    std::string status;
    std::string reason;
};
void fail(const std::vector<Failure>& items);

// RetryLater and Released: claimed items pending again after their delay (none:
// at once), one attempt more, last_status 'unknown' and last_reason set when a
// reason is given. An item whose row was queued anew meanwhile (its address
// changed) is deleted: the newer item stands for it. One that has used up the
// claims the retry policy allows is given up. Returns the items put back.
struct Retry {
    int64 queue_id = 0;
    std::optional<std::string> reason;
    std::optional<double> delay_seconds;
};
int64 retry_later(const std::vector<Retry>& items);

// Released: everything worker_id holds, at once (a worker starting again, or
// one whose batch failed as a whole). Returns the items released.
int64 release_claims(int32 worker_id);

}  // namespace ev::pg
