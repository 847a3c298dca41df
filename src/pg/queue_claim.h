// The queue's claiming side: the worker's claim and the sweep that moves a
// watched table's waiting rows into the queue (the table is its own queue:
// a row with an address and no verdict waits there). The SQL functions
// claim_batch, enqueue_unverified and enqueue_stale are its thin SQL faces.
#pragma once

#include <string>
#include <vector>

#include "pg_prelude.h"
#include "queue_items.h"

namespace ev::pg {

// Claims up to batch_size items for worker_id until now() + lease_seconds:
// expired claims that used up their attempts are given up first; then what
// the queue holds ready (claim_ready_items); when that falls short,
// rows new to the queue, swept in already claimed. Needs a transaction and
// an SPI connection.
std::vector<ClaimedItem> claim_batch(int32 worker_id, int batch_size, int lease_seconds);

// Queues (pending), per watch, up to max_rows rows: stale ones (verdict
// older than recheck_after, oldest first) or unverified ones (an address and
// no verdict, no item for it). Returns the number queued.
int64 sweep_into_queue(int max_rows, bool stale);

}  // namespace ev::pg
