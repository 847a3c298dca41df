#include "shared_permits.h"

#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "guard.h"
#include "lwlock_guard.h"
#include "pg_prelude.h"
#include "shared_region.h"

extern "C" {
#include "common/hashfn.h"
}

namespace ev::pg {

namespace {

using ev::prober::Admission;
using ev::prober::HostFacts;
using ev::prober::PolitenessLimits;
using ev::prober::RateCell;
using ev::prober::SessionTarget;
using ev::prober::SteadyTime;

// Fixed tables: a site or a server is found within a window of slots from
// its hash's home slot. A full window gives its least recently used idle
// slot to the newcomer, so the tables never fill up and never need a delete.
constexpr int kSites = 4096;
constexpr int kServers = 4096;
constexpr int kWindow = 32;
constexpr int kNameBytes = 96;
// A fact older than this is learned again: servers change their settings.
constexpr std::int64_t kFactLifetimeNs = 24LL * 3600 * 1000 * 1000 * 1000;

struct SiteSlot {
    uint64 key;  // 0: never used
    int sessions_open;
    RateCell session_rate;
    RateCell rcpt_rate;
    std::int64_t last_used_ns;
    char name[kNameBytes];
};

struct ServerSlot {
    uint64 key;
    HostFacts facts;
    std::int64_t learned_ns;
};

struct SharedTables {
    LWLock* lock;
    int sessions_open;  // all sites together
    SiteSlot sites[kSites];
    ServerSlot servers[kServers];
};

SharedTables* tables = nullptr;

// Slots this process holds, given back if it exits while holding them (the
// engine gives them back itself on every path it controls).
std::unordered_map<uint64, int> held_here;
std::unordered_set<uint64> site_keys_held;  // which of held_here's keys are sites
bool exit_callback_registered = false;

void initialise(void* memory, LWLockPadded* locks) { static_cast<SharedTables*>(memory)->lock = &locks[0].lock; }

const SharedRegion region{"email_verify permits", sizeof(SharedTables), initialise, reinterpret_cast<void**>(&tables),
                          1};

uint64 key_of(const std::string& text) {
    uint64 key =
        hash_bytes_extended(reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()), 0);
    return key == 0 ? 1 : key;
}

bool site_idle(const SiteSlot& s, std::int64_t now) {
    return s.sessions_open == 0 && s.session_rate.theoretical_arrival_ns <= now &&
           s.rcpt_rate.theoretical_arrival_ns <= now;
}

// The slot of `key`, taken over from the stalest idle one when new; nullptr
// when every slot of the window is busy.
SiteSlot* find_site(uint64 key, const std::string& name, std::int64_t now) {
    SiteSlot* reuse = nullptr;
    for (int i = 0; i < kWindow; ++i) {
        SiteSlot& s = tables->sites[(key + i) % kSites];
        if (s.key == key) return &s;
        if (s.key == 0 || site_idle(s, now)) {
            if (!reuse || (reuse->key != 0 && (s.key == 0 || s.last_used_ns < reuse->last_used_ns))) reuse = &s;
        }
    }
    if (!reuse) return nullptr;
    std::memset(static_cast<void*>(reuse), 0, sizeof *reuse);
    reuse->key = key;
    std::strncpy(reuse->name, name.c_str(), kNameBytes - 1);
    return reuse;
}

ServerSlot* find_server(uint64 key, bool create, std::int64_t now) {
    ServerSlot* reuse = nullptr;
    for (int i = 0; i < kWindow; ++i) {
        ServerSlot& s = tables->servers[(key + i) % kServers];
        if (s.key == key) return &s;
        if (!reuse || s.learned_ns < reuse->learned_ns) reuse = &s;
    }
    if (!create) return nullptr;
    std::memset(static_cast<void*>(reuse), 0, sizeof *reuse);
    reuse->key = key;
    return reuse;
}

// Takes `count` sessions off key's slot (and, for a site, off the global
// count: each session counts once there). Under the lock.
void give_back(uint64 key, int count, bool counts_globally) {
    for (int i = 0; i < kWindow; ++i) {
        SiteSlot& s = tables->sites[(key + i) % kSites];
        if (s.key != key) continue;
        int given = std::min(count, s.sessions_open);
        s.sessions_open -= given;
        if (counts_globally) tables->sessions_open -= given;
        return;
    }
}

// One session fewer held by this process under key; false if it held none.
bool release_held(uint64 key) {
    auto held = held_here.find(key);
    if (held == held_here.end() || held->second == 0) return false;
    if (--held->second == 0) held_here.erase(held);
    return true;
}

void give_back_on_exit(int, Datum) {
    if (!tables) return;
    LWLockAcquire(tables->lock, LW_EXCLUSIVE);
    for (auto& [key, count] : held_here) give_back(key, count, site_keys_held.count(key) > 0);
    LWLockRelease(tables->lock);
    held_here.clear();
}

// Every table is read and written under the one lock.
class Locked : public LwLockGuard {
  public:
    Locked() : LwLockGuard(tables->lock, LW_EXCLUSIVE) {}
};

class SharedPermits : public ev::prober::HostPermits {
  public:
    Admission open_session(const SessionTarget& target, const PolitenessLimits& limits, SteadyTime now) override {
        if (!exit_callback_registered) {
            pg_call([] { before_shmem_exit(give_back_on_exit, 0); });
            exit_callback_registered = true;
        }
        // Sites and addresses share the table, under keys that cannot meet.
        uint64 site_key = key_of("site " + target.site), address_key = key_of("address " + target.address);
        std::int64_t now_ns = ev::prober::to_ns(now);
        Admission admission;
        {
            Locked lock;
            SiteSlot* site = find_site(site_key, target.site, now_ns);
            SiteSlot* address = find_site(address_key, target.address, now_ns);
            if (!site || !address || site == address) return {false, now + std::chrono::milliseconds(50)};
            site->last_used_ns = address->last_used_ns = now_ns;
            admission = ev::prober::admit_session(site->sessions_open, address->sessions_open, tables->sessions_open,
                                                  site->session_rate, limits, now);
        }
        if (admission.granted) {
            ++held_here[site_key];
            ++held_here[address_key];
            site_keys_held.insert(site_key);
        }
        return admission;
    }

    void close_session(const SessionTarget& target) override {
        uint64 site_key = key_of("site " + target.site), address_key = key_of("address " + target.address);
        if (!release_held(site_key)) return;
        release_held(address_key);
        Locked lock;
        give_back(site_key, 1, true);
        give_back(address_key, 1, false);
    }

    Admission send_rcpt(const std::string& site, const PolitenessLimits& limits, SteadyTime now) override {
        if (limits.host_rcpt_rate <= 0) return {true, now};
        std::int64_t now_ns = ev::prober::to_ns(now);
        Locked lock;
        SiteSlot* s = find_site(key_of("site " + site), site, now_ns);
        if (!s) return {false, now + std::chrono::milliseconds(50)};
        s->last_used_ns = now_ns;
        return ev::prober::admit_rcpt(s->rcpt_rate, limits, now);
    }

    HostFacts facts(const std::string& server) override {
        std::int64_t now_ns = ev::prober::to_ns(std::chrono::steady_clock::now());
        Locked lock;
        ServerSlot* s = find_server(key_of(server), false, now_ns);
        if (!s || now_ns - s->learned_ns > kFactLifetimeNs) return HostFacts{};
        return s->facts;
    }

    void learn(const std::string& server, const HostFacts& facts) override {
        std::int64_t now_ns = ev::prober::to_ns(std::chrono::steady_clock::now());
        Locked lock;
        ServerSlot* s = find_server(key_of(server), true, now_ns);
        s->facts = facts;
        s->learned_ns = now_ns;
    }
};

SharedPermits the_permits;

}  // namespace

void SharedPermitsInit() { add_shared_region(&region); }

ev::prober::HostPermits* shared_permits() { return tables ? &the_permits : nullptr; }

std::vector<SiteSnapshot> site_snapshots() {
    std::vector<SiteSnapshot> out;
    if (!tables) return out;
    std::int64_t now_ns = ev::prober::to_ns(std::chrono::steady_clock::now());
    Locked lock;
    for (const SiteSlot& s : tables->sites) {
        if (s.key == 0 || site_idle(s, now_ns)) continue;
        SiteSnapshot snap;
        snap.site = s.name;
        snap.sessions_open = s.sessions_open;
        snap.session_tokens_due_in_ms =
            std::max(0.0, static_cast<double>(s.session_rate.theoretical_arrival_ns - now_ns) / 1e6);
        snap.rcpt_tokens_due_in_ms =
            std::max(0.0, static_cast<double>(s.rcpt_rate.theoretical_arrival_ns - now_ns) / 1e6);
        out.push_back(std::move(snap));
    }
    return out;
}

void forget_shared_permits() {
    if (!tables) return;
    Locked lock;
    for (SiteSlot& s : tables->sites) s.session_rate = s.rcpt_rate = RateCell{};
    std::memset(static_cast<void*>(tables->servers), 0, sizeof tables->servers);
}

}  // namespace ev::pg
