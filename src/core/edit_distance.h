// Optimal string alignment distance (Levenshtein plus adjacent
// transposition): "gmial" is one edit from "gmail", as a typist sees it.
#pragma once

#include <string_view>

namespace ev {

// Returns the distance, or limit + 1 as soon as it is known to exceed limit.
int osa_distance(std::string_view a, std::string_view b, int limit);

}  // namespace ev
