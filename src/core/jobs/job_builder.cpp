#include "jobs/job_builder.h"

#include <functional>
#include <stdexcept>

#include "jobs/address_key.h"

namespace ev::jobs {

std::string_view JobBuilder::key(std::int32_t ordinal) const {
    auto n = static_cast<std::size_t>(ordinal);
    std::size_t end = n + 1 < offsets_.size() ? offsets_[n + 1] : arena_.size();
    return std::string_view(arena_).substr(offsets_[n], end - offsets_[n]);
}

void JobBuilder::grow() {
    std::vector<std::int32_t> bigger(table_.size() * 2, 0);
    const std::size_t mask = bigger.size() - 1;
    for (std::int32_t entry : table_) {
        if (entry == 0) continue;
        std::size_t at = std::hash<std::string_view>{}(key(entry - 1)) & mask;
        while (bigger[at] != 0) at = (at + 1) & mask;
        bigger[at] = entry;
    }
    table_.swap(bigger);
}

std::int32_t JobBuilder::add(std::string_view input) {
    ++inputs_;
    std::string wanted = address_key(input);
    // At most half full: probes stay short.
    if ((offsets_.size() + 1) * 2 > table_.size()) grow();
    const std::size_t mask = table_.size() - 1;
    std::size_t at = std::hash<std::string_view>{}(wanted)&mask;
    for (; table_[at] != 0; at = (at + 1) & mask) {
        std::int32_t ordinal = table_[at] - 1;
        if (key(ordinal) == wanted) {
            ++copies_[static_cast<std::size_t>(ordinal)];
            return ordinal;
        }
    }
    if (offsets_.size() >= static_cast<std::size_t>(INT32_MAX - 1))
        throw std::length_error("a job holds at most 2147483646 distinct addresses");
    auto ordinal = static_cast<std::int32_t>(offsets_.size());
    offsets_.push_back(arena_.size());
    arena_.append(wanted);
    copies_.push_back(1);
    table_[at] = ordinal + 1;
    return ordinal;
}

std::vector<std::string_view> JobBuilder::chunk_keys(std::int32_t chunk) const {
    std::vector<std::string_view> keys;
    std::int32_t first = chunk * kAddressChunk;
    for (std::int32_t n = first; n < addresses() && n < first + kAddressChunk; ++n) keys.push_back(key(n));
    return keys;
}

std::vector<std::int32_t> JobBuilder::chunk_copies(std::int32_t chunk) const {
    std::int32_t first = chunk * kAddressChunk;
    std::int32_t last = std::min(addresses(), first + kAddressChunk);
    if (first >= last) return {};
    return std::vector<std::int32_t>(copies_.begin() + first, copies_.begin() + last);
}

}  // namespace ev::jobs
