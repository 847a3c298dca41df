// A hash set of strings looked up by string_view without allocating.
// Entries either point into static storage (the embedded lists) or are owned.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

namespace ev {

class StringSet {
  public:
    // Entries of `blob`, one per line; blob must outlive the set.
    void add_lines_static(std::string_view blob);
    // Copies the entry.
    void add(std::string_view entry);
    bool contains(std::string_view entry) const { return set_.count(entry) != 0; }
    std::size_t size() const { return set_.size(); }
    void clear();

  private:
    std::deque<std::string> owned_;  // deque: growing it never moves an entry
    std::unordered_set<std::string_view> set_;
};

}  // namespace ev
