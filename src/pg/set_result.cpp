#include "set_result.h"

#include "guard.h"

namespace ev::pg {

Tuplestorestate* begin_set_result(FunctionCallInfo fcinfo, TupleDesc desc) {
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (!rsinfo || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
        throw UserError(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "set-valued function called in a context that cannot accept a set");
    Tuplestorestate* store = nullptr;
    TupleDesc handed = nullptr;
    pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
        store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
        // The executor frees the descriptor it is given after each call: a
        // copy, so that the caller's (cached for the query) survives a
        // function called again, as LATERAL does once per outer row.
        handed = CreateTupleDescCopy(desc);
        MemoryContextSwitchTo(old);
    });
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = store;
    rsinfo->setDesc = handed;
    return store;
}

TupleDesc text_column_descriptor(const char* name) {
    TupleDesc desc = nullptr;
    pg_call([&] {
        desc = CreateTemplateTupleDesc(1);
        TupleDescInitEntry(desc, 1, name, TEXTOID, -1, 0);
        desc = BlessTupleDesc(desc);
    });
    return desc;
}

}  // namespace ev::pg
