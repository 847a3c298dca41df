#include "remote/claim_window.h"

#include <algorithm>

namespace ev::remote {

std::vector<std::uint64_t> ClaimWindow::add(std::vector<ClaimedItem> items) {
    std::vector<std::uint64_t> tickets;
    tickets.reserve(items.size());
    for (ClaimedItem& item : items) {
        if (item.claim) ++claim_open_[*item.claim];
        std::uint64_t ticket = next_ticket_++;
        if (item.level == Level::Smtp) {
            leased_.add(item.email);
            unreleased_.emplace(ticket, item.email);
        }
        open_.emplace(ticket, std::move(item));
        tickets.push_back(ticket);
    }
    return tickets;
}

const ClaimedItem* ClaimWindow::find(std::uint64_t ticket) const {
    auto found = open_.find(ticket);
    return found == open_.end() ? nullptr : &found->second;
}

std::vector<std::uint64_t> ClaimWindow::open_tickets() const {
    std::vector<std::uint64_t> tickets;
    tickets.reserve(open_.size());
    for (const auto& [ticket, item] : open_) tickets.push_back(ticket);
    return tickets;
}

void ClaimWindow::settle(std::uint64_t ticket, const prober::Verdict& verdict) {
    auto found = open_.find(ticket);
    if (found == open_.end()) return;
    ClaimedItem item = std::move(found->second);
    open_.erase(found);
    if (item.claim) {
        auto claim = claim_open_.find(*item.claim);
        if (claim != claim_open_.end() && --claim->second == 0) {
            ends_.claims.push_back(claim->first);
            claim_open_.erase(claim);
        }
    }
    settled_.push_back({std::move(item), verdict});
}

void ClaimWindow::release(std::uint64_t ticket) {
    auto found = unreleased_.find(ticket);
    if (found == unreleased_.end()) return;
    if (auto done = leased_.settle(found->second)) ends_.domains.push_back(std::move(*done));
    unreleased_.erase(found);
}

void ClaimWindow::release_all() {
    for (std::string& domain : leased_.take_all()) ends_.domains.push_back(std::move(domain));
    unreleased_.clear();
}

BatchReport ClaimWindow::take_report(const queue::RetryPolicy& policy, std::mt19937& random,
                                     const std::optional<std::string>& error) {
    ends_.in_flight = static_cast<int>(open_.size());
    ends_.error = error;
    // A domain whose last item was released, and which a later claim
    // brought items of again (the prober still held its lease), is not
    // done after all: its lease must stay.
    auto again = std::remove_if(ends_.domains.begin(), ends_.domains.end(),
                                [this](const std::string& d) { return leased_.holds(d); });
    ends_.domains.erase(again, ends_.domains.end());
    BatchReport report = build_report(settled_, ends_, policy, random);
    settled_.clear();
    ends_ = ReportEnds{};
    return report;
}

}  // namespace ev::remote
