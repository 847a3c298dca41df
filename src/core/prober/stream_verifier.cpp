#include "prober/stream_verifier.h"

namespace ev::prober {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Caches are emptied when the settings that decide where probes go change:
// that must happen before the engine, built on them, exists.
ProberCaches& prepared(ProberCaches& caches, const VerifierSettings& settings) {
    caches.use_for(settings.probe);
    return caches;
}

}  // namespace

StreamVerifier::StreamVerifier(const RiskLists& lists, const TypoSuggester& suggester, ProberCaches& caches,
                               VerifierSettings settings, Ready ready, Released released)
    : lists_(lists),
      suggester_(suggester),
      caches_(caches),
      settings_(std::move(settings)),
      ready_(std::move(ready)),
      released_(std::move(released)),
      engine_(settings_.probe, prepared(caches, settings_)) {
    engine_.set_done([this](std::uint64_t ticket, OfflineFindings& item) {
        auto found = probing_.find(ticket);
        if (found == probing_.end()) return;
        Probing probing = found->second;
        probing_.erase(found);
        bool cache = settings_.result_ttl.count() > 0;
        Verdict verdict = stamp(item, probing.level, probing.examined, cache ? &caches_ : nullptr,
                                SteadyClock::now() + settings_.result_ttl);
        ready_(ticket, verdict);
    });
    engine_.set_released([this](std::uint64_t ticket) {
        if (released_) released_(ticket);
    });
}

void StreamVerifier::submit(std::uint64_t ticket, std::string_view input, Level level) {
    SyntaxVerifier examiner(lists_, suggester_);
    auto started = SteadyClock::now();
    OfflineFindings found = examiner.examine(input, settings_.syntax);
    const bool network = level != Level::Syntax;
    if (network && settings_.result_ttl.count() > 0 && settings_.reuse_cached) {
        if (auto cached = cached_verdict(caches_, level, found, input, started)) {
            Verdict verdict;
            verdict.result = std::move(*cached);
            ready_(ticket, verdict);
            if (released_) released_(ticket);
            return;
        }
    }
    Examined examined{std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count(),
                      found.findings.bits()};
    if (!network || !found.address.ok()) {
        ready_(ticket, stamp(found, level, examined, nullptr, started));
        if (released_) released_(ticket);
        return;
    }
    probing_[ticket] = Probing{level, examined};
    engine_.add(ticket, std::move(found), level);
}

void StreamVerifier::run_for(std::chrono::milliseconds slice, const Poll& poll) { engine_.run_for(slice, poll); }

}  // namespace ev::prober
