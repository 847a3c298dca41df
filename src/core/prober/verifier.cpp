#include "prober/verifier.h"

#include "prober/verdict_rules.h"

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

}  // namespace

bool is_transient(Reason reason) {
    return reason == Reason::Greylisted || reason == Reason::TemporaryFailure || reason == Reason::Timeout ||
           reason == Reason::DnsError;
}

std::vector<Verdict> Verifier::verify(const std::vector<std::string_view>& inputs, Level level,
                                      const VerifierSettings& settings, const Poll& poll, const VerdictReady& ready,
                                      const VerdictReleased& released) {
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
        if (use_cache && settings.reuse_cached) {
            if (auto cached = cached_verdict(caches_, level, found, inputs[i], started)) {
                verdicts[i].result = std::move(*cached);
                if (ready) ready(i, verdicts[i]);
                if (released) released(i);
                continue;
            }
        }
        any_to_probe = any_to_probe || (network && found.address.ok());
        examine_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count());
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
        Verdict& verdict = verdicts[item_input[k]];
        verdict = stamp(items[k], level, {examine_ms[k], offline_bits[k]}, use_cache ? &caches_ : nullptr, expires);
        if (ready) ready(item_input[k], verdict);
    };
    std::vector<bool> let_go(items.size(), false);
    auto release = [&](std::size_t k) {
        if (let_go[k]) return;
        let_go[k] = true;
        if (released) released(item_input[k]);
    };
    // What the engine will not probe is settled now.
    for (std::size_t k = 0; k < items.size(); ++k)
        if (!network || !items[k].address.ok()) {
            settle(k);
            release(k);
        }

    // probe
    if (any_to_probe) {
        Engine engine(settings.probe, caches_);
        try {
            engine.run(
                items, level, poll, [&](std::size_t k) { settle(k); }, [&](std::size_t k) { release(k); });
        } catch (...) {
            stats_.add(engine.stats());
            throw;
        }
        stats_.add(engine.stats());
    }
    for (std::size_t k = 0; k < items.size(); ++k) {
        settle(k);
        release(k);
    }
    return verdicts;
}

std::vector<Verdict> Verifier::verify(const std::vector<VerifyRequest>& requests, const VerifierSettings& settings,
                                      const Poll& poll, const VerdictReady& ready, const VerdictReleased& released) {
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
        VerdictReleased released_here;
        if (released) released_here = [&](std::size_t k) { released(index[k]); };
        std::vector<Verdict> some = verify(inputs, level, settings, poll, ready_here, released_here);
        for (std::size_t k = 0; k < index.size(); ++k) verdicts[index[k]] = std::move(some[k]);
    }
    return verdicts;
}

}  // namespace ev::prober
