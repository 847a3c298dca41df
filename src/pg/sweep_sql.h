// The statements of the sweep, built from what a watch records: which rows of
// a watched table may be queued (queueable_sql), and the statement that
// queues them (enqueue_sql). The sweep (queue_claim.cpp) builds them here;
// watch() and unqueued_rows() through the SQL functions of the same names
// (sweep_sql_functions.cpp). Every name is quoted here; `source`, `condition`
// and `order_by` are SQL the callers build from quoted names.
//
// Parameters of the statements: $1 the watch id; enqueue_sql also $2 the
// claiming worker, $3 the lease (interval), $4 the level returned with each
// item.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ev::pg {

struct SweepTarget {
    std::string column;                    // the watched column
    std::vector<std::string> key_columns;  // the primary key, in index order
};

struct SweepQuery {
    std::string source;     // a table, or a subquery in parentheses, aliased n
    std::string condition;  // on n
    bool fresh = false;     // nothing of the watch is queued yet: skip the "already queued?" test
    std::optional<std::string> order_by;
    std::optional<int> max_rows;
    bool claim = false;  // insert the items claimed by $2 until now() + $3
};

// The row_key of alias `alias`: jsonb_build_object('col', alias."col", ...).
std::string key_json(const std::vector<std::string>& key_columns, const std::string& alias);

// SELECT $1 AS watch_id, row_key, email of the rows of `source` that have an
// address, meet `condition`, and (unless fresh) have no queue item for the
// same address in any state.
std::string queueable_sql(const SweepTarget& target, const SweepQuery& query);

// Inserts those rows into the queue (pending, or claimed), deleting a pending
// item of the same row for another address (its row's address changed: its
// probe would be wasted); an item a worker is claiming is left to it (SKIP
// LOCKED). Items of the same row are looked up row by row (LATERAL), by key:
// joined the other way round, a queue whose statistics are stale is scanned
// whole for every row queued. Returns the items as the claim does
// (queue_items.h).
std::string enqueue_sql(const SweepTarget& target, const SweepQuery& query);

}  // namespace ev::pg
