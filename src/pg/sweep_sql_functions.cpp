// The SQL faces of the sweep's statement builder (sweep_sql.h), for watch()
// and unqueued_rows():
//   queueable_sql(w email_verify.watches, source text, condition text,
//                 fresh boolean, order_by text, max_rows int) -> text
//   enqueue_sql(w, source, condition, fresh, order_by, max_rows, claim boolean) -> text
#include "guard.h"
#include "spi_plans.h"
#include "sweep_sql.h"

namespace {

// What the builder needs of the watches row w (argument 0).
ev::pg::SweepTarget target_of(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0)) throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "the watch must not be NULL");
    const char* column = nullptr;
    Datum keys = 0;
    bool keys_null = true;
    ev::pg::pg_call([&] {
        HeapTupleHeader w = PG_GETARG_HEAPTUPLEHEADER(0);
        bool isnull = false;
        Datum name = GetAttributeByName(w, "column_name", &isnull);
        if (isnull) elog(ERROR, "email_verify: a watch without a column");
        column = pstrdup(NameStr(*DatumGetName(name)));
        keys = GetAttributeByName(w, "key_columns", &keys_null);
    });
    ev::pg::SweepTarget target;
    target.column = column;
    if (!keys_null) target.key_columns = ev::pg::name_array(keys);
    return target;
}

std::string text_arg_or_empty(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) return "";
    const char* value = nullptr;
    ev::pg::pg_call([&] { value = TextDatumGetCString(PG_GETARG_DATUM(n)); });
    return value;
}

ev::pg::SweepQuery query_of(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
        throw ev::pg::UserError(ERRCODE_NULL_VALUE_NOT_ALLOWED, "source and condition must not be NULL");
    ev::pg::SweepQuery query;
    query.source = text_arg_or_empty(fcinfo, 1);
    query.condition = text_arg_or_empty(fcinfo, 2);
    query.fresh = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
    if (!PG_ARGISNULL(4)) query.order_by = text_arg_or_empty(fcinfo, 4);
    if (!PG_ARGISNULL(5)) query.max_rows = PG_GETARG_INT32(5);
    return query;
}

}  // namespace

EV_SQL_FUNCTION(queueable_sql) {
    return ev::pg::text_value(ev::pg::queueable_sql(target_of(fcinfo), query_of(fcinfo)));
}

EV_SQL_FUNCTION(enqueue_sql) {
    ev::pg::SweepQuery query = query_of(fcinfo);
    query.claim = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
    return ev::pg::text_value(ev::pg::enqueue_sql(target_of(fcinfo), query));
}
