#include "string_set.h"

#include "text.h"

namespace ev {

namespace {
constexpr std::size_t kFilterBitsPerEntry = 16;
}

void StringSet::insert(std::string_view entry) {
    Entry e = Entry::of(entry);
    set_.insert(e);
    // Grow the filter with the set so it keeps ~16 bits per entry.
    if (set_.size() * kFilterBitsPerEntry > filter_mask_ + 1) rebuild_filter();
    else filter_set(e.hash);
}

void StringSet::rebuild_filter() {
    std::size_t bits = 64;
    while (bits < set_.size() * kFilterBitsPerEntry * 2) bits <<= 1;
    filter_.assign(bits / 64, 0);
    filter_mask_ = bits - 1;
    for (const Entry& e : set_) filter_set(e.hash);
}

void StringSet::add_lines_static(std::string_view blob) {
    std::size_t lines = 0;
    for (char c : blob) lines += c == '\n';
    set_.reserve(set_.size() + lines + 1);
    text::for_each_line(blob, [this](std::string_view line) { set_.insert(Entry::of(line)); });
    rebuild_filter();
}

void StringSet::add(std::string_view entry) {
    if (set_.count(Entry::of(entry))) return;
    owned_.emplace_back(entry);
    insert(owned_.back());
}

void StringSet::clear() {
    set_.clear();
    owned_.clear();
    filter_.assign(1, 0);
    filter_mask_ = 63;
}

}  // namespace ev
