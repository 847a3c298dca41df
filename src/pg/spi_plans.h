// Small SPI helpers the queue's and the jobs' C++ share: plans prepared once
// and kept, arrays, bytea, quoting, reading a cell as text. Each makes its
// PostgreSQL calls through pg_call.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg_prelude.h"

namespace ev::pg {

// Prepares sql and keeps the plan for the life of the backend.
SPIPlanPtr keep_plan(const char* sql, int nargs, Oid* types);

// Runs a kept plan (read-write); returns SPI_processed, SPI_tuptable stays
// for the caller.
uint64 run_kept_plan(SPIPlanPtr plan, Datum* values, const char* nulls = nullptr);

// The elements of a name[] Datum, NULL elements left out.
std::vector<std::string> name_array(Datum array);

// The elements of an array Datum, of the element type the array names,
// NULL elements marked in nulls (all palloc'd in the current memory context).
struct ArrayElements {
    Datum* values = nullptr;
    bool* nulls = nullptr;
    int count = 0;
};
ArrayElements array_elements(Datum array);

// A one-dimensional array of element_type; nulls[i] marks values[i] NULL
// (nulls may be shorter, or empty).
Datum make_array(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type);

// A text Datum of s's bytes as they are (already in the database encoding:
// they came from the database, or are ASCII).
Datum text_value(const std::string& s);

// A bytea Datum of the bytes.
Datum bytea_value(std::string_view bytes);

// quote_identifier / quote_literal.
std::string quoted_identifier(const std::string& name);
std::string quoted_literal(const std::string& value);

// SPI_connect / SPI_finish for the SQL faces of the queue.
void connect_spi();
void finish_spi();

// The text of a cell of an SPI result; nullopt for NULL.
std::optional<std::string> cell_text(SPITupleTable* table, uint64 row, int column);

}  // namespace ev::pg
