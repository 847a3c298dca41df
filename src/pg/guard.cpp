#include "guard.h"

#include <cstdio>
#include <new>

namespace ev::pg {

const char* PgError::what() const noexcept { return data_ && data_->message ? data_->message : "PostgreSQL error"; }

void run_guarded(void (*fn)(void*), void* arg) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    PG_TRY();
    { fn(arg); }
    PG_CATCH();
    {
        // CopyErrorData must not allocate in ErrorContext, which FlushErrorState resets.
        MemoryContextSwitchTo(caller_context);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (error) throw PgError(error);
}

void check_for_interrupts() {
    if (!INTERRUPTS_PENDING_CONDITION()) return;
    pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

Datum call_guarded(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) {
    // Everything needed to raise the error is copied into plain locals, so
    // that ereport's longjmp leaves no C++ object behind in this frame.
    ErrorData* pg_error = nullptr;
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[1024];
    char hint[512];
    hint[0] = '\0';
    try {
        return body(fcinfo);
    } catch (const PgError& e) {
        pg_error = e.data();
    } catch (const UserError& e) {
        sqlstate = e.sqlstate();
        snprintf(message, sizeof message, "%s", e.what());
        snprintf(hint, sizeof hint, "%s", e.hint().c_str());
    } catch (const std::bad_alloc&) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        snprintf(message, sizeof message, "out of memory in email_verify");
    } catch (const std::exception& e) {
        snprintf(message, sizeof message, "email_verify internal error: %s", e.what());
    } catch (...) {
        snprintf(message, sizeof message, "email_verify internal error: unknown exception");
    }
    if (pg_error) ReThrowError(pg_error);
    ereport(ERROR, (errcode(sqlstate), errmsg("%s", message), hint[0] ? errhint("%s", hint) : 0));
    pg_unreachable();
}

}  // namespace ev::pg
