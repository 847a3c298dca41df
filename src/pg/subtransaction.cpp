#include "subtransaction.h"

namespace ev::pg {

std::optional<SubtransactionError> in_subtransaction(const std::function<void()>& body) {
    MemoryContext context = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    pg_call([] { BeginInternalSubTransaction(nullptr); });
    // The body's allocations belong to the caller, as in PL/pgSQL.
    MemoryContextSwitchTo(context);
    try {
        body();
    } catch (const PgError& e) {
        MemoryContextSwitchTo(context);
        pg_call([] { RollbackAndReleaseCurrentSubTransaction(); });
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
        int code = e.data() ? e.data()->sqlerrcode : ERRCODE_INTERNAL_ERROR;
        if (code == ERRCODE_QUERY_CANCELED || code == ERRCODE_ADMIN_SHUTDOWN) throw;
        return SubtransactionError{code, e.what()};
    } catch (...) {
        MemoryContextSwitchTo(context);
        pg_call([] { RollbackAndReleaseCurrentSubTransaction(); });
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
        throw;
    }
    pg_call([] { ReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
    return std::nullopt;
}

}  // namespace ev::pg
