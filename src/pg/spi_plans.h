// Small SPI helpers the queue's C++ (queue_claim, verdict_write_back) shares:
// plans prepared once and kept, quoting, reading a cell as text. Each makes
// its PostgreSQL calls through pg_call.
#pragma once

#include <optional>
#include <string>

#include "pg_prelude.h"

namespace ev::pg {

// Prepares sql and keeps the plan for the life of the backend.
SPIPlanPtr keep_plan(const char* sql, int nargs, Oid* types);

// quote_identifier / quote_literal.
std::string quoted_identifier(const std::string& name);
std::string quoted_literal(const std::string& value);

// SPI_connect / SPI_finish for the SQL faces of the queue.
void connect_spi();
void finish_spi();

// The text of a cell of an SPI result; nullopt for NULL.
std::optional<std::string> cell_text(SPITupleTable* table, uint64 row, int column);

}  // namespace ev::pg
