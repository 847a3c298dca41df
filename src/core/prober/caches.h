// What a prober learns and keeps between calls in one process: routes, the
// catch-all status of domains, and finished verdicts.
#pragma once

#include <chrono>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "dns/mail_route.h"
#include "prober/probe_settings.h"
#include "verification_result.h"

namespace ev::prober {

using SteadyTime = std::chrono::steady_clock::time_point;

// Domain -> accepts any local part? Only determined answers are kept.
class CatchAllCache {
  public:
    std::optional<bool> find(const std::string& domain, SteadyTime now);
    void store(const std::string& domain, bool catch_all, SteadyTime expires);
    void clear() { entries_.clear(); }

  private:
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
    std::optional<VerificationResult> find(const std::string& key, SteadyTime now);
    void store(const std::string& key, const VerificationResult& result, SteadyTime expires);
    void clear();
    std::size_t size() const { return index_.size(); }

  private:
    struct Entry {
        std::string key;
        VerificationResult result;
        SteadyTime expires;
    };
    std::size_t capacity_;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

struct ProberCaches {
    dns::RouteCache routes;
    CatchAllCache catch_all;
    ResultCache results;
    void clear() {
        routes.clear();
        catch_all.clear();
        results.clear();
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
