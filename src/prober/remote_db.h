// email-verify-prober's side of the protocol (extension/src/99_remote_probers.sql),
// over libpq: one connection, made with the caller's conninfo (or the PG*
// environment, a service file, PGPASSFILE, sslmode, as libpq reads them).
// Every call is one statement in its own transaction; an error of the
// server or of the connection is thrown as DbError.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "remote/protocol.h"

namespace ev::remote {

class DbError : public std::runtime_error {
  public:
    DbError(const std::string& what, bool connection_lost) : std::runtime_error(what), lost_(connection_lost) {}
    bool connection_lost() const { return lost_; }

  private:
    bool lost_;
};

struct Hello {
    int prober_id = 0;
    std::string extension_version;
    std::map<std::string, std::string> settings;
};

struct ListEntry {
    std::string list, entry;
    bool listed = true;
};

class RemoteDb {
  public:
    explicit RemoteDb(std::string conninfo) : conninfo_(std::move(conninfo)) {}
    ~RemoteDb() { disconnect(); }
    RemoteDb(const RemoteDb&) = delete;
    RemoteDb& operator=(const RemoteDb&) = delete;

    void connect();  // throws DbError
    void disconnect();
    bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
    // Where it is connected, for logs: host, port and database, never the password.
    std::string where() const;

    Hello hello(const std::string& name, const std::string& host, const std::string& version);
    std::vector<ClaimedItem> claim(int prober_id, int batch_size, int lease_seconds);
    // report: a JSON text as prober_report takes it; returns its answer (JSON text).
    std::string report(int prober_id, const std::string& report);
    void heartbeat(int prober_id, int in_flight, const std::optional<std::string>& error);
    void goodbye(int prober_id);
    std::vector<ListEntry> list_entries();

  private:
    struct Result;
    Result run(const char* sql, const std::vector<std::optional<std::string>>& params);

    std::string conninfo_;
    PGconn* conn_ = nullptr;
};

}  // namespace ev::remote
