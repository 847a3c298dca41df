#include "queue/domain_tally.h"

namespace ev::queue {

std::string lease_domain(std::string_view address) {
    std::size_t at = address.rfind('@');
    if (at == std::string_view::npos) return "";
    std::string domain(address.substr(at + 1));
    for (char& c : domain)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return domain;
}

void DomainTally::add(std::string_view address) { ++in_flight_[lease_domain(address)]; }

std::optional<std::string> DomainTally::settle(std::string_view address) {
    auto it = in_flight_.find(lease_domain(address));
    if (it == in_flight_.end() || --it->second > 0) return std::nullopt;
    std::string domain = it->first;
    in_flight_.erase(it);
    return domain;
}

std::vector<std::string> DomainTally::take_all() {
    std::vector<std::string> all;
    all.reserve(in_flight_.size());
    for (auto& [domain, count] : in_flight_) all.push_back(domain);
    in_flight_.clear();
    return all;
}

}  // namespace ev::queue
