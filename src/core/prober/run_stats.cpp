#include "prober/run_stats.h"

#include <algorithm>
#include <cmath>

namespace ev::prober {

int LatencyHistogram::bucket_of(double ms) {
    double us = ms * 1000.0;
    if (!(us >= 2.0)) return 0;  // NaN and negatives too
    return std::min(kBuckets - 1, static_cast<int>(std::log2(us)));
}

void LatencyHistogram::note(double ms) { ++buckets[static_cast<std::size_t>(bucket_of(ms))]; }

void LatencyHistogram::add(const LatencyHistogram& other) {
    for (std::size_t b = 0; b < buckets.size(); ++b) buckets[b] += other.buckets[b];
}

std::uint64_t LatencyHistogram::samples() const {
    std::uint64_t n = 0;
    for (auto c : buckets) n += c;
    return n;
}

double LatencyHistogram::quantile_ms(double q) const {
    std::uint64_t n = samples();
    if (n == 0) return 0;
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::max<std::uint64_t>(rank, 1);
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < buckets.size(); ++b) {
        seen += buckets[b];
        if (seen >= rank) return std::ldexp(1.0, static_cast<int>(b) + 1) / 1000.0;
    }
    return std::ldexp(1.0, kBuckets) / 1000.0;
}

void RunStats::add(const RunStats& run) {
    sessions_opened += run.sessions_opened;
    max_sessions_per_host = std::max(max_sessions_per_host, run.max_sessions_per_host);
    rcpts_sent += run.rcpts_sent;
    catch_all_probes += run.catch_all_probes;
    tls_sessions += run.tls_sessions;
    tls_unverified += run.tls_unverified;
    connect_refused += run.connect_refused;
    connect_timeouts += run.connect_timeouts;
    reply_timeouts += run.reply_timeouts;
    tls_failures += run.tls_failures;
    blocked += run.blocked;
    dropped += run.dropped;
    dns_failures += run.dns_failures;
    rcpt_2xx += run.rcpt_2xx;
    rcpt_4xx += run.rcpt_4xx;
    rcpt_5xx += run.rcpt_5xx;
    dns_ms.add(run.dns_ms);
    connect_ms.add(run.connect_ms);
    banner_ms.add(run.banner_ms);
    rcpt_ms.add(run.rcpt_ms);
}

}  // namespace ev::prober
