// Text in and out of SQL functions: detoasting, NULLs and the conversion
// between the database encoding and the UTF-8 the core works in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pg_prelude.h"

namespace ev::pg {

// Argument n as UTF-8; nullopt for SQL NULL. The view lives as long as the
// call's memory context.
std::optional<std::string_view> text_arg(FunctionCallInfo fcinfo, int n);

// UTF-8 text -> palloc'd text Datum in the database encoding.
Datum text_datum(std::string_view utf8);

// The bytes of a text Datum as UTF-8.
std::string_view text_view(Datum value);

bool bool_arg_or(FunctionCallInfo fcinfo, int n, bool fallback);

}  // namespace ev::pg
