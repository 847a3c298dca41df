// Set-returning functions here all materialise their rows into a tuplestore.
#pragma once

#include "pg_prelude.h"

namespace ev::pg {

// Checks the caller accepts a materialised set, creates the tuplestore in
// per-query memory and hands it to the executor. Throws UserError otherwise.
Tuplestorestate* begin_set_result(FunctionCallInfo fcinfo, TupleDesc desc);

// A one-column descriptor for SETOF text results.
TupleDesc text_column_descriptor(const char* name);

}  // namespace ev::pg
