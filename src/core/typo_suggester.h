// Suggests the domain a user probably meant ("gmial.con" -> "gmail.com").
//
// Conservative by design: a popular domain or one the user listed is never
// corrected, a top-level domain only when it does not exist (special-use
// names such as .test exist), and a whole domain only when it is one edit
// away from a popular mailbox domain and long enough for one edit to be a
// typo rather than another name (so "mail.com", "gmx.com", "max.com" and
// "ao.com" stay as they are).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deletion_index.h"
#include "string_set.h"

namespace ev {

class RiskLists;

class TypoSuggester {
  public:
    // Each argument: one entry per line; popular lists most popular first.
    TypoSuggester(std::string_view popular_domains, std::string_view popular_tlds, std::string_view all_tlds);

    // Built from the shipped lists; constructed once per process.
    static const TypoSuggester& builtin();

    // domain: lower-case A-label. A domain the user added to a list counts as real.
    std::optional<std::string> suggest(std::string_view domain, const RiskLists& lists) const;

    bool is_known_tld(std::string_view tld) const;

  private:
    std::string fix_tld(std::string_view tld) const;
    std::optional<std::size_t> nearest_popular_domain(std::string_view domain) const;
    std::optional<std::string> fix_second_level(std::string_view name, std::string_view suffix,
                                                const RiskLists& lists) const;

    std::vector<std::string> popular_domains_;
    StringSet popular_domain_set_;
    std::vector<std::string> popular_tlds_;
    std::vector<std::string> multi_label_suffixes_;  // "co.uk", "com.br" ...
    std::vector<std::string> popular_slds_;
    StringSet all_tlds_;
    DeletionIndex popular_index_;  // ids: positions in popular_domains_
    DeletionIndex sld_index_;      // ids: positions in popular_slds_
};

}  // namespace ev
