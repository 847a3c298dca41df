#include "spi_plans.h"

#include "guard.h"
#include "guc_scope.h"

namespace ev::pg {

SPIPlanPtr keep_plan(const char* sql, int nargs, Oid* types) {
    SPIPlanPtr plan = nullptr;
    // The plan keeps the search_path it was prepared under, also when it is
    // planned again: names and operators resolve in pg_catalog whoever calls.
    with_settings({{"search_path", "pg_catalog, pg_temp"}}, [&] {
        pg_call([&] {
            plan = SPI_prepare(sql, nargs, types);
            if (!plan) elog(ERROR, "email_verify: could not prepare: %s", SPI_result_code_string(SPI_result));
            if (SPI_keepplan(plan) != 0) elog(ERROR, "email_verify: could not keep a plan");
        });
    });
    return plan;
}

uint64 run_kept_plan(SPIPlanPtr plan, Datum* values, const char* nulls) {
    uint64 rows = 0;
    pg_call([&] {
        if (SPI_execute_plan(plan, values, nulls, false, 0) < 0) elog(ERROR, "email_verify: a queue statement failed");
        rows = SPI_processed;
    });
    return rows;
}

std::vector<std::string> name_array(Datum array) {
    Datum* names = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_call([&] {
        deconstruct_array(DatumGetArrayTypeP(array), NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &names, &nulls,
                          &count);
    });
    std::vector<std::string> out;
    for (int i = 0; i < count; ++i)
        if (!nulls[i]) out.emplace_back(NameStr(*DatumGetName(names[i])));
    return out;
}

ArrayElements array_elements(Datum array) {
    ArrayElements e;
    pg_call([&] {
        ArrayType* a = DatumGetArrayTypeP(array);
        int16 length = 0;
        bool by_value = false;
        char align = 0;
        get_typlenbyvalalign(ARR_ELEMTYPE(a), &length, &by_value, &align);
        deconstruct_array(a, ARR_ELEMTYPE(a), length, by_value, align, &e.values, &e.nulls, &e.count);
    });
    return e;
}

Datum make_array(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type) {
    // Copies made out here: no object with a destructor may live in a frame
    // an error's longjmp leaves (guard.h).
    std::vector<Datum> elements(values);  // construct_md_array takes non-const pointers
    std::vector<char> null_flags(values.size() + 1, 0);
    for (std::size_t i = 0; i < nulls.size() && i < values.size(); ++i) null_flags[i] = nulls[i] ? 1 : 0;
    Datum array = 0;
    pg_call([&] {
        int16 length;
        bool by_value;
        char align;
        get_typlenbyvalalign(element_type, &length, &by_value, &align);
        int dims[1] = {static_cast<int>(elements.size())};
        int lower[1] = {1};
        array = PointerGetDatum(elements.empty()
                                    ? construct_empty_array(element_type)
                                    : construct_md_array(elements.data(), reinterpret_cast<bool*>(null_flags.data()), 1,
                                                         dims, lower, element_type, length, by_value, align));
    });
    return array;
}

Datum text_value(const std::string& s) {
    Datum d = 0;
    pg_call([&] { d = PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
    return d;
}

Datum bytea_value(std::string_view bytes) {
    Datum result = 0;
    pg_call([&] {
        auto* b = static_cast<bytea*>(palloc(VARHDRSZ + bytes.size()));
        SET_VARSIZE(b, VARHDRSZ + bytes.size());
        memcpy(VARDATA(b), bytes.data(), bytes.size());
        result = PointerGetDatum(b);
    });
    return result;
}

std::string quoted_identifier(const std::string& name) {
    const char* out = nullptr;
    pg_call([&] { out = quote_identifier(name.c_str()); });
    return out;
}

std::string quoted_literal(const std::string& value) {
    const char* out = nullptr;
    pg_call([&] { out = quote_literal_cstr(value.c_str()); });
    return out;
}

void connect_spi() {
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "email_verify: SPI_connect failed");
    });
}

void finish_spi() {
    pg_call([] { SPI_finish(); });
}

std::optional<std::string> cell_text(SPITupleTable* table, uint64 row, int column) {
    const char* value = nullptr;
    pg_call([&] { value = SPI_getvalue(table->vals[row], table->tupdesc, column); });
    if (!value) return std::nullopt;
    return std::string(value);
}

}  // namespace ev::pg
