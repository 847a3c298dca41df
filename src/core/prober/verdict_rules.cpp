#include "prober/verdict_rules.h"

#include <string>

namespace ev::prober {

namespace {

using SteadyClock = std::chrono::steady_clock;

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

double ms_between(SteadyClock::time_point from, SteadyClock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string cache_key(Level level, const ParsedAddress& address) {
    return std::string(to_string(level)) + ' ' + address.normalized();
}

// The network's own failure among the findings of an address nothing
// answered for: the unknown reason the precedence puts first (README.md,
// "The result").
Reason network_failure(const Findings& findings) {
    for (auto r = static_cast<unsigned>(Reason::Syntax); r <= static_cast<unsigned>(Reason::DomainOk); ++r) {
        auto reason = static_cast<Reason>(r);
        if (status_of(reason) == Status::Unknown && findings.has(reason)) return reason;
    }
    return Reason::DnsError;
}

// A verdict reached without a DNS or an SMTP answer rests on the offline
// flags alone: during a DNS outage a role address would come out risky and
// be cached for a day. It is the outage that decides, as unknown.
void decide_without_answer(const OfflineFindings& item, VerificationResult* result) {
    result->reason = network_failure(item.findings);
    result->status = Status::Unknown;
    result->score = delivery_score(result->reason, result->suggestion.has_value());
}

// A cached verdict with the flags of the risk lists as they are now (a
// list_entries change since it was stored), decided again from what the
// probe found and what the lists say today.
VerificationResult refreshed(CachedVerdict cached, const OfflineFindings& now) {
    VerificationResult r = std::move(cached.result);
    r.is_disposable = now.result.is_disposable;
    r.is_role = now.result.is_role;
    r.is_free = now.result.is_free;
    r.suggestion = now.result.suggestion;
    decide(Findings::from_bits(cached.probe_findings | now.findings.bits()), &r);
    return r;
}

}  // namespace

std::optional<VerificationResult> cached_verdict(ProberCaches& caches, Level level, const OfflineFindings& found,
                                                 std::string_view input, SteadyClock::time_point started) {
    if (level == Level::Syntax || !found.address.ok()) return std::nullopt;
    auto cached = caches.results.find(cache_key(level, found.address), started);
    if (!cached) return std::nullopt;
    VerificationResult r = refreshed(std::move(*cached), found);
    r.email.assign(input);
    r.from_cache = true;
    r.duration_ms = ms_between(started, SteadyClock::now());
    return r;
}

Verdict stamp(OfflineFindings& item, Level level, const Examined& examined, ProberCaches* results,
              SteadyClock::time_point expires) {
    Verdict verdict;
    VerificationResult& r = item.result;
    bool probed = level != Level::Syntax && item.address.ok();
    bool answered = !probed || item.network_answered;
    if (!answered) decide_without_answer(item, &r);
    r.checked_at_unix = unix_now();
    r.duration_ms += examined.examine_ms;
    verdict.final = answered && !is_transient(r.reason) && !item.deferred;
    verdict.deferred = item.deferred;
    // Unknown verdicts (greylisted, timeouts, ...) are worth asking again
    // soon; only settled ones are reused.
    if (results && probed && answered && !item.deferred && r.status != Status::Unknown)
        results->results.store(cache_key(level, item.address),
                               CachedVerdict{r, item.findings.bits() & ~examined.offline_bits}, expires);
    verdict.result = std::move(r);
    return verdict;
}

}  // namespace ev::prober
