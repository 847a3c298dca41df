#include "spi_plans.h"

#include "guard.h"

namespace ev::pg {

SPIPlanPtr keep_plan(const char* sql, int nargs, Oid* types) {
    SPIPlanPtr plan = nullptr;
    pg_call([&] {
        plan = SPI_prepare(sql, nargs, types);
        if (!plan) elog(ERROR, "email_verify: could not prepare: %s", SPI_result_code_string(SPI_result));
        if (SPI_keepplan(plan) != 0) elog(ERROR, "email_verify: could not keep a plan");
    });
    return plan;
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
