// The one verification path: examine (syntax, risk lists, typo) -> probe
// (the engine, at levels dns and smtp) -> stamp (checked_at, duration), with
// the result-cache policy in between. verify_email()/verify_emails(), the
// background worker and ev_probe all call it, so a verdict means the same
// thing whichever of them reached it.
//
// What is cached (ProberCaches::results, for result_ttl): verdicts at levels
// dns and smtp of well-formed addresses whose status is valid, invalid or
// risky and that rest on an answer from the network. Never cached, and never
// final: an unknown verdict, and a verdict reached without any DNS or SMTP
// answer (a DNS outage, an unreachable domain literal) whatever its flags —
// such a verdict is made unknown with the network's failure as its reason,
// since a role or disposable flag says nothing about whether the domain
// takes mail.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <vector>

#include "prober/caches.h"
#include "prober/engine.h"
#include "prober/probe_settings.h"
#include "risk_lists.h"
#include "syntax_verifier.h"
#include "typo_suggester.h"

namespace ev::prober {

struct VerifierSettings {
    SyntaxOptions syntax;
    ProbeSettings probe;
    // How long a settled verdict is reused; zero disables the result cache.
    std::chrono::seconds result_ttl{86400};
    // False: every address is probed anew, though its verdict is still kept
    // for others (the worker's re-checks must ask the network).
    bool reuse_cached = true;
};

// One input's verdict.
struct Verdict {
    VerificationResult result;
    // False when asking again later may well answer otherwise: a transient
    // reason (is_transient), or no answer heard from the network at all.
    // The worker retries such verdicts; only final ones are cached.
    bool final = true;
    // Not probed: the MX site's politeness budget stayed spent (never final;
    // the worker puts the item back without counting an attempt).
    bool deferred = false;
};

// One input of a batch whose inputs ask for different levels (the worker's).
struct VerifyRequest {
    std::string_view input;
    Level level = Level::Smtp;
};

// Called with an input's index and its verdict as soon as the verdict is
// reached (before verify returns): inputs that need no probe first, then each
// domain's as its probes end. Runs inside the probe loop: take note, never throw.
using VerdictReady = std::function<void(std::size_t input, const Verdict& verdict)>;

// Called with an input's index after its verdict, once no session its
// domain's probes used is open any more (Engine::Released); at the latest
// before verify returns. Runs inside the probe loop: take note, never throw.
using VerdictReleased = std::function<void(std::size_t input)>;

// Greylisting, 4xx, timeouts and DNS failures: worth asking again later.
bool is_transient(Reason reason);

class Verifier {
  public:
    // lists and suggester must outlive the Verifier; caches are shared across
    // Verifiers of one process and emptied when the settings that decide
    // where probes go change (ProberCaches::use_for).
    Verifier(const RiskLists& lists, const TypoSuggester& suggester, ProberCaches& caches)
        : lists_(lists), suggester_(suggester), caches_(caches) {}

    // Verdicts for `inputs` in input order, all at `level`; levels dns and
    // smtp probe the whole batch concurrently. `poll` runs at least every
    // 50 ms (between addresses while examining, between event-loop turns
    // while probing); it may throw to abandon the batch, every socket is
    // closed on the way out. Throws std::invalid_argument for a DNS server
    // list c-ares refuses.
    std::vector<Verdict> verify(const std::vector<std::string_view>& inputs, Level level,
                                const VerifierSettings& settings, const Poll& poll = nullptr,
                                const VerdictReady& ready = nullptr, const VerdictReleased& released = nullptr);

    // The same for inputs of mixed levels: one probe run per level present.
    std::vector<Verdict> verify(const std::vector<VerifyRequest>& requests, const VerifierSettings& settings,
                                const Poll& poll = nullptr, const VerdictReady& ready = nullptr,
                                const VerdictReleased& released = nullptr);

    // The prober's counters over every run of this Verifier, including one a
    // poll abandoned.
    const RunStats& stats() const { return stats_; }

  private:
    const RiskLists& lists_;
    const TypoSuggester& suggester_;
    ProberCaches& caches_;
    RunStats stats_;
};

}  // namespace ev::prober
