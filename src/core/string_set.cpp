#include "string_set.h"

namespace ev {

void StringSet::add_lines_static(std::string_view blob) {
    std::size_t start = 0;
    while (start < blob.size()) {
        std::size_t nl = blob.find('\n', start);
        if (nl == std::string_view::npos) nl = blob.size();
        if (nl > start) set_.insert(blob.substr(start, nl - start));
        start = nl + 1;
    }
}

void StringSet::add(std::string_view entry) {
    if (contains(entry)) return;
    owned_.emplace_back(entry);
    set_.insert(owned_.back());
}

void StringSet::clear() {
    set_.clear();
    owned_.clear();
}

}  // namespace ev
