#include "result_tuple.h"

#include <algorithm>

#include "guard.h"
#include "text_io.h"

namespace ev::pg {

namespace {

// Seconds between the Unix and the PostgreSQL epochs.
constexpr double kPostgresEpochOffset = 946684800.0;

template <typename T, typename Convert>
void set_optional(Datum* value, bool* isnull, const std::optional<T>& field, Convert convert) {
    *isnull = !field.has_value();
    *value = field ? convert(*field) : static_cast<Datum>(0);
}

Datum bool_datum(bool b) { return BoolGetDatum(b); }
Datum text_of(const std::string& s) { return text_datum(s); }
Datum int_datum(int i) { return Int32GetDatum(i); }

}  // namespace

TupleDesc result_descriptor(FunctionCallInfo fcinfo) {
    TupleDesc desc = nullptr;
    pg_call([&] {
        if (fcinfo->flinfo->fn_extra) {
            desc = static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
            return;
        }
        TupleDesc found;
        if (get_call_result_type(fcinfo, nullptr, &found) != TYPEFUNC_COMPOSITE)
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                     errmsg("function returning email_verify.result called in a context that cannot accept it")));
        if (found->natts != kResultColumns)
            ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                            errmsg("email_verify.result has %d columns, expected %d", found->natts, kResultColumns),
                            errhint("Run ALTER EXTENSION email_verify UPDATE.")));
        MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
        desc = BlessTupleDesc(CreateTupleDescCopy(found));
        MemoryContextSwitchTo(old);
        fcinfo->flinfo->fn_extra = desc;
    });
    return desc;
}

namespace {

// Every column but the email (values[0]).
void verdict_columns(const ev::VerificationResult& r, Datum* values, bool* nulls) {
    set_optional(&values[1], &nulls[1], r.normalized, text_of);
    values[2] = text_datum(ev::to_string(r.status));
    values[3] = text_datum(ev::to_string(r.reason));
    values[4] = text_datum(ev::to_string(r.level));
    set_optional(&values[5], &nulls[5], r.suggestion, text_of);
    set_optional(&values[6], &nulls[6], r.is_disposable, bool_datum);
    set_optional(&values[7], &nulls[7], r.is_role, bool_datum);
    set_optional(&values[8], &nulls[8], r.is_free, bool_datum);
    set_optional(&values[9], &nulls[9], r.is_catch_all, bool_datum);
    set_optional(&values[10], &nulls[10], r.mx_found, bool_datum);
    set_optional(&values[11], &nulls[11], r.mx_host, text_of);
    set_optional(&values[12], &nulls[12], r.smtp_code, int_datum);
    set_optional(&values[13], &nulls[13], r.smtp_message, text_of);
    values[14] = Int32GetDatum(r.score);
    values[15] = TimestampTzGetDatum(timestamptz_from_unix(r.checked_at_unix));
    values[16] = Float8GetDatum(r.duration_ms);
    values[17] = BoolGetDatum(r.from_cache);
}

HeapTuple form_tuple(TupleDesc desc, Datum* values, bool* nulls) {
    HeapTuple tuple = nullptr;
    pg_call([&] { tuple = heap_form_tuple(desc, values, nulls); });
    return tuple;
}

}  // namespace

HeapTuple result_tuple(TupleDesc desc, const ev::VerificationResult& r) {
    Datum values[kResultColumns];
    bool nulls[kResultColumns] = {};
    values[0] = text_datum(r.email);
    verdict_columns(r, values, nulls);
    return form_tuple(desc, values, nulls);
}

HeapTuple result_tuple_of_input(TupleDesc desc, Datum email, const ev::VerificationResult* verdict) {
    Datum values[kResultColumns] = {};
    bool nulls[kResultColumns];
    values[0] = email;
    if (verdict) {
        for (bool& n : nulls) n = false;
        verdict_columns(*verdict, values, nulls);
    } else {
        for (bool& n : nulls) n = true;
    }
    nulls[0] = false;
    return form_tuple(desc, values, nulls);
}

TimestampTz timestamptz_from_unix(double seconds) {
    return static_cast<TimestampTz>((seconds - kPostgresEpochOffset) * 1e6);
}

Datum record_result(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
    Datum result = 0;
    pg_call([&] {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "function returning record called in a context that cannot accept one");
        desc = BlessTupleDesc(desc);
        result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    return result;
}

namespace {

std::optional<std::string> text_field(HeapTupleHeader row, int n) {
    bool isnull = true;
    Datum value = 0;
    pg_call([&] { value = GetAttributeByNum(row, static_cast<AttrNumber>(n), &isnull); });
    if (isnull) return std::nullopt;
    return std::string(text_view(value));
}

template <typename T, typename Convert>
std::optional<T> field(HeapTupleHeader row, int n, Convert convert) {
    bool isnull = true;
    Datum value = 0;
    pg_call([&] { value = GetAttributeByNum(row, static_cast<AttrNumber>(n), &isnull); });
    if (isnull) return std::nullopt;
    return convert(value);
}

bool bool_of(Datum d) { return DatumGetBool(d); }
int int_of(Datum d) { return DatumGetInt32(d); }
double float_of(Datum d) { return DatumGetFloat8(d); }
double unix_of(Datum d) { return static_cast<double>(DatumGetTimestampTz(d)) / 1e6 + kPostgresEpochOffset; }

}  // namespace

std::optional<ev::VerificationResult> result_of_row(HeapTupleHeader row) {
    ev::VerificationResult r;
    auto status = ev::parse_status(text_field(row, 3).value_or(""));
    auto reason = ev::parse_reason(text_field(row, 4).value_or(""));
    auto level = ev::parse_level(text_field(row, 5).value_or(""));
    if (!status || !reason || !level) return std::nullopt;
    r.email = text_field(row, 1).value_or("");
    r.status = *status;
    r.reason = *reason;
    r.level = *level;
    r.normalized = text_field(row, 2);
    r.suggestion = text_field(row, 6);
    r.is_disposable = field<bool>(row, 7, bool_of);
    r.is_role = field<bool>(row, 8, bool_of);
    r.is_free = field<bool>(row, 9, bool_of);
    r.is_catch_all = field<bool>(row, 10, bool_of);
    r.mx_found = field<bool>(row, 11, bool_of);
    r.mx_host = text_field(row, 12);
    r.smtp_code = field<int>(row, 13, int_of);
    r.smtp_message = text_field(row, 14);
    r.score = std::clamp(field<int>(row, 15, int_of).value_or(0), 0, 100);
    r.checked_at_unix = field<double>(row, 16, unix_of).value_or(0);
    r.duration_ms = field<double>(row, 17, float_of).value_or(0);
    r.from_cache = field<bool>(row, 18, bool_of).value_or(false);
    return r;
}

}  // namespace ev::pg
