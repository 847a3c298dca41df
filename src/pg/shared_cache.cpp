#include "shared_cache.h"

#include <algorithm>
#include <cstring>

#include "lwlock_guard.h"
#include "pg_prelude.h"
#include "settings.h"
#include "shared_region.h"

extern "C" {
#include "common/hashfn.h"
}

namespace ev::pg {

namespace {

// Fixed-size entries: a normalized address is at most 254 bytes and an
// encoded verdict a few hundred; an entry that does not fit is not kept.
constexpr std::size_t kSlotBytes = 512;
constexpr int kPartitions = 16;  // one lock each: readers of other keys never wait
constexpr int kWindow = 8;       // slots a key may live in; the least recently used of them is evicted

struct Slot {
    uint64 hash;  // 0: empty
    std::int64_t expires_ns;
    std::int64_t last_used_ns;
    uint16 key_len;
    uint16 value_len;
    char bytes[kSlotBytes - 28];
};
static_assert(sizeof(Slot) == kSlotBytes, "a slot is kSlotBytes");

struct Header {
    LWLock* locks[kPartitions];
    uint64 slots_per_partition;
    pg_atomic_uint64 hits, misses, stores, evictions, too_large;
};

int size_mb_setting = 0;  // email_verify.shared_cache_size, as the server started
Header* header = nullptr;
Slot* slots = nullptr;
void* region_address = nullptr;

uint64 slots_per_partition() { return static_cast<uint64>(size_mb_setting) * 1024 * 1024 / kSlotBytes / kPartitions; }

Size region_size() { return MAXALIGN(sizeof(Header)) + slots_per_partition() * kPartitions * sizeof(Slot); }

void initialise(void* memory, LWLockPadded* locks) {
    auto* h = static_cast<Header*>(memory);
    for (int i = 0; i < kPartitions; ++i) h->locks[i] = &locks[i].lock;
    h->slots_per_partition = slots_per_partition();
    for (pg_atomic_uint64* c : {&h->hits, &h->misses, &h->stores, &h->evictions, &h->too_large})
        pg_atomic_init_u64(c, 0);
}

// Sized by SharedCacheInit, from the setting.
SharedRegion region{"email_verify cache", 0, initialise, &region_address, kPartitions};

// The region's parts, once attached.
bool attached() {
    if (!header && region_address) {
        header = static_cast<Header*>(region_address);
        slots = reinterpret_cast<Slot*>(static_cast<char*>(region_address) + MAXALIGN(sizeof(Header)));
    }
    return header != nullptr;
}

std::int64_t ns_of(CacheStore::Time t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void count(pg_atomic_uint64* counter) { pg_atomic_fetch_add_u64(counter, 1); }

class SharedMemoryStore : public CacheStore {
  public:
    std::optional<std::string> get(std::string_view key, Time now) override {
        Place place = place_of(key);
        std::int64_t now_ns = ns_of(now);
        LwLockGuard lock(header->locks[place.partition], LW_SHARED);
        for (int i = 0; i < kWindow; ++i) {
            Slot& s = slot(place, i);
            if (!holds(s, place.hash, key)) continue;
            if (s.expires_ns <= now_ns) break;
            // A racy write of a word under the shared lock: the worst a race
            // does is keep the other reader's time, which is as recent.
            s.last_used_ns = now_ns;
            count(&header->hits);
            return std::string(s.bytes + s.key_len, s.value_len);
        }
        count(&header->misses);
        return std::nullopt;
    }

    void put(std::string_view key, std::string_view value, Time expires) override {
        if (key.size() + value.size() > sizeof(Slot::bytes)) return count(&header->too_large);
        Place place = place_of(key);
        std::int64_t now_ns = ns_of(std::chrono::steady_clock::now());
        LwLockGuard lock(header->locks[place.partition], LW_EXCLUSIVE);
        Slot* target = nullptr;
        for (int i = 0; i < kWindow; ++i) {
            Slot& s = slot(place, i);
            if (holds(s, place.hash, key)) {
                target = &s;
                break;
            }
            bool free = s.hash == 0 || s.expires_ns <= now_ns;
            bool target_free = target && (target->hash == 0 || target->expires_ns <= now_ns);
            if (!target || (free && !target_free) || (free == target_free && s.last_used_ns < target->last_used_ns))
                target = &s;
        }
        if (target->hash != 0 && target->expires_ns > now_ns && !holds(*target, place.hash, key))
            count(&header->evictions);
        target->hash = place.hash;
        target->expires_ns = ns_of(expires);
        target->last_used_ns = now_ns;
        target->key_len = static_cast<uint16>(key.size());
        target->value_len = static_cast<uint16>(value.size());
        std::memcpy(target->bytes, key.data(), key.size());
        std::memcpy(target->bytes + key.size(), value.data(), value.size());
        count(&header->stores);
    }

  private:
    struct Place {
        uint64 hash;
        int partition;
        uint64 home;  // index within the partition
    };

    static Place place_of(std::string_view key) {
        uint64 hash =
            hash_bytes_extended(reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size()), 0);
        if (hash == 0) hash = 1;
        return {hash, static_cast<int>(hash % kPartitions), (hash / kPartitions) % header->slots_per_partition};
    }

    static Slot& slot(const Place& place, int i) {
        uint64 n = header->slots_per_partition;
        return slots[place.partition * n + (place.home + static_cast<uint64>(i)) % n];
    }

    static bool holds(const Slot& s, uint64 hash, std::string_view key) {
        return s.hash == hash && s.key_len == key.size() && std::memcmp(s.bytes, key.data(), key.size()) == 0;
    }
};

SharedMemoryStore the_store;

}  // namespace

void SharedCacheInit() {
    size_mb_setting = shared_cache_size_mb();
    if (slots_per_partition() == 0) return;
    region.size = region_size();
    add_shared_region(&region);
}

CacheStore* shared_cache() { return attached() ? &the_store : nullptr; }

bool shared_cache_stats(SharedCacheStats* out) {
    if (!shared_cache()) return false;
    out->capacity = header->slots_per_partition * kPartitions;
    out->hits = pg_atomic_read_u64(&header->hits);
    out->misses = pg_atomic_read_u64(&header->misses);
    out->stores = pg_atomic_read_u64(&header->stores);
    out->evictions = pg_atomic_read_u64(&header->evictions);
    out->too_large = pg_atomic_read_u64(&header->too_large);
    std::int64_t now_ns = ns_of(std::chrono::steady_clock::now());
    out->entries = 0;
    for (int p = 0; p < kPartitions; ++p) {
        LwLockGuard lock(header->locks[p], LW_SHARED);
        for (uint64 i = 0; i < header->slots_per_partition; ++i) {
            const Slot& s = slots[p * header->slots_per_partition + i];
            if (s.hash != 0 && s.expires_ns > now_ns) ++out->entries;
        }
    }
    return true;
}

void clear_shared_cache() {
    if (!shared_cache()) return;
    for (int p = 0; p < kPartitions; ++p) {
        LwLockGuard lock(header->locks[p], LW_EXCLUSIVE);
        for (uint64 i = 0; i < header->slots_per_partition; ++i) slots[p * header->slots_per_partition + i].hash = 0;
    }
}

}  // namespace ev::pg
