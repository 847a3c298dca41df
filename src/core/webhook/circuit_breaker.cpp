#include "webhook/circuit_breaker.h"

#include <algorithm>
#include <cmath>

namespace ev::webhook {

std::chrono::seconds CircuitBreaker::open_period(int opened_times) const {
    int doublings = std::clamp(opened_times - 1, 0, 40);
    double period = static_cast<double>(options_.first_open.count()) * std::ldexp(1.0, doublings);
    period = std::min(period, static_cast<double>(options_.max_open.count()));
    return std::chrono::seconds(static_cast<std::int64_t>(std::max(period, 0.0)));
}

bool CircuitBreaker::refuses(const BreakerState& s, WallClock::time_point now) const {
    if (!s.open_until) return false;
    if (now < *s.open_until) return true;
    return s.trial_since && now < *s.trial_since + open_period(s.opened_times);
}

bool CircuitBreaker::allows(const std::string& origin, WallClock::time_point now) {
    auto it = states_.find(origin);
    if (it == states_.end()) return true;
    BreakerState& s = it->second;
    if (refuses(s, now)) return false;
    if (s.open_until) s.trial_since = now;  // half-open: this one is the trial
    return true;
}

void CircuitBreaker::record(const std::string& origin, bool success, WallClock::time_point now) {
    if (success) {
        states_.erase(origin);
        return;
    }
    BreakerState& s = states_[origin];
    ++s.consecutive_failures;
    // Attempts that started before the circuit opened may still report in
    // its open period: they neither extend nor re-open it.
    if (s.open_until && now < *s.open_until) return;
    bool trial_failed = s.open_until.has_value();
    if (trial_failed || s.consecutive_failures >= std::max(options_.failure_threshold, 1)) {
        ++s.opened_times;
        s.open_until = now + open_period(s.opened_times);
        s.trial_since.reset();
    }
}

std::vector<std::string> CircuitBreaker::open_origins(WallClock::time_point now) const {
    std::vector<std::string> out;
    for (const auto& [origin, s] : states_)
        if (refuses(s, now)) out.push_back(origin);
    return out;
}

std::optional<BreakerState> CircuitBreaker::state(const std::string& origin) const {
    auto it = states_.find(origin);
    if (it == states_.end()) return std::nullopt;
    return it->second;
}

}  // namespace ev::webhook
