#include "edit_distance.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

namespace ev {

int osa_distance(std::string_view a, std::string_view b, int limit) {
    const int n = static_cast<int>(a.size());
    const int m = static_cast<int>(b.size());
    if (std::abs(n - m) > limit) return limit + 1;
    // Three rolling rows: transposition looks two rows back. Domains and
    // labels fit the stack rows; only odd long inputs go to the heap.
    constexpr int kStackRow = 256;
    std::array<int, kStackRow + 1> s0, s1, s2;
    std::vector<int> h0, h1, h2;
    int *prev2 = s0.data(), *prev = s1.data(), *cur = s2.data();
    if (m > kStackRow) {
        h0.resize(m + 1), h1.resize(m + 1), h2.resize(m + 1);
        prev2 = h0.data(), prev = h1.data(), cur = h2.data();
    }
    for (int j = 0; j <= m; ++j) prev[j] = j;
    for (int i = 1; i <= n; ++i) {
        cur[0] = i;
        int row_min = cur[0];
        for (int j = 1; j <= m; ++j) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = std::min(v, prev2[j - 2] + 1);
            cur[j] = v;
            row_min = std::min(row_min, v);
        }
        if (row_min > limit) return limit + 1;
        std::swap(prev2, prev);
        std::swap(prev, cur);
    }
    return std::min(prev[m], limit + 1);
}

}  // namespace ev
