// The one boundary between C++ and PostgreSQL error handling.
//
// PostgreSQL reports errors with longjmp; C++ with exceptions. Neither may
// cross the other: a longjmp over a C++ frame skips its destructors, and an
// exception that reaches PostgreSQL's C frames terminates the backend.
//
//  * EV_SQL_FUNCTION defines every SQL-callable entry point. Its body is C++;
//    any exception leaving it is turned into ereport(ERROR) only after every
//    C++ frame has been unwound.
//  * pg_call() runs PostgreSQL code that may ereport(ERROR) from C++. The error
//    is caught by sigsetjmp right there and rethrown as PgError, so it unwinds
//    the C++ frames normally and is re-raised, unchanged, at the boundary.
//    The callable given to pg_call must not own objects with destructors
//    (its own frame is the one the longjmp leaves).
#pragma once

#include <exception>
#include <string>

#include "pg_prelude.h"

namespace ev::pg {

// A PostgreSQL error travelling through C++ frames.
class PgError : public std::exception {
  public:
    explicit PgError(ErrorData* data) : data_(data) {}
    ErrorData* data() const { return data_; }
    const char* what() const noexcept override;

  private:
    ErrorData* data_;
};

// An error our C++ code raises for the user; becomes ereport(ERROR).
class UserError : public std::exception {
  public:
    UserError(int sqlstate, std::string message, std::string hint = {})
        : sqlstate_(sqlstate), message_(std::move(message)), hint_(std::move(hint)) {}
    int sqlstate() const { return sqlstate_; }
    const std::string& hint() const { return hint_; }
    const char* what() const noexcept override { return message_.c_str(); }

  private:
    int sqlstate_;
    std::string message_;
    std::string hint_;
};

// Runs fn(arg); a PostgreSQL error inside becomes a thrown PgError.
void run_guarded(void (*fn)(void*), void* arg);

template <typename F>
void pg_call(F&& f) {
    run_guarded([](void* p) { (*static_cast<std::remove_reference_t<F>*>(p))(); }, &f);
}

// The boundary for SQL-callable functions; see EV_SQL_FUNCTION.
Datum call_guarded(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo);

// CHECK_FOR_INTERRUPTS from C++: a cancel or terminate request becomes a PgError.
void check_for_interrupts();

}  // namespace ev::pg

// Defines SQL-callable function `name`; the braces that follow are its C++ body.
#define EV_SQL_FUNCTION(name)                                                          \
    static Datum name##_body(FunctionCallInfo fcinfo);                                 \
    extern "C" {                                                                       \
    PG_FUNCTION_INFO_V1(name);                                                         \
    Datum name(PG_FUNCTION_ARGS) { return ev::pg::call_guarded(name##_body, fcinfo); } \
    }                                                                                  \
    static Datum name##_body(FunctionCallInfo fcinfo)
