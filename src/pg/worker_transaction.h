// The background workers' transactions: each step inside pg_call, so that
// an error comes back as a PgError (guard.h). A worker opens one only
// around its database work, never across network I/O.
#pragma once

#include <string>
#include <vector>

namespace ev::pg {

// Starts a transaction with an SPI connection, a snapshot and the worker's
// statement timeout.
void begin_transaction();
void commit_transaction();
// Rolls back whatever is open (after a PgError).
void abort_transaction();

// Runs sql with text parameters (NULL-free) inside the open transaction;
// returns the rows as strings.
std::vector<std::vector<std::string>> query(const char* sql, const std::vector<std::string>& params = {});

}  // namespace ev::pg
