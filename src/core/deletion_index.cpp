#include "deletion_index.h"

namespace ev {

void DeletionIndex::add(std::string_view entry, std::uint16_t id) {
    for_each_hash(entry, [&](std::uint64_t h) {
        filter_[(h >> 6) % (kFilterBits / 64)] |= std::uint64_t{1} << (h & 63);
        auto& slot = ids_[h];
        if (slot.empty() || slot.back() != id) slot.push_back(id);
    });
}

}  // namespace ev
