#include "shared_health.h"

#include <chrono>

#include "guard.h"
#include "pg_prelude.h"
#include "settings.h"
#include "shared_region.h"

extern "C" {
#include "common/hashfn.h"
}

namespace ev::pg {

namespace {

using ev::prober::HealthRecord;
using ev::prober::NetworkState;

struct SharedRecord {
    slock_t mutex;
    HealthRecord record;
    std::int64_t next_check_ns;
};

SharedRecord* shared = nullptr;

void initialise(void* memory, LWLockPadded*) {
    auto* s = static_cast<SharedRecord*>(memory);
    SpinLockInit(&s->mutex);
    s->record = HealthRecord{};
}

const SharedRegion region{"email_verify health", sizeof(SharedRecord), initialise, reinterpret_cast<void**>(&shared),
                          0};

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

uint64 hash_of(const std::string& text) {
    return hash_bytes_extended(reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()), 0);
}

HealthRecord copy_record() {
    SpinLockAcquire(&shared->mutex);
    HealthRecord r = shared->record;
    SpinLockRelease(&shared->mutex);
    return r;
}

class SharedHealthSink : public ev::prober::HealthSink {
  public:
    void session_outcome(const std::string& site, const std::string& host,
                         ev::prober::SessionOutcome outcome) override {
        uint64 site_hash = hash_of(site), host_hash = hash_of(host);
        std::int64_t now = steady_ns();
        SpinLockAcquire(&shared->mutex);
        ev::prober::note_session(shared->record, site_hash, host_hash, outcome, now);
        SpinLockRelease(&shared->mutex);
    }
};

SharedHealthSink the_sink;

}  // namespace

void SharedHealthInit() { add_shared_region(&region); }

ev::prober::HealthSink* shared_health() { return shared ? &the_sink : nullptr; }

NetworkState network_state() {
    if (!shared) return NetworkState::Ok;
    SpinLockAcquire(&shared->mutex);
    NetworkState state = shared->record.state;
    SpinLockRelease(&shared->mutex);
    return state;
}

bool health_snapshot(HealthSnapshot* out) {
    if (!shared) return false;
    HealthRecord r = copy_record();
    std::int64_t now = steady_ns();
    double now_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    out->state = r.state;
    out->state_since_unix = r.state_since_ns == 0 ? 0 : now_unix - static_cast<double>(now - r.state_since_ns) / 1e9;
    out->failing_hosts = r.failing;
    out->seconds_since_success = r.last_success_ns == 0 ? -1 : static_cast<double>(now - r.last_success_ns) / 1e9;
    out->evidence = ev::prober::health_evidence(r, now);
    return true;
}

void warn_if_newly_blocked() {
    if (!shared) return;
    SpinLockAcquire(&shared->mutex);
    bool due = shared->record.warning_due;
    shared->record.warning_due = false;
    SpinLockRelease(&shared->mutex);
    if (!due) return;
    std::string evidence = ev::prober::health_evidence(copy_record(), steady_ns());
    pg_call([&] {
        ereport(WARNING, (errmsg("email_verify: the prober's own network looks blocked: %s", evidence.c_str()),
                          errhint("Check that this server may open outbound connections to port 25 and that its IP "
                                  "is on no blocklist (or use email_verify.socks5_proxy). The workers pause SMTP "
                                  "probes until a test connection gets through; see email_verify.prober_health.")));
    });
}

bool take_health_check_turn() {
    if (!shared) return false;
    std::int64_t now = steady_ns();
    std::int64_t period = std::chrono::duration_cast<std::chrono::nanoseconds>(health_check_interval()).count();
    SpinLockAcquire(&shared->mutex);
    bool turn = shared->next_check_ns <= now;
    if (turn) shared->next_check_ns = now + period;
    SpinLockRelease(&shared->mutex);
    return turn;
}

std::string network_explanation() {
    if (network_state() == NetworkState::Ok) return {};
    HealthRecord r = copy_record();
    return std::string(" (the prober's own network looks ") + ev::prober::to_string(r.state) + ": " +
           ev::prober::health_evidence(r, steady_ns()) + "; see email_verify.prober_health)";
}

bool blames_the_network(ev::Reason reason) {
    return reason == ev::Reason::ConnectionFailed || reason == ev::Reason::Timeout || reason == ev::Reason::SmtpBlocked;
}

}  // namespace ev::pg
