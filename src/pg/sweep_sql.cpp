// The sweep's statements: see sweep_sql.h.
#include "sweep_sql.h"

#include <algorithm>

#include "spi_plans.h"

namespace ev::pg {

std::string key_json(const std::vector<std::string>& key_columns, const std::string& alias) {
    std::string out = "jsonb_build_object(";
    for (std::size_t i = 0; i < key_columns.size(); ++i) {
        if (i > 0) out += ", ";
        out += quoted_literal(key_columns[i]) + ", " + alias + "." + quoted_identifier(key_columns[i]);
    }
    return out + ")";
}

std::string queueable_sql(const SweepTarget& target, const SweepQuery& query) {
    std::string column = quoted_identifier(target.column);
    std::string sql = "SELECT $1 AS watch_id, k.row_key, k.email FROM " + query.source +
                      " n CROSS JOIN LATERAL (SELECT " + key_json(target.key_columns, "n") + " AS row_key, n." +
                      column + "::text AS email) k WHERE n." + column + " IS NOT NULL AND (" + query.condition + ")";
    if (!query.fresh)
        sql +=
            " AND NOT EXISTS (SELECT FROM email_verify.queue q"
            " WHERE q.watch_id = $1 AND q.row_key = k.row_key AND q.email = k.email)";
    if (query.order_by) sql += " ORDER BY " + *query.order_by;
    if (query.max_rows) sql += " LIMIT " + std::to_string(std::max(*query.max_rows, 0));
    return sql;
}

std::string enqueue_sql(const SweepTarget& target, const SweepQuery& query) {
    std::string sql = "WITH new_items AS (" + queueable_sql(target, query) + ")";
    if (!query.fresh)
        sql +=
            ", superseded AS (DELETE FROM email_verify.queue d"
            " WHERE d.id IN (SELECT o.id FROM new_items i CROSS JOIN LATERAL ("
            "   SELECT q.id FROM email_verify.queue q"
            "   WHERE q.watch_id = $1 AND q.row_key = i.row_key AND q.state = 'pending' AND q.email <> i.email"
            "   FOR UPDATE SKIP LOCKED) o))";
    if (query.claim)
        sql +=
            " INSERT INTO email_verify.queue (watch_id, row_key, email, state, claimed_by, lease_until)"
            " SELECT i.watch_id, i.row_key, i.email, 'claimed', $2, now() + $3";
    else sql += " INSERT INTO email_verify.queue (watch_id, row_key, email) SELECT i.watch_id, i.row_key, i.email";
    return sql + " FROM new_items i RETURNING id, watch_id, row_key, email, $4::text, attempts";
}

}  // namespace ev::pg
