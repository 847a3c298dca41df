#include "text_io.h"

#include "guard.h"

namespace ev::pg {

namespace {

// SQL_ASCII carries bytes unchanged; the core then judges them as UTF-8.
bool needs_conversion() {
    int encoding = GetDatabaseEncoding();
    return encoding != PG_UTF8 && encoding != PG_SQL_ASCII;
}

}  // namespace

std::string_view text_view(Datum value) {
    const char* data = nullptr;
    std::size_t size = 0;
    pg_call([&] {
        text* t = DatumGetTextPP(value);
        const char* raw = VARDATA_ANY(t);
        int len = VARSIZE_ANY_EXHDR(t);
        if (needs_conversion()) {
            // Returns its input when nothing needed converting, else a new
            // terminated string.
            const char* converted = pg_server_to_any(raw, len, PG_UTF8);
            if (converted != raw) len = static_cast<int>(strlen(converted));
            raw = converted;
        }
        data = raw;
        size = static_cast<std::size_t>(len);
    });
    return {data, size};
}

std::optional<std::string_view> text_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return std::nullopt;
    return text_view(PG_GETARG_DATUM(n));
}

Datum text_datum(std::string_view utf8) {
    Datum result = 0;
    pg_call([&] {
        const char* data = utf8.data();
        int len = static_cast<int>(utf8.size());
        if (needs_conversion()) {
            const char* converted = pg_any_to_server(data, len, PG_UTF8);
            if (converted != data) len = static_cast<int>(strlen(converted));
            data = converted;
        }
        result = PointerGetDatum(cstring_to_text_with_len(data, len));
    });
    return result;
}

bool bool_arg_or(FunctionCallInfo fcinfo, int n, bool fallback) {
    if (PG_NARGS() <= n || PG_ARGISNULL(n)) return fallback;
    return PG_GETARG_BOOL(n);
}

}  // namespace ev::pg
