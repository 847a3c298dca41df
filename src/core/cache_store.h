// Where a prober's caches keep what outlives one process's calls: bytes by
// key, each with its expiry. The PostgreSQL layer implements it in shared
// memory, so a verdict one backend or worker reached is every backend's.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ev {

class CacheStore {
  public:
    using Time = std::chrono::steady_clock::time_point;
    virtual ~CacheStore() = default;
    // The value, unless missing or expired at `now`.
    virtual std::optional<std::string> get(std::string_view key, Time now) = 0;
    // Best effort: a value too large for the store is not kept.
    virtual void put(std::string_view key, std::string_view value, Time expires) = 0;
};

}  // namespace ev
