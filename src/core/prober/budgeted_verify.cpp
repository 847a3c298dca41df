#include "prober/budgeted_verify.h"

#include <algorithm>
#include <optional>
#include <string>

namespace ev::prober {

namespace {

// Between two looks at the clock while probing: the budget is overrun by at
// most about this much.
constexpr auto kBudgetTurn = std::chrono::milliseconds(4);

// Thrown by the poll when the budget has run out; caught below, never
// beyond.
struct BudgetSpent {};

}  // namespace

BudgetedVerdict verify_within(Verifier& verifier, std::string_view input, Level level, VerifierSettings settings,
                              std::chrono::milliseconds budget, const Poll& poll) {
    using Clock = std::chrono::steady_clock;
    const auto started = Clock::now();
    const auto deadline = started + budget;
    settings.probe.turn = std::min(settings.probe.turn, kBudgetTurn);

    std::optional<Verdict> reached;
    auto budgeted_poll = [&] {
        if (poll) poll();
        if (Clock::now() >= deadline) throw BudgetSpent{};
    };
    try {
        auto verdicts = verifier.verify({input}, level, settings, budgeted_poll,
                                        [&](std::size_t, const Verdict& v) { reached = v; });
        return BudgetedVerdict{std::move(verdicts.front()), false};
    } catch (const BudgetSpent&) {
        // Reached, and the budget ran out while the session said goodbye.
        if (reached) return BudgetedVerdict{std::move(*reached), false};
    }

    // What is known without the network.
    BudgetedVerdict out;
    out.budget_spent = true;
    out.verdict = std::move(verifier.verify({input}, Level::Syntax, settings).front());
    VerificationResult& r = out.verdict.result;
    r.level = level;
    if (r.status == Status::Valid) {
        r.status = Status::Unknown;
        r.reason = Reason::Timeout;
        r.score = delivery_score(Reason::Timeout, r.suggestion.has_value());
        r.smtp_message = "the check's time budget of " + std::to_string(budget.count()) + " ms ran out";
    }
    out.verdict.final = false;
    r.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    return out;
}

}  // namespace ev::prober
