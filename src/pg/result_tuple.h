// A core VerificationResult as a row of type email_verify.result.
#pragma once

#include <optional>

#include "pg_prelude.h"
#include "verification_result.h"

namespace ev::pg {

constexpr int kResultColumns = 18;

// The blessed descriptor of the function's composite result, cached in
// fn_extra for the rest of the query.
TupleDesc result_descriptor(FunctionCallInfo fcinfo);

HeapTuple result_tuple(TupleDesc desc, const ev::VerificationResult& result);

// The row of one input of a bulk job: its email as given (a text Datum) and
// the rest from its address's verdict, all NULL without one.
HeapTuple result_tuple_of_input(TupleDesc desc, Datum email, const ev::VerificationResult* verdict);

// A row of type email_verify.result as a verdict (its email too); nullopt
// when its status, reason or level is not one this build knows.
std::optional<ev::VerificationResult> result_of_row(HeapTupleHeader row);

// Seconds since the Unix epoch as a timestamptz.
TimestampTz timestamptz_from_unix(double seconds);

// One row of the function's declared record type (OUT parameters) from
// values and nulls, as a Datum to return.
Datum record_result(FunctionCallInfo fcinfo, Datum* values, bool* nulls);

}  // namespace ev::pg
