// sync_verdict(): the inline check of a sync watch, called by its trigger
// (email_verify_internal.watch_check), which runs as the writer of the row.
//
// Only the probe needs more than the writer has: a dns-level check sends
// traffic on the server's behalf, a right that was checked when watch() was
// called. So the trigger reads the address and writes the verdict into the
// row with the writer's identity (a domain on a column, a cast of the owner's
// run with the writer's privileges), and this function lends the probe alone:
// it checks that the current user, the writer (who cannot forge it), may write
// the table, then calls email_verify_internal.sync_probe, a SECURITY DEFINER function
// nobody may call directly, through fmgr (which checks no EXECUTE right).
// Anyone allowed to write the table could get the same probe by writing a
// row, so the function lends nothing more than the trigger does.
#include "guard.h"  // first: it brings postgres.h

namespace {

// Whether user may INSERT or UPDATE relid or a partitioned ancestor of it
// (a row routed into a partition fires the partition's trigger), on the
// table or on column col.
bool may_write(Oid relid, const char* col, Oid user) {
    bool allowed = false;
    ev::pg::pg_call([&] {
        List* tables = lappend_oid(get_partition_ancestors(relid), relid);
        ListCell* cell;
        foreach (cell, tables) {
            Oid table = lfirst_oid(cell);
            if (pg_class_aclmask(table, user, ACL_INSERT | ACL_UPDATE, ACLMASK_ANY) != 0) {
                allowed = true;
                break;
            }
            AttrNumber attnum = get_attnum(table, col);
            if (attnum != InvalidAttrNumber &&
                pg_attribute_aclmask(table, attnum, user, ACL_INSERT | ACL_UPDATE, ACLMASK_ANY) != 0) {
                allowed = true;
                break;
            }
        }
    });
    return allowed;
}

Oid sync_probe_function() {
    Oid fn = InvalidOid;
    ev::pg::pg_call([&] {
        fn = DatumGetObjectId(DirectFunctionCall1(
            to_regprocedure, CStringGetTextDatum("email_verify_internal.sync_probe(pg_catalog.regclass,pg_catalog.name,"
                                                 "pg_catalog.text,pg_catalog.oid)")));
        if (!OidIsValid(fn)) elog(ERROR, "email_verify: function sync_probe is missing");
    });
    return fn;
}

}  // namespace

// sync_verdict(rel regclass, col name, address text) -> email_verify_internal.sync_verdict
EV_SQL_FUNCTION(sync_verdict) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "table and column must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    const char* col = NameStr(*PG_GETARG_NAME(1));
    if (!may_write(relid, col, GetUserId()))
        throw ev::pg::UserError(ERRCODE_INSUFFICIENT_PRIVILEGE,
                                "permission denied: sync_verdict is for the triggers of a sync watch",
                                "Only a role that may write the watched table gets its inline check.");
    Oid fn = sync_probe_function();
    Datum result = 0;
    bool isnull = false;
    ev::pg::pg_call([&] {
        LOCAL_FCINFO(call, 4);
        FmgrInfo flinfo;
        fmgr_info(fn, &flinfo);
        InitFunctionCallInfoData(*call, &flinfo, 4, InvalidOid, nullptr, nullptr);
        call->args[0].value = PG_GETARG_DATUM(0);
        call->args[0].isnull = false;
        call->args[1].value = PG_GETARG_DATUM(1);
        call->args[1].isnull = false;
        call->args[2].value = PG_ARGISNULL(2) ? 0 : PG_GETARG_DATUM(2);
        call->args[2].isnull = PG_ARGISNULL(2);
        // The writer, whose check limit the inline check draws on.
        call->args[3].value = ObjectIdGetDatum(GetUserId());
        call->args[3].isnull = false;
        result = FunctionCallInvoke(call);
        isnull = call->isnull;
    });
    if (isnull) PG_RETURN_NULL();
    return result;
}
