// run_as_table_owner(): how the worker's write-back (verdict_write_back.cpp)
// runs the code of a table's owner.
//
// It does what CREATE INDEX and VACUUM do before they evaluate a user's
// expressions:
//   * SetUserIdAndSecContext(owner, ... | SECURITY_RESTRICTED_OPERATION):
//     the statement runs with the owner's privileges, and the restricted
//     operation refuses SET ROLE, RESET ROLE, SET SESSION AUTHORIZATION (and
//     set_config of either), temporary objects and deferred triggers, so that
//     nothing can climb back to the worker's own identity or leave code to
//     run after the switch is undone;
//   * a new GUC nest level with a pinned search_path, unwound afterwards
//     with every setting the owner's code changed, even with a plain SET (a
//     session-level search_path left behind would steer the worker's next
//     statements into the owner's schema).
// The previous identity is restored on the way out, error or not; an error
// also aborts the (sub)transaction, which would restore both anyway. The
// statement runs under the write-back watchdog (write_back_watchdog.h).
#include "owner_context.h"

#include "guard.h"
#include "guc_scope.h"
#include "write_back_watchdog.h"

namespace ev::pg {

namespace {

// The owner of relation relid; a clear error when it is gone.
Oid table_owner(Oid relid) {
    Oid owner = InvalidOid;
    pg_call([&] {
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
        owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
    });
    return owner;
}

}  // namespace

void run_as_table_owner(Oid relid, int32 watch_id, const std::function<void()>& body) {
    Oid owner = table_owner(relid);
    Oid saved_user = InvalidOid;
    int saved_context = 0;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(owner, saved_context | SECURITY_RESTRICTED_OPERATION);
    watchdog_arm(watch_id);
    try {
        with_settings({{"search_path", "pg_catalog, pg_temp"}}, body);
    } catch (...) {
        watchdog_disarm();
        SetUserIdAndSecContext(saved_user, saved_context);
        throw;
    }
    watchdog_disarm();
    SetUserIdAndSecContext(saved_user, saved_context);
}

}  // namespace ev::pg
