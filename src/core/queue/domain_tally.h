// Which leased domains a claimer still holds items of. A domain lease
// (email_verify_internal.domain_leases) keeps the other claimers off a
// domain while this one probes it; it should end as soon as the claimer's
// last item of the domain has settled, not when its whole batch has: one
// tarpitting domain would otherwise hold every other domain of the batch
// away from the other probers and workers.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ev::queue {

// The domain of an address as leases key it: after the last '@', ASCII
// lower-cased; empty when there is none.
std::string lease_domain(std::string_view address);

class DomainTally {
  public:
    // One more item of the address's domain in flight.
    void add(std::string_view address);

    // One item of the address's domain settled; the domain when it was
    // its last in flight (the domain is then forgotten).
    std::optional<std::string> settle(std::string_view address);

    // Whether an item of this domain (as lease_domain gives it) is in flight.
    bool holds(const std::string& domain) const { return in_flight_.count(domain) > 0; }

    // The domains still in flight, forgotten (a batch's end).
    std::vector<std::string> take_all();

    std::size_t domains() const { return in_flight_.size(); }

  private:
    std::unordered_map<std::string, std::size_t> in_flight_;
};

}  // namespace ev::queue
