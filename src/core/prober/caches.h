// What a prober learns and keeps between calls: routes, the catch-all status
// of domains, and finished verdicts, in this process or in a CacheStore the
// caller shares with others (shared_store); and where its politeness
// permits and network health reports go.
#pragma once

#include <chrono>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "cache_store.h"
#include "dns/mail_route.h"
#include "prober/host_permits.h"
#include "prober/network_health.h"
#include "prober/probe_settings.h"
#include "prober/verdict_codec.h"
#include "verification_result.h"

namespace ev::prober {

using SteadyTime = std::chrono::steady_clock::time_point;

// Domain -> accepts any local part? Only determined answers are kept.
class CatchAllCache {
  public:
    std::optional<bool> find(const std::string& domain, SteadyTime now);
    void store(const std::string& domain, bool catch_all, SteadyTime expires);
    void clear() { entries_.clear(); }
    void share(CacheStore* store, std::string prefix) {
        store_ = store;
        prefix_ = std::move(prefix);
    }

  private:
    CacheStore* store_ = nullptr;
    std::string prefix_;
    struct Entry {
        bool catch_all;
        SteadyTime expires;
    };
    std::unordered_map<std::string, Entry> entries_;
};

// Finished verdicts by (level, normalized address), least recently used
// evicted first, each valid until its expiry.
class ResultCache {
  public:
    explicit ResultCache(std::size_t capacity = 50000) : capacity_(capacity) {}
    std::optional<CachedVerdict> find(const std::string& key, SteadyTime now);
    void store(const std::string& key, const CachedVerdict& verdict, SteadyTime expires);
    void clear();
    std::size_t size() const { return index_.size(); }
    void share(CacheStore* store, std::string prefix) {
        store_ = store;
        prefix_ = std::move(prefix);
    }

  private:
    struct Entry {
        std::string key;
        CachedVerdict verdict;
        SteadyTime expires;
    };
    CacheStore* store_ = nullptr;
    std::string prefix_;
    std::size_t capacity_;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

struct ProberCaches {
    dns::RouteCache routes;
    CatchAllCache catch_all;
    ResultCache results;
    // Where session slots, rate tokens and host facts come from: this
    // process's own, unless the caller points it at the server's.
    LocalHostPermits local_permits;
    HostPermits* permits = &local_permits;
    // Where verdicts, catch-all answers and routes live when set: the
    // server's shared store (keys carry a digest of the settings, so probes
    // of other settings never answer for these). Applied by use_for().
    CacheStore* shared_store = nullptr;
    // Where sessions report whether they got through (nullptr: nowhere).
    HealthSink* health = nullptr;
    void clear() {
        routes.clear();
        catch_all.clear();
        results.clear();
        local_permits.clear();
    }
    // Empties the caches when the settings that decide where probes go (DNS
    // servers, SMTP port, HELO name, sender, TLS) differ from the last call's:
    // what another server or another identity was told is no answer for this one.
    // So do other provider rules: a verdict they shaped is theirs.
    void use_for(const ProbeSettings& settings);

  private:
    std::string settings_key_;
};

}  // namespace ev::prober
