// The prober's caches for the whole server (ev::CacheStore in shared memory):
// settled verdicts, catch-all answers and mail routes that any backend or
// worker reached are every backend's, until their TTL or eviction.
#pragma once

#include <cstdint>

#include "cache_store.h"

namespace ev::pg {

// From _PG_init while shared_preload_libraries is processed, after
// SettingsInit: sizes the store from email_verify.shared_cache_size and asks
// for the shared memory.
void SharedCacheInit();

// The server's store, or nullptr (not preloaded, or a size of 0): each
// backend then keeps its own caches.
ev::CacheStore* shared_cache();

struct SharedCacheStats {
    std::uint64_t capacity = 0;  // entries the store can hold
    std::uint64_t entries = 0;   // live ones now
    std::uint64_t hits = 0, misses = 0, stores = 0, evictions = 0, too_large = 0;
};
bool shared_cache_stats(SharedCacheStats* out);

// Forgets every entry (email_verify.clear_cache()).
void clear_shared_cache();

}  // namespace ev::pg
