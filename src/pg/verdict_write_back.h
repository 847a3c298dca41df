// The one place where verdicts are written back to the watched rows, and
// where the queue items of a write-back end (src/core/queue/item_lifecycle.h).
// The worker hands it typed verdicts; email_verify_internal.apply_verdicts(jsonb) is
// its SQL face, for tests and tools.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg_prelude.h"
#include "verdict.h"

namespace ev::pg {

struct VerdictToWrite {
    int64 queue_id = 0;
    int32 watch_id = 0;
    std::string row_key;  // the item's row_key, as JSON text
    std::string email;    // the address the verdict is for
    std::string status;
    std::optional<std::string> reason;
    std::optional<bool> catch_all;
    std::optional<TimestampTz> checked_at;  // none: now()
    std::optional<ev::Level> level;         // the level the item was claimed at; none: the watch's
};

// Writes the verdicts to their rows, one set-based UPDATE per watch as the
// table's owner (run_as_table_owner), matching each row by primary key and by
// the address the verdict is for; settles every item: deleted when written or
// when its row is gone, back to pending without an attempt when a writer
// holds the row, the watch is suspended or its level was raised meanwhile,
// failed with the error when the row cannot be written. Needs a transaction
// and an SPI connection. Returns the rows written.
uint64 write_verdicts(const std::vector<VerdictToWrite>& verdicts);

}  // namespace ev::pg
