// Finds the entries of a small word list that are within one edit of a
// query, without scanning the list: two strings one edit apart (insert,
// delete, substitute, adjacent swap) always share a "one character deleted"
// variant, so each entry is indexed under the hashes of itself and of its
// one-deletion variants, and a query probes len+1 hashes. A bit filter in
// front keeps the common case (no typo) to a few L1 reads.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ev {

class DeletionIndex {
  public:
    void add(std::string_view entry, std::uint16_t id);

    // Calls visit(id) for every entry that may be within one edit of query
    // (a superset: callers confirm with osa_distance). An id may repeat.
    template <typename Visit>
    void for_each_candidate(std::string_view query, Visit visit) const;

  private:
    static constexpr std::size_t kFilterBits = 1u << 16;
    bool maybe_present(std::uint64_t h) const { return (filter_[(h >> 6) % (kFilterBits / 64)] >> (h & 63)) & 1u; }

    template <typename Visit>
    static void for_each_hash(std::string_view s, Visit visit);

    std::vector<std::uint64_t> filter_ = std::vector<std::uint64_t>(kFilterBits / 64, 0);
    std::unordered_map<std::uint64_t, std::vector<std::uint16_t>> ids_;
};

// Polynomial hashes of s and of s with each single character deleted, all in
// O(len): deleting s[i] gives prefix(i) * B^(n-1-i) + suffix(i+1).
template <typename Visit>
void DeletionIndex::for_each_hash(std::string_view s, Visit visit) {
    constexpr std::uint64_t kBase = 1099511628211ULL;
    constexpr std::size_t kMax = 255;  // a domain's maximum length
    const std::size_t n = s.size();
    if (n > kMax) return;
    std::uint64_t prefix[kMax + 1], suffix[kMax + 1], power[kMax + 1];
    prefix[0] = 0, suffix[n] = 0, power[0] = 1;
    for (std::size_t i = 0; i < n; ++i) {
        prefix[i + 1] = prefix[i] * kBase + static_cast<unsigned char>(s[i]);
        power[i + 1] = power[i] * kBase;
    }
    for (std::size_t i = n; i-- > 0;) suffix[i] = suffix[i + 1] + static_cast<unsigned char>(s[i]) * power[n - 1 - i];
    visit(prefix[n]);
    for (std::size_t i = 0; i < n; ++i) visit(prefix[i] * power[n - 1 - i] + suffix[i + 1]);
}

template <typename Visit>
void DeletionIndex::for_each_candidate(std::string_view query, Visit visit) const {
    for_each_hash(query, [&](std::uint64_t h) {
        if (!maybe_present(h)) return;
        auto it = ids_.find(h);
        if (it == ids_.end()) return;
        for (std::uint16_t id : it->second) visit(id);
    });
}

}  // namespace ev
