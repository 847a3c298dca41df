// verify_email() and verify_emails(): the SQL face of the verifier.
#include "guard.h"
#include "result_tuple.h"
#include "set_result.h"
#include "text_io.h"
#include "verifier.h"

namespace {

// How often a long batch looks for a cancel request.
constexpr int kInterruptCheckEvery = 256;

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

    MemoryContext per_item = nullptr;
    Datum* elements = nullptr;
    bool* element_nulls = nullptr;
    int count = 0;
    ev::pg::pg_call([&] {
        per_item = AllocSetContextCreate(CurrentMemoryContext, "email_verify item", ALLOCSET_DEFAULT_SIZES);
        if (!PG_ARGISNULL(0)) {
            ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
            deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elements, &element_nulls, &count);
        }
    });

    Datum null_values[ev::pg::kResultColumns] = {};
    bool all_null[ev::pg::kResultColumns];
    for (bool& n : all_null) n = true;

    if (level != ev::Level::Syntax) {
        // Network levels probe the whole array at once (grouped by domain
        // and MX host), then emit the rows in input order.
        std::vector<std::string_view> inputs;
        for (int i = 0; i < count; ++i)
            if (!element_nulls[i]) inputs.push_back(ev::pg::text_view(elements[i]));
        std::vector<ev::VerificationResult> results = ev::pg::verify_addresses(inputs, level);
        std::size_t next = 0;
        for (int i = 0; i < count; ++i) {
            MemoryContext old = MemoryContextSwitchTo(per_item);
            if (element_nulls[i]) {
                ev::pg::pg_call([&] { tuplestore_putvalues(store, desc, null_values, all_null); });
            } else {
                HeapTuple tuple = ev::pg::result_tuple(desc, results[next++]);
                ev::pg::pg_call([&] { tuplestore_puttuple(store, tuple); });
            }
            MemoryContextSwitchTo(old);
            MemoryContextReset(per_item);
        }
        return static_cast<Datum>(0);
    }

    // Input order is kept: SPEC promises one row per input, in order.
    for (int i = 0; i < count; ++i) {
        if (i % kInterruptCheckEvery == 0) ev::pg::check_for_interrupts();
        MemoryContext old = MemoryContextSwitchTo(per_item);
        if (element_nulls[i]) {
            ev::pg::pg_call([&] { tuplestore_putvalues(store, desc, null_values, all_null); });
        } else {
            ev::VerificationResult result = ev::pg::verify_address(ev::pg::text_view(elements[i]), level);
            HeapTuple tuple = ev::pg::result_tuple(desc, result);
            ev::pg::pg_call([&] { tuplestore_puttuple(store, tuple); });
        }
        MemoryContextSwitchTo(old);
        MemoryContextReset(per_item);
    }
    return static_cast<Datum>(0);
}
