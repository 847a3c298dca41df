// The background workers' transactions: each step inside pg_call, so that
// an error comes back as a PgError (guard.h). A worker opens one only
// around its database work, never across network I/O.
#pragma once

namespace ev::pg {

// Starts a transaction with an SPI connection, a snapshot and the worker's
// statement timeout.
void begin_transaction();
void commit_transaction();
// Rolls back whatever is open (after a PgError).
void abort_transaction();

}  // namespace ev::pg
