#include "remote_db.h"

#include <memory>

namespace ev::remote {

// A PGresult owned for the scope of a call.
struct RemoteDb::Result {
    std::unique_ptr<PGresult, void (*)(PGresult*)> res{nullptr, PQclear};
    int rows() const { return PQntuples(res.get()); }
    bool null(int row, int col) const { return PQgetisnull(res.get(), row, col) != 0; }
    std::string text(int row, int col) const { return PQgetvalue(res.get(), row, col); }
};

void RemoteDb::connect() {
    disconnect();
    const char* keys[] = {"dbname", "fallback_application_name", nullptr};
    const char* values[] = {conninfo_.c_str(), "email-verify-prober", nullptr};
    // expand_dbname: conninfo may be "key=value ..." or a postgresql:// URI.
    conn_ = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
        disconnect();
        while (!why.empty() && why.back() == '\n') why.pop_back();
        throw DbError("could not connect: " + why, true);
    }
    // No call may hang on a lock for ever; the protocol's statements are short.
    run("SET statement_timeout = '60s'", {});
}

void RemoteDb::disconnect() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
}

std::string RemoteDb::where() const {
    if (!conn_) return "(not connected)";
    const char* host = PQhost(conn_);
    return std::string("host=") + (host ? host : "") + " port=" + PQport(conn_) + " dbname=" + PQdb(conn_) +
           " user=" + PQuser(conn_);
}

RemoteDb::Result RemoteDb::run(const char* sql, const std::vector<std::optional<std::string>>& params) {
    if (!connected()) throw DbError("not connected", true);
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    Result r;
    r.res.reset(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
    ExecStatusType status = r.res ? PQresultStatus(r.res.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        std::string why = r.res ? PQresultErrorMessage(r.res.get()) : PQerrorMessage(conn_);
        while (!why.empty() && why.back() == '\n') why.pop_back();
        throw DbError(why, PQstatus(conn_) != CONNECTION_OK);
    }
    return r;
}

Hello RemoteDb::hello(const std::string& name, const std::string& host, const std::string& version) {
    Result r =
        run("SELECT h.prober_id, h.extension_version, s.key, s.value "
            "FROM email_verify.prober_hello($1, $2, $3, $4::int) h "
            "LEFT JOIN LATERAL jsonb_each_text(h.settings) s ON true",
            {name, host, version, std::to_string(kProtocol)});
    Hello hello;
    for (int i = 0; i < r.rows(); ++i) {
        hello.prober_id = std::stoi(r.text(i, 0));
        hello.extension_version = r.text(i, 1);
        if (!r.null(i, 2)) hello.settings[r.text(i, 2)] = r.null(i, 3) ? "" : r.text(i, 3);
    }
    if (r.rows() == 0) throw DbError("prober_hello returned nothing", false);
    return hello;
}

std::vector<ClaimedItem> RemoteDb::claim(int prober_id, int batch_size, int lease_seconds) {
    Result r =
        run("SELECT kind, item, job_id, address, email, level, attempts, claim "
            "FROM email_verify.prober_claim($1::int, $2::int, $3::int)",
            {std::to_string(prober_id), std::to_string(batch_size), std::to_string(lease_seconds)});
    std::vector<ClaimedItem> items;
    items.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        ClaimedItem item;
        item.job = r.text(i, 0) == "job";
        if (!r.null(i, 1)) item.queue_id = std::stoll(r.text(i, 1));
        if (!r.null(i, 2)) item.job_id = std::stoll(r.text(i, 2));
        if (!r.null(i, 3)) item.address = std::stoi(r.text(i, 3));
        item.email = r.text(i, 4);
        item.level = parse_level(r.text(i, 5)).value_or(Level::Smtp);
        item.attempts = r.null(i, 6) ? 0 : std::stoi(r.text(i, 6));
        if (!r.null(i, 7)) item.claim = std::stoll(r.text(i, 7));
        items.push_back(std::move(item));
    }
    return items;
}

std::string RemoteDb::report(int prober_id, const std::string& report) {
    Result r = run("SELECT email_verify.prober_report($1::int, $2::jsonb)::text", {std::to_string(prober_id), report});
    return r.rows() == 1 ? r.text(0, 0) : "";
}

void RemoteDb::heartbeat(int prober_id, int in_flight, const std::optional<std::string>& error) {
    run("SELECT email_verify.prober_heartbeat($1::int, $2::int, $3)",
        {std::to_string(prober_id), std::to_string(in_flight), error});
}

void RemoteDb::goodbye(int prober_id) {
    run("SELECT email_verify.prober_goodbye($1::int)", {std::to_string(prober_id)});
}

std::vector<ListEntry> RemoteDb::list_entries() {
    Result r = run("SELECT list, entry, listed FROM email_verify.list_entries", {});
    std::vector<ListEntry> entries;
    entries.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) entries.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2) == "t"});
    return entries;
}

}  // namespace ev::remote
