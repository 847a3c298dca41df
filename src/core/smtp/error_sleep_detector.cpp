#include "smtp/error_sleep_detector.h"

#include <algorithm>

namespace ev::smtp {

namespace {

// Replies closer together than this left the server in one write (or in
// the TCP segments of one write).
constexpr auto kBurstGap = std::chrono::milliseconds(20);
// Bursts the ordinary pace is taken from.
constexpr std::size_t kKept = 16;

}  // namespace

void ErrorSleepDetector::on_reply(Clock::time_point sent, Clock::time_point arrived, int refusals) {
    if (settled_) return;
    // A command written after the previous reply came starts a burst of its
    // own, however fast the server answered it.
    bool waited_for = !any_reply_ || sent >= last_arrival_;
    if (waited_for || arrived - last_arrival_ > kBurstGap) {
        if (slowed_after_ > 0) {
            settled_ = true;  // later bursts are slowed too, and say nothing new
            return;
        }
        // Slow before anything was refused: that is the server's pace.
        if (burst_slow_) remember(burst_took_);
        burst_took_ = arrived - (any_reply_ ? std::max(sent, last_arrival_) : sent);
        burst_slow_ = !ordinary_.empty() && burst_took_ >= ordinary() + threshold_;
        if (!burst_slow_) remember(burst_took_);
    }
    any_reply_ = true;
    last_arrival_ = arrived;
    // The server writes what it kept back right after the reply it slowed:
    // the burst's last reply is the slowed one, so the last count stands.
    if (burst_slow_ && refusals > 0) slowed_after_ = refusals;
}

ErrorSleepDetector::Clock::duration ErrorSleepDetector::ordinary() const {
    std::vector<Clock::duration> sorted = ordinary_;
    auto middle = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
    std::nth_element(sorted.begin(), middle, sorted.end());
    return *middle;
}

void ErrorSleepDetector::remember(Clock::duration took) {
    if (ordinary_.size() == kKept) ordinary_.erase(ordinary_.begin());
    ordinary_.push_back(took);
}

}  // namespace ev::smtp
