#include "prober/verifier.h"

#include <algorithm>
#include <string>

namespace ev::prober {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Examining costs ~30 us an address, but a batch may hold millions: the
// clock is read every address and poll called every 20 ms, which keeps the
// 50 ms promise without paying for a poll (a CHECK_FOR_INTERRUPTS through
// the guard, inside PostgreSQL) per address.
constexpr auto kPollEvery = std::chrono::milliseconds(20);

class PollTimer {
  public:
    explicit PollTimer(const Poll& poll) : poll_(poll) {}
    void tick() {
        if (!poll_ || SteadyClock::now() < next_) return;
        poll_();
        next_ = SteadyClock::now() + kPollEvery;
    }

  private:
    const Poll& poll_;
    SteadyClock::time_point next_{};
};

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

bool is_transient(Reason reason) {
    return reason == Reason::Greylisted || reason == Reason::TemporaryFailure || reason == Reason::Timeout ||
           reason == Reason::DnsError;
}

std::vector<Verdict> Verifier::verify(const std::vector<std::string_view>& inputs, Level level,
                                      const VerifierSettings& settings, const Poll& poll, const VerdictReady& ready) {
    const bool network = level != Level::Syntax;
    const bool use_cache = network && settings.result_ttl.count() > 0;
    if (network) caches_.use_for(settings.probe);
    SyntaxVerifier examiner(lists_, suggester_);
    PollTimer poll_timer(poll);
    std::vector<Verdict> verdicts(inputs.size());

    // examine, and answer what the result cache holds
    std::vector<OfflineFindings> items;
    std::vector<std::size_t> item_input;  // items[k] answers inputs[item_input[k]]
    std::vector<double> examine_ms;
    std::vector<std::uint32_t> offline_bits;  // what examine found, before any probe
    bool any_to_probe = false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        poll_timer.tick();
        auto started = SteadyClock::now();
        OfflineFindings found = examiner.examine(inputs[i], settings.syntax);
        if (use_cache && settings.reuse_cached && found.address.ok()) {
            if (auto cached = caches_.results.find(cache_key(level, found.address), started)) {
                VerificationResult& r = verdicts[i].result;
                r = refreshed(std::move(*cached), found);
                r.email.assign(inputs[i]);
                r.from_cache = true;
                r.duration_ms = ms_between(started, SteadyClock::now());
                if (ready) ready(i, verdicts[i]);
                continue;
            }
        }
        any_to_probe = any_to_probe || (network && found.address.ok());
        examine_ms.push_back(ms_between(started, SteadyClock::now()));
        offline_bits.push_back(found.findings.bits());
        items.push_back(std::move(found));
        item_input.push_back(i);
    }

    // stamp, and keep what may be reused: each item as soon as it settles
    auto expires = SteadyClock::now() + settings.result_ttl;
    std::vector<bool> stamped(items.size(), false);
    auto settle = [&](std::size_t k) {
        if (stamped[k]) return;
        stamped[k] = true;
        OfflineFindings& item = items[k];
        VerificationResult& r = item.result;
        bool probed = network && item.address.ok();
        bool answered = !probed || item.network_answered;
        if (!answered) decide_without_answer(item, &r);
        r.checked_at_unix = unix_now();
        r.duration_ms += examine_ms[k];
        Verdict& verdict = verdicts[item_input[k]];
        verdict.final = answered && !is_transient(r.reason) && !item.deferred;
        verdict.deferred = item.deferred;
        // Unknown verdicts (greylisted, timeouts, ...) are worth asking again
        // soon; only settled ones are reused.
        if (use_cache && probed && answered && !item.deferred && r.status != Status::Unknown)
            caches_.results.store(cache_key(level, item.address),
                                  CachedVerdict{r, item.findings.bits() & ~offline_bits[k]}, expires);
        verdict.result = std::move(r);
        if (ready) ready(item_input[k], verdict);
    };
    // What the engine will not probe is settled now.
    for (std::size_t k = 0; k < items.size(); ++k)
        if (!network || !items[k].address.ok()) settle(k);

    // probe
    if (any_to_probe) {
        Engine engine(settings.probe, caches_);
        try {
            engine.run(items, level, poll, [&](std::size_t k) { settle(k); });
        } catch (...) {
            stats_.add(engine.stats());
            throw;
        }
        stats_.add(engine.stats());
    }
    for (std::size_t k = 0; k < items.size(); ++k) settle(k);
    return verdicts;
}

std::vector<Verdict> Verifier::verify(const std::vector<VerifyRequest>& requests, const VerifierSettings& settings,
                                      const Poll& poll, const VerdictReady& ready) {
    std::vector<Verdict> verdicts(requests.size());
    for (Level level : {Level::Syntax, Level::Dns, Level::Smtp}) {
        std::vector<std::string_view> inputs;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < requests.size(); ++i)
            if (requests[i].level == level) {
                inputs.push_back(requests[i].input);
                index.push_back(i);
            }
        if (inputs.empty()) continue;
        VerdictReady ready_here;
        if (ready) ready_here = [&](std::size_t k, const Verdict& v) { ready(index[k], v); };
        std::vector<Verdict> some = verify(inputs, level, settings, poll, ready_here);
        for (std::size_t k = 0; k < index.size(); ++k) verdicts[index[k]] = std::move(some[k]);
    }
    return verdicts;
}

}  // namespace ev::prober
