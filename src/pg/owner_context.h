// The one way the extension runs code of a table's owner (its triggers,
// index expressions, domain checks, casts) from a privileged path: the
// worker's write-back. See owner_context.cpp.
#pragma once

#include <functional>

#include "pg_prelude.h"

namespace ev::pg {

// Runs body as the owner of relid inside a security-restricted operation,
// with a new GUC nest level and search_path pg_catalog, pg_temp, under the
// write-back watchdog of watch_id; everything is restored on the way out,
// error or not. body makes its PostgreSQL calls through pg_call.
void run_as_table_owner(Oid relid, int32 watch_id, const std::function<void()>& body);

}  // namespace ev::pg
