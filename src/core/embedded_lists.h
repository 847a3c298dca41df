// The risk lists shipped with the extension, compiled in from data/*.txt by
// scripts/embed-lists.sh (one entry per line). See data/README.md for their
// provenance and licences.
#pragma once

#include <string_view>

namespace ev::embedded {

std::string_view disposable_domains();
std::string_view free_domains();
std::string_view role_local_parts();
std::string_view tlds();
std::string_view popular_domains();   // most popular first
std::string_view popular_tlds();      // most popular first
std::string_view provider_domains();  // the providers' country domains
std::string_view typo_domains();      // typos of provider domains

}  // namespace ev::embedded
