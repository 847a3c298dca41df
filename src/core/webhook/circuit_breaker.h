// Per receiver origin: after a run of failures, stop sending there for a
// while (30 s, doubling at each re-open up to 30 min), then let a single
// attempt through; its success closes the circuit, its failure re-opens it.
// Keeps a dead receiver from taking every delivery slot and every retry.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "webhook/retry_schedule.h"

namespace ev::webhook {

struct BreakerOptions {
    int failure_threshold = 5;  // consecutive failures that open the circuit
    std::chrono::seconds first_open{30};
    std::chrono::seconds max_open{30 * 60};
};

struct BreakerState {
    int consecutive_failures = 0;
    int opened_times = 0;                             // re-opens since it was last closed; sets the next open period
    std::optional<WallClock::time_point> open_until;  // set while open or half-open
    // The half-open trial attempt let through and not yet recorded; it lapses
    // after one open period, so a lost result does not close the origin forever.
    std::optional<WallClock::time_point> trial_since;
};

class CircuitBreaker {
  public:
    explicit CircuitBreaker(BreakerOptions options = {}) : options_(options) {}

    // Whether an attempt to origin may start now. After the open period the
    // first call answers true (the half-open trial) and later ones false
    // until record() reports it. A refused attempt is no failure: reschedule
    // it without counting an attempt.
    bool allows(const std::string& origin, WallClock::time_point now);
    // The result of an attempt that allows() let through.
    void record(const std::string& origin, bool success, WallClock::time_point now);

    // Origins that allows() would refuse now, for the claim query to skip.
    std::vector<std::string> open_origins(WallClock::time_point now) const;
    // For a view; nullopt for an origin with no failure on record.
    std::optional<BreakerState> state(const std::string& origin) const;
    // Every origin with a failure on record.
    const std::map<std::string, BreakerState>& states() const { return states_; }

  private:
    std::chrono::seconds open_period(int opened_times) const;
    bool refuses(const BreakerState& s, WallClock::time_point now) const;

    BreakerOptions options_;
    std::map<std::string, BreakerState> states_;
};

}  // namespace ev::webhook
