// apply_verdicts(jsonb): the SQL face of the write-back (verdict_write_back.h),
// for tests and tools; the worker calls write_verdicts itself, with typed
// verdicts. verdicts: [{"queue_id", "watch_id", "row_key", "email", "status",
// "reason", "catch_all", "checked_at", "level"}, ...]; level, the level the
// item was claimed at, may be left out (taken as the watch's).
#include "guard.h"
#include "spi_plans.h"
#include "verdict_write_back.h"

namespace {

std::vector<ev::pg::VerdictToWrite> read_verdicts(Datum json) {
    static SPIPlanPtr kind_plan = nullptr, rows_plan = nullptr;
    std::vector<ev::pg::VerdictToWrite> verdicts;
    bool is_array = false;
    uint64 rows = 0;
    ev::pg::pg_call([&] {
        Oid types[1] = {JSONBOID};
        if (!kind_plan) {
            kind_plan = SPI_prepare("SELECT pg_catalog.jsonb_typeof($1) OPERATOR(pg_catalog.=) 'array'", 1, types);
            rows_plan = SPI_prepare(
                "SELECT v.queue_id, v.watch_id, v.row_key::pg_catalog.text, v.email, v.status, v.reason, v.catch_all,"
                "       v.checked_at, v.level "
                "FROM pg_catalog.jsonb_to_recordset($1) AS v(queue_id int8, watch_id int4, row_key jsonb, email text,"
                "     status text, reason text, catch_all bool, checked_at timestamptz, level text)",
                1, types);
            if (!kind_plan || !rows_plan) elog(ERROR, "email_verify: could not prepare apply_verdicts");
            SPI_keepplan(kind_plan);
            SPI_keepplan(rows_plan);
        }
        Datum values[1] = {json};
        SPI_execute_plan(kind_plan, values, nullptr, true, 1);
        bool isnull = true;
        if (SPI_processed == 1)
            is_array = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) && !isnull;
        if (!is_array) return;
        if (SPI_execute_plan(rows_plan, values, nullptr, true, 0) != SPI_OK_SELECT)
            elog(ERROR, "email_verify: reading the verdicts failed");
        rows = SPI_processed;
    });
    if (!is_array) throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE, "verdicts must be a JSON array");
    SPITupleTable* table = SPI_tuptable;
    for (uint64 r = 0; r < rows; ++r) {
        ev::pg::VerdictToWrite v;
        char* text[5] = {};
        bool isnull[9] = {};
        Datum binary[9] = {};
        ev::pg::pg_call([&] {
            for (int c = 0; c < 9; ++c) binary[c] = SPI_getbinval(table->vals[r], table->tupdesc, c + 1, &isnull[c]);
            text[0] = SPI_getvalue(table->vals[r], table->tupdesc, 3);  // row_key
            text[1] = SPI_getvalue(table->vals[r], table->tupdesc, 4);  // email
            text[2] = SPI_getvalue(table->vals[r], table->tupdesc, 5);  // status
            text[3] = SPI_getvalue(table->vals[r], table->tupdesc, 6);  // reason
            text[4] = SPI_getvalue(table->vals[r], table->tupdesc, 9);  // level
        });
        v.queue_id = isnull[0] ? 0 : DatumGetInt64(binary[0]);
        v.watch_id = isnull[1] ? 0 : DatumGetInt32(binary[1]);
        v.row_key = text[0] ? text[0] : "null";
        v.email = text[1] ? text[1] : "";
        v.status = text[2] ? text[2] : "";
        if (text[3]) v.reason = text[3];
        if (!isnull[6]) v.catch_all = DatumGetBool(binary[6]);
        if (!isnull[7]) v.checked_at = DatumGetTimestampTz(binary[7]);
        if (text[4]) v.level = ev::parse_level(text[4]);
        verdicts.push_back(std::move(v));
    }
    return verdicts;
}

}  // namespace

EV_SQL_FUNCTION(apply_verdicts) {
    if (PG_ARGISNULL(0)) throw ev::pg::UserError(ERRCODE_INVALID_PARAMETER_VALUE, "verdicts must be a JSON array");
    Datum json = PG_GETARG_DATUM(0);
    ev::pg::connect_spi();
    uint64 written = ev::pg::write_verdicts(read_verdicts(json));
    ev::pg::finish_spi();
    PG_RETURN_INT32(static_cast<int32>(written));
}
