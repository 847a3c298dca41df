// verify_email() and verify_emails(): the SQL face of the verifier.
#include <algorithm>
#include <string_view>
#include <vector>

#include "guard.h"
#include "result_tuple.h"
#include "set_result.h"
#include "text_io.h"
#include "verifier.h"

namespace {

// Level syntax answers an array in slices of this many (memory stays small
// however long the array); the network levels take the whole array at once,
// so that its domains and MX hosts are probed concurrently.
constexpr int kSyntaxSlice = 256;

}  // namespace

EV_SQL_FUNCTION(verify_email) {
    auto input = ev::pg::text_arg(fcinfo, 0);
    if (!input) PG_RETURN_NULL();
    ev::Level level = ev::pg::level_arg(fcinfo, 1);
    TupleDesc desc = ev::pg::result_descriptor(fcinfo);
    ev::VerificationResult result = ev::pg::verify_address(*input, level);
    HeapTuple tuple = ev::pg::result_tuple(desc, result);
    Datum datum = 0;
    ev::pg::pg_call([&] { datum = HeapTupleGetDatum(tuple); });
    return datum;
}

EV_SQL_FUNCTION(verify_emails) {
    ev::Level level = ev::pg::level_arg(fcinfo, 1);
    TupleDesc desc = ev::pg::result_descriptor(fcinfo);
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);

    // Holds a slice's converted inputs and tuples until they are stored.
    MemoryContext per_slice = nullptr;
    Datum* elements = nullptr;
    bool* element_nulls = nullptr;
    int count = 0;
    ev::pg::pg_call([&] {
        per_slice = AllocSetContextCreate(CurrentMemoryContext, "email_verify slice", ALLOCSET_DEFAULT_SIZES);
        if (!PG_ARGISNULL(0)) {
            ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
            deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elements, &element_nulls, &count);
        }
    });

    Datum null_values[ev::pg::kResultColumns] = {};
    bool all_null[ev::pg::kResultColumns];
    for (bool& n : all_null) n = true;

    // Input order is kept: SPEC promises one row per input, in order.
    int slice = level == ev::Level::Syntax ? kSyntaxSlice : std::max(count, 1);
    for (int first = 0; first < count; first += slice) {
        int last = std::min(count, first + slice);
        MemoryContext old = MemoryContextSwitchTo(per_slice);
        std::vector<std::string_view> inputs;
        for (int i = first; i < last; ++i)
            if (!element_nulls[i]) inputs.push_back(ev::pg::text_view(elements[i]));
        // Polls for cancel and statement_timeout while it works.
        std::vector<ev::VerificationResult> results = ev::pg::verify_addresses(inputs, level);
        std::size_t next = 0;
        for (int i = first; i < last; ++i) {
            if (element_nulls[i]) {
                ev::pg::pg_call([&] { tuplestore_putvalues(store, desc, null_values, all_null); });
            } else {
                HeapTuple tuple = ev::pg::result_tuple(desc, results[next++]);
                ev::pg::pg_call([&] { tuplestore_puttuple(store, tuple); });
            }
        }
        MemoryContextSwitchTo(old);
        MemoryContextReset(per_slice);
    }
    return static_cast<Datum>(0);
}
