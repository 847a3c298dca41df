// Suggests the domain a user probably meant ("gmial.con" -> "gmail.com").
//
// Never wrong where it speaks, by construction:
//  - a real domain is never corrected: a provider domain (the popular list and
//    the providers' country domains), a domain of the free or disposable list
//    (the typo domains are kept apart in their own list), or one the user
//    listed;
//  - what it suggests is a provider domain, or the same name with a mistyped
//    top-level domain that does not exist fixed; never the domain itself.
// A domain one edit from several providers goes to the most popular of them
// whose name it is closest to ("yandex.fu" -> "yandex.ru", not "yandex.fr").
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
    // Each argument: one entry per line. popular_domains and popular_tlds most
    // popular first; provider_domains (country domains of the same providers)
    // rank after the popular ones; typo_domains are known typos of them.
    TypoSuggester(std::string_view popular_domains, std::string_view provider_domains, std::string_view typo_domains,
                  std::string_view popular_tlds, std::string_view all_tlds);

    // Built from the shipped lists; constructed once per process.
    static const TypoSuggester& builtin();

    // domain: lower-case A-label. A domain the user added to a list counts as real.
    std::optional<std::string> suggest(std::string_view domain, const RiskLists& lists) const;

    bool is_known_tld(std::string_view tld) const;
    bool is_provider(std::string_view domain) const { return provider_set_.contains(domain); }
    bool is_typo_domain(std::string_view domain) const { return typo_set_.contains(domain); }

  private:
    bool is_real(std::string_view domain, const RiskLists& lists) const;
    std::optional<std::string> fix_tld(std::string_view tld) const;
    std::optional<std::size_t> nearest_provider(std::string_view domain) const;
    std::optional<std::size_t> nearest_by_name_and_suffix(std::string_view domain) const;
    void add_provider(std::string_view domain);

    std::vector<std::string> providers_;  // rank order
    StringSet provider_set_;
    StringSet typo_set_;
    std::vector<std::string> popular_tlds_;
    StringSet all_tlds_;
    DeletionIndex provider_index_;  // ids: positions in providers_
    // A provider's first label ("yahoo" of "yahoo.co.uk") and the providers
    // that carry it, for a typo in both the name and the suffix.
    std::vector<std::string> names_;
    std::vector<std::vector<std::uint16_t>> providers_by_name_;
    DeletionIndex name_index_;  // ids: positions in names_
};

}  // namespace ev
