// run_as_table_owner(): the one way the extension runs code of a table's
// owner (its triggers, index expressions, domain checks, casts) from a
// privileged path such as the worker's write-back.
//
// It does what CREATE INDEX and VACUUM do before they evaluate a user's
// expressions (src/backend/commands/indexcmds.c, vacuum.c):
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
#include "guard.h"  // first: it brings postgres.h
#include "write_back_watchdog.h"

extern "C" {
#include "utils/syscache.h"
}

namespace {

// The owner of relation relid; a clear error when it is gone.
Oid table_owner(Oid relid) {
    Oid owner = InvalidOid;
    ev::pg::pg_call([&] {
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
        owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
    });
    return owner;
}

// Runs statement with $1 = verdicts (jsonb) and $2 = watch_id (int4); the
// statement returns one row of one jsonb value, copied out of SPI's memory
// (NULL when it returns none).
Datum execute_statement(const char* statement, Datum verdicts, int32 watch_id, bool* isnull) {
    Datum result = 0;
    *isnull = true;
    ev::pg::pg_call([&] {
        Oid types[2] = {JSONBOID, INT4OID};
        Datum values[2] = {verdicts, Int32GetDatum(watch_id)};
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "email_verify: SPI_connect failed");
        int rc = SPI_execute_with_args(statement, 2, types, values, nullptr, false, 0);
        if (rc < 0) elog(ERROR, "email_verify: the write-back statement failed (SPI %d)", rc);
        if (SPI_processed == 1 && SPI_tuptable && SPI_tuptable->tupdesc->natts == 1 &&
            SPI_gettypeid(SPI_tuptable->tupdesc, 1) == JSONBOID) {
            Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
            if (!*isnull) result = SPI_datumTransfer(d, false, -1);
        }
        SPI_finish();
    });
    return result;
}

}  // namespace

// run_as_table_owner(tbl regclass, statement text, verdicts jsonb, watch_id int) -> jsonb
EV_SQL_FUNCTION(run_as_table_owner) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
        throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "arguments of run_as_table_owner must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    char* statement = text_to_cstring(PG_GETARG_TEXT_PP(1));
    Datum verdicts = PG_GETARG_DATUM(2);
    int32 watch_id = PG_GETARG_INT32(3);
    Oid owner = table_owner(relid);

    Oid saved_user = InvalidOid;
    int saved_context = 0;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(owner, saved_context | SECURITY_RESTRICTED_OPERATION);
    int nest_level = NewGUCNestLevel();
    Datum result = 0;
    bool isnull = true;
    ev::pg::watchdog_arm(watch_id);
    try {
        ev::pg::pg_call([] {
            (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                                    GUC_ACTION_SAVE, true, 0, false);
        });
        result = execute_statement(statement, verdicts, watch_id, &isnull);
    } catch (...) {
        ev::pg::watchdog_disarm();
        AtEOXact_GUC(false, nest_level);
        SetUserIdAndSecContext(saved_user, saved_context);
        throw;
    }
    ev::pg::watchdog_disarm();
    AtEOXact_GUC(false, nest_level);
    SetUserIdAndSecContext(saved_user, saved_context);
    if (isnull) PG_RETURN_NULL();
    PG_RETURN_DATUM(result);
}
