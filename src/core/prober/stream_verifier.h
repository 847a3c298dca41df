// The verifier for a stream of inputs: the external prober's rolling window
// (src/prober/), which keeps claiming work while the slow tail of what it
// claimed before is still being probed. One engine lives as long as the
// stream, so its MX hosts, sessions and what they taught carry over from one
// claim to the next. The rules of a verdict are the batch verifier's
// (verdict_rules.h); each input is handed back by ticket as it settles.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "prober/engine.h"
#include "prober/verdict_rules.h"
#include "prober/verifier.h"

namespace ev::prober {

class StreamVerifier {
  public:
    // Both run inside the loop (or inside submit): take note, never throw.
    // ready: the input's verdict. released: later, no session its domain's
    // probes used is open any more (Engine::Released); what needed no probe
    // is released with its verdict.
    using Ready = std::function<void(std::uint64_t ticket, const Verdict& verdict)>;
    using Released = std::function<void(std::uint64_t ticket)>;

    // lists, suggester and caches must outlive it.
    StreamVerifier(const RiskLists& lists, const TypoSuggester& suggester, ProberCaches& caches,
                   VerifierSettings settings, Ready ready, Released released = nullptr);

    // Examines the input; what needs no probe (syntax level, a syntax
    // failure, a cached verdict) is ready before this returns.
    void submit(std::uint64_t ticket, std::string_view input, Level level);

    // Probes for about `slice`; returns at once when nothing is open.
    void run_for(std::chrono::milliseconds slice, const Poll& poll);

    // Inputs submitted and not yet ready.
    std::size_t open() const { return engine_.open_items(); }
    // Anything left to run for (an input not ready or not released, a session).
    bool busy() const { return engine_.busy(); }

    // The end of the stream: sessions say QUIT, briefly; what is still open
    // is never ready.
    void close(const Poll& poll) { engine_.close(poll); }

    const RunStats& stats() const { return engine_.stats(); }

  private:
    struct Probing {
        Level level;
        Examined examined;
    };

    const RiskLists& lists_;
    const TypoSuggester& suggester_;
    ProberCaches& caches_;
    const VerifierSettings settings_;  // before engine_, which keeps a reference to its probe settings
    Ready ready_;
    Released released_;
    Engine engine_;
    std::unordered_map<std::uint64_t, Probing> probing_;
};

}  // namespace ev::prober
