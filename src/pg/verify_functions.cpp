// verify_email() and verify_emails(): the SQL face of the verifier.
#include <algorithm>
#include <string_view>
#include <vector>

#include "consumer_limits.h"
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
    if (level != ev::Level::Syntax) ev::pg::require_consumer_checks(1);
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

    // Holds a slice's converted inputs and tuples until they are stored. The
    // array is read with an iterator, a slice at a time: no copy of its
    // elements is made, so the backend holds the input, one slice and the
    // tuplestore (which spills to disk past work_mem), however long the array.
    MemoryContext per_slice = nullptr;
    ArrayIterator iterator = nullptr;
    int count = 0;
    std::int64_t addresses = 0;  // non-NULL elements, at a network level
    ev::pg::pg_call([&] {
        // PostgreSQL's own size macro multiplies in int.
        // NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result)
        per_slice = AllocSetContextCreate(CurrentMemoryContext, "email_verify slice", ALLOCSET_DEFAULT_SIZES);
        if (!PG_ARGISNULL(0)) {
            ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
            count = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
            iterator = array_create_iterator(array, 0, nullptr);
            if (level != ev::Level::Syntax) {
                bits8* nullmap = ARR_NULLBITMAP(array);
                for (int k = 0; k < count; ++k)
                    if (!nullmap || (nullmap[k / 8] & (1 << (k % 8))) != 0) ++addresses;
            }
        }
    });
    // All the call's addresses or none.
    ev::pg::require_consumer_checks(addresses);

    Datum null_values[ev::pg::kResultColumns] = {};
    bool all_null[ev::pg::kResultColumns];
    for (bool& n : all_null) n = true;

    // Input order is kept: one row per input, in order (see the README).
    int slice = level == ev::Level::Syntax ? kSyntaxSlice : std::max(count, 1);
    std::vector<Datum> elements(static_cast<std::size_t>(std::min(slice, std::max(count, 1))));
    std::vector<bool> element_nulls(elements.size());
    for (int first = 0; first < count; first += slice) {
        int n = std::min(slice, count - first);
        ev::pg::pg_call([&] {
            for (int k = 0; k < n; ++k) {
                bool isnull = false;
                if (!array_iterate(iterator, &elements[k], &isnull)) elog(ERROR, "email_verify: the array ended early");
                element_nulls[k] = isnull;
            }
        });
        MemoryContext old = MemoryContextSwitchTo(per_slice);
        std::vector<std::string_view> inputs;
        for (int k = 0; k < n; ++k)
            if (!element_nulls[k]) inputs.push_back(ev::pg::text_view(elements[k]));
        // Polls for cancel and statement_timeout while it works.
        std::vector<ev::VerificationResult> results = ev::pg::verify_addresses(inputs, level);
        std::size_t next = 0;
        for (int k = 0; k < n; ++k) {
            if (element_nulls[k]) {
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
