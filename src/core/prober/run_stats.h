// What probe runs saw, for tests and observability: counts of sessions,
// RCPTs and failures by cause, and latency histograms per phase. A run
// fills one; the PostgreSQL layer sums them into the server's counters.
#pragma once

#include <array>
#include <cstdint>

namespace ev::prober {

// Power-of-two buckets of microseconds: bucket b holds samples below 2^(b+1)
// us (bucket 0: below 2 us), the last one everything above ~35 minutes.
struct LatencyHistogram {
    static constexpr int kBuckets = 32;
    std::array<std::uint64_t, kBuckets> buckets{};

    void note(double ms);
    void add(const LatencyHistogram& other);
    std::uint64_t samples() const;
    // The upper bound of the bucket that holds quantile q (0..1), in ms; 0
    // without samples.
    double quantile_ms(double q) const;
    static int bucket_of(double ms);
};

struct RunStats {
    int sessions_opened = 0;
    int max_sessions_per_host = 0;
    int rcpts_sent = 0;
    int catch_all_probes = 0;
    int tls_sessions = 0;
    int tls_unverified = 0;  // TLS sessions whose certificate did not verify

    // Failures by cause.
    int connect_refused = 0;  // refused, unreachable
    int connect_timeouts = 0;
    int reply_timeouts = 0;
    int tls_failures = 0;
    int blocked = 0;       // the prober refused: 554 banner, 5.7.x, blocklist text
    int dropped = 0;       // the connection closed mid-dialogue, or 421
    int dns_failures = 0;  // routes that ended in dns_error
    // RCPT replies by class.
    int rcpt_2xx = 0;
    int rcpt_4xx = 0;
    int rcpt_5xx = 0;

    LatencyHistogram dns_ms, connect_ms, banner_ms, rcpt_ms;

    // Sums another run in (max_sessions_per_host: the larger).
    void add(const RunStats& run);
};

}  // namespace ev::prober
