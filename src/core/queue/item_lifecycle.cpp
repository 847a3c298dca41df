#include "queue/item_lifecycle.h"

#include <algorithm>
#include <cmath>

namespace ev::queue {

std::optional<Transition> transition(ItemState from, ItemEvent event) {
    switch (event) {
        case ItemEvent::Claim:
            if (from == ItemState::Pending) return Transition{ItemState::Claimed, false};
            return std::nullopt;
        case ItemEvent::LeaseExpired:
            if (from == ItemState::Claimed) return Transition{ItemState::Claimed, true};
            return std::nullopt;
        case ItemEvent::VerdictWritten:
            if (from == ItemState::Claimed) return Transition{std::nullopt, false};
            return std::nullopt;
        case ItemEvent::RetryLater:
        case ItemEvent::Released:
            if (from == ItemState::Claimed) return Transition{ItemState::Pending, true};
            return std::nullopt;
        case ItemEvent::PutBack:
            if (from == ItemState::Claimed) return Transition{ItemState::Pending, false};
            return std::nullopt;
        case ItemEvent::WriteFailed:
            if (from == ItemState::Claimed) return Transition{ItemState::Failed, false};
            return std::nullopt;
        case ItemEvent::GivenUp:
            if (from != ItemState::Failed) return Transition{ItemState::Failed, false};
            return std::nullopt;
    }
    return std::nullopt;
}

std::chrono::seconds RetryPolicy::backoff(int attempts, double jitter) const {
    double base = static_cast<double>(retry_delay.count()) * std::pow(2.0, std::clamp(attempts, 0, 16));
    return std::chrono::seconds(std::max(1L, static_cast<long>(base * jitter)));
}

}  // namespace ev::queue
