#include "prober_counters.h"

#include <iterator>

#include "pg_prelude.h"
#include "shared_region.h"

namespace ev::pg {

namespace {

using ev::prober::LatencyHistogram;
using ev::prober::RunStats;

// The counters in the order the view shows them; names are the view's.
struct CounterField {
    const char* name;
    int RunStats::*field;
};
constexpr CounterField kCounters[] = {
    {"sessions_opened", &RunStats::sessions_opened},
    {"rcpts_sent", &RunStats::rcpts_sent},
    {"catch_all_probes", &RunStats::catch_all_probes},
    {"tls_sessions", &RunStats::tls_sessions},
    {"tls_unverified", &RunStats::tls_unverified},
    {"rcpt_replies_2xx", &RunStats::rcpt_2xx},
    {"rcpt_replies_4xx", &RunStats::rcpt_4xx},
    {"rcpt_replies_5xx", &RunStats::rcpt_5xx},
    {"errors_connect_refused", &RunStats::connect_refused},
    {"errors_connect_timeout", &RunStats::connect_timeouts},
    {"errors_reply_timeout", &RunStats::reply_timeouts},
    {"errors_tls", &RunStats::tls_failures},
    {"errors_blocklisted", &RunStats::blocked},
    {"errors_dropped", &RunStats::dropped},
    {"errors_dns", &RunStats::dns_failures},
};
constexpr int kCounterCount = static_cast<int>(std::size(kCounters));

struct PhaseField {
    const char* name;
    LatencyHistogram RunStats::*field;
};
constexpr PhaseField kPhases[] = {
    {"dns", &RunStats::dns_ms},
    {"connect", &RunStats::connect_ms},
    {"banner", &RunStats::banner_ms},
    {"rcpt", &RunStats::rcpt_ms},
};
constexpr int kPhaseCount = static_cast<int>(std::size(kPhases));

struct SharedCounters {
    pg_atomic_uint64 counters[kCounterCount];
    pg_atomic_uint64 buckets[kPhaseCount][LatencyHistogram::kBuckets];
};

SharedCounters* shared = nullptr;

void initialise(void* memory, LWLockPadded*) {
    auto* s = static_cast<SharedCounters*>(memory);
    for (auto& c : s->counters) pg_atomic_init_u64(&c, 0);
    for (auto& phase : s->buckets)
        for (auto& b : phase) pg_atomic_init_u64(&b, 0);
}

const SharedRegion region{"email_verify counters", sizeof(SharedCounters), initialise,
                          reinterpret_cast<void**>(&shared), 0};

void add(pg_atomic_uint64* counter, std::uint64_t n) {
    if (n > 0) pg_atomic_fetch_add_u64(counter, static_cast<int64>(n));
}

}  // namespace

void ProberCountersInit() { add_shared_region(&region); }

void add_run_to_server(const RunStats& run) {
    if (!shared) return;
    for (int i = 0; i < kCounterCount; ++i)
        add(&shared->counters[i], static_cast<std::uint64_t>(std::max(0, run.*(kCounters[i].field))));
    for (int p = 0; p < kPhaseCount; ++p) {
        const LatencyHistogram& h = run.*(kPhases[p].field);
        for (int b = 0; b < LatencyHistogram::kBuckets; ++b)
            add(&shared->buckets[p][b], h.buckets[static_cast<std::size_t>(b)]);
    }
}

bool server_counters(std::vector<NamedCounter>* counters, std::vector<PhaseLatency>* latencies) {
    if (!shared) return false;
    for (int i = 0; i < kCounterCount; ++i)
        counters->push_back({kCounters[i].name, pg_atomic_read_u64(&shared->counters[i])});
    for (int p = 0; p < kPhaseCount; ++p) {
        PhaseLatency phase{kPhases[p].name, {}};
        for (int b = 0; b < LatencyHistogram::kBuckets; ++b)
            phase.histogram.buckets[static_cast<std::size_t>(b)] = pg_atomic_read_u64(&shared->buckets[p][b]);
        latencies->push_back(std::move(phase));
    }
    return true;
}

}  // namespace ev::pg
