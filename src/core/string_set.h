// A hash set of strings looked up by string_view without allocating.
// Entries either point into static storage (the embedded lists) or are owned.
// A bit filter (two bits per entry's hash, ~16 bits per entry) answers most
// misses without touching the table, which for the 120k disposable domains
// is far bigger than the CPU caches.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ev {

class StringSet {
  public:
    // Entries of `blob`, one per line; blob must outlive the set.
    void add_lines_static(std::string_view blob);
    // Copies the entry.
    void add(std::string_view entry);
    bool contains(std::string_view entry) const {
        if (set_.empty()) return false;
        std::size_t h = std::hash<std::string_view>{}(entry);
        if (!filter_hit(h)) return false;
        return set_.count(Entry{entry, h}) != 0;
    }
    std::size_t size() const { return set_.size(); }
    void clear();

  private:
    // An entry with its hash, computed once: a lookup hashes for the filter
    // and the table would otherwise hash again.
    struct Entry {
        std::string_view text;
        std::size_t hash;
        static Entry of(std::string_view text) { return Entry{text, std::hash<std::string_view>{}(text)}; }
        bool operator==(const Entry& other) const { return text == other.text; }
    };
    struct EntryHash {
        std::size_t operator()(const Entry& e) const { return e.hash; }
    };

    void insert(std::string_view entry);
    void rebuild_filter();
    bool filter_hit(std::size_t h) const {
        std::size_t a = h & filter_mask_, b = (h >> 32) & filter_mask_;
        return ((filter_[a >> 6] >> (a & 63)) & (filter_[b >> 6] >> (b & 63)) & 1u) != 0;
    }
    void filter_set(std::size_t h) {
        std::size_t a = h & filter_mask_, b = (h >> 32) & filter_mask_;
        filter_[a >> 6] |= std::uint64_t{1} << (a & 63);
        filter_[b >> 6] |= std::uint64_t{1} << (b & 63);
    }

    std::vector<std::uint64_t> filter_ = std::vector<std::uint64_t>(1, 0);
    std::size_t filter_mask_ = 63;   // bit count - 1 (a power of two)
    std::deque<std::string> owned_;  // deque: growing it never moves an entry
    std::unordered_set<Entry, EntryHash> set_;
};

}  // namespace ev
