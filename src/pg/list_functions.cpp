// SQL side of the user-editable risk lists (table email_verify.list_entries).
#include <string>

#include "embedded_lists.h"
#include "guard.h"
#include "list_cache.h"
#include "risk_lists.h"
#include "set_result.h"
#include "text.h"
#include "text_io.h"

namespace {

ev::ListKind list_kind_arg(FunctionCallInfo fcinfo) {
    std::string_view name = *ev::pg::text_arg(fcinfo, 0);
    ev::ListKind kind;
    if (!ev::parse_list_kind(name, &kind))
        throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE, "unknown list \"" + std::string(name) + "\"",
                                "The lists are 'disposable', 'free' and 'role'.");
    return kind;
}

}  // namespace

// CHECK constraint of list_entries: would this entry take part in lookups?
EV_SQL_FUNCTION(list_entry_is_valid) {
    ev::ListKind kind;
    if (!ev::parse_list_kind(*ev::pg::text_arg(fcinfo, 0), &kind)) PG_RETURN_BOOL(false);
    ev::RiskLists scratch;
    PG_RETURN_BOOL(scratch.add_override(kind, *ev::pg::text_arg(fcinfo, 1), true));
}

// The entries shipped with this build, for inspection.
EV_SQL_FUNCTION(shipped_list) {
    ev::ListKind kind = list_kind_arg(fcinfo);
    std::string_view lines = kind == ev::ListKind::Disposable ? ev::embedded::disposable_domains()
                             : kind == ev::ListKind::Free     ? ev::embedded::free_domains()
                                                              : ev::embedded::role_local_parts();
    TupleDesc desc = ev::pg::text_column_descriptor("entry");
    Tuplestorestate* store = ev::pg::begin_set_result(fcinfo, desc);
    ev::text::for_each_line(lines, [&](std::string_view line) {
        Datum value = ev::pg::text_datum(line);
        bool isnull = false;
        ev::pg::pg_call([&] { tuplestore_putvalues(store, desc, &value, &isnull); });
    });
    return static_cast<Datum>(0);
}

// Statement trigger on list_entries: tells every backend's list cache (and
// this one's, at the next command) that the table changed.
EV_SQL_FUNCTION(list_entries_changed) {
    ev::pg::pg_call([&] {
        if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "list_entries_changed: not called as a trigger");
        auto* trigger_data = reinterpret_cast<TriggerData*>(fcinfo->context);
        CacheInvalidateRelcache(trigger_data->tg_relation);
    });
    return PointerGetDatum(nullptr);
}
