#include "typo_suggester.h"

#include <algorithm>

#include "edit_distance.h"
#include "embedded_lists.h"
#include "risk_lists.h"
#include "text.h"

namespace ev {

namespace {

constexpr int kMaxTldDistance = 1;

// Special-use names (RFC 2606, RFC 6761, RFC 7686, RFC 9476) are not in the
// root zone but are not typos either: labs and intranets use them.
constexpr std::string_view kSpecialUseTlds[] = {"test",  "example",  "invalid", "localhost", "local",
                                                "onion", "internal", "alt",     "lan",       "home"};

std::vector<std::string> split_lines(std::string_view blob) {
    std::vector<std::string> out;
    text::for_each_line(blob, [&out](std::string_view line) { out.emplace_back(line); });
    return out;
}

// "yahoo.co.uk" -> {"yahoo", "co.uk"}; a name without a dot has no suffix.
std::pair<std::string_view, std::string_view> split_first_label(std::string_view domain) {
    std::size_t dot = domain.find('.');
    if (dot == std::string_view::npos) return {domain, {}};
    return {domain.substr(0, dot), domain.substr(dot + 1)};
}

}  // namespace

TypoSuggester::TypoSuggester(std::string_view popular_domains, std::string_view provider_domains,
                             std::string_view typo_domains, std::string_view popular_tlds, std::string_view all_tlds)
    : popular_tlds_(split_lines(popular_tlds)) {
    all_tlds_.add_lines_static(all_tlds);
    typo_set_.add_lines_static(typo_domains);
    for (const std::string& d : split_lines(popular_domains)) add_provider(d);
    for (const std::string& d : split_lines(provider_domains)) add_provider(d);
}

void TypoSuggester::add_provider(std::string_view domain) {
    if (provider_set_.contains(domain)) return;
    auto id = static_cast<std::uint16_t>(providers_.size());
    providers_.emplace_back(domain);
    provider_set_.add(domain);
    provider_index_.add(domain, id);
    std::string_view name = split_first_label(domain).first;
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) {
        name_index_.add(name, static_cast<std::uint16_t>(names_.size()));
        names_.emplace_back(name);
        providers_by_name_.emplace_back();
        it = names_.end() - 1;
    }
    providers_by_name_[static_cast<std::size_t>(it - names_.begin())].push_back(id);
}

const TypoSuggester& TypoSuggester::builtin() {
    static const TypoSuggester instance(embedded::popular_domains(), embedded::provider_domains(),
                                        embedded::typo_domains(), embedded::popular_tlds(), embedded::tlds());
    return instance;
}

bool TypoSuggester::is_known_tld(std::string_view tld) const {
    if (all_tlds_.contains(tld)) return true;
    for (std::string_view special : kSpecialUseTlds)
        if (tld == special) return true;
    return false;
}

// The shipped free and disposable lists hold real domains only (their typo
// domains are in typo_domains.txt, on neither list): anything listed there,
// or by the user, is meant as it is.
bool TypoSuggester::is_real(std::string_view domain, const RiskLists& lists) const {
    if (provider_set_.contains(domain) || lists.is_user_listed(domain)) return true;
    if (typo_set_.contains(domain)) return false;
    return lists.is_free(domain) || lists.is_disposable(domain);
}

// A top-level domain that does not exist, one edit from a common one; ties go
// to the more common ("cmo" is "com" rather than "co").
std::optional<std::string> TypoSuggester::fix_tld(std::string_view tld) const {
    if (is_known_tld(tld)) return std::nullopt;
    for (const std::string& candidate : popular_tlds_) {
        if (candidate.find('.') != std::string::npos) continue;
        if (osa_distance(tld, candidate, kMaxTldDistance) <= kMaxTldDistance) return candidate;
    }
    return std::nullopt;
}

// The provider one edit from domain. One that carries the same name ranks
// first: the name is what the user meant to type, so "yandex.fu" is
// yandex.ru and never another brand's domain at the same distance. Among
// equals the more popular wins ("hotmail.co" is hotmail.com, not hotmail.ca).
std::optional<std::size_t> TypoSuggester::nearest_provider(std::string_view domain) const {
    std::optional<std::size_t> best;
    std::string_view name = split_first_label(domain).first;
    bool best_same_name = false;
    provider_index_.for_each_candidate(domain, [&](std::uint16_t id) {
        const std::string& p = providers_[id];
        if (osa_distance(domain, p, 1) > 1) return;
        bool same_name = split_first_label(p).first == name;
        if (!best || (same_name && !best_same_name) || (same_name == best_same_name && id < *best)) {
            best = id;
            best_same_name = same_name;
        }
    });
    return best;
}

// One edit in the name and one in a suffix that does not exist
// ("gmial.con"): the name must reach a provider's name, the suffix that
// provider's suffix.
std::optional<std::size_t> TypoSuggester::nearest_by_name_and_suffix(std::string_view domain) const {
    const auto parts = split_first_label(domain);
    const std::string_view name = parts.first;
    const std::string_view suffix = parts.second;
    if (suffix.empty()) return std::nullopt;
    std::optional<std::size_t> best;
    name_index_.for_each_candidate(name, [&](std::uint16_t name_id) {
        if (osa_distance(name, names_[name_id], 1) > 1) return;
        for (std::uint16_t id : providers_by_name_[name_id]) {
            if (best && *best <= id) continue;
            if (osa_distance(suffix, split_first_label(providers_[id]).second, 1) <= 1) best = id;
        }
    });
    return best;
}

std::optional<std::string> TypoSuggester::suggest(std::string_view domain, const RiskLists& lists) const {
    if (is_real(domain, lists)) return std::nullopt;
    std::size_t dot = domain.rfind('.');
    bool tld_exists = dot != std::string_view::npos && is_known_tld(domain.substr(dot + 1));

    if (auto id = nearest_provider(domain)) return providers_[*id];
    if (!tld_exists) {
        if (auto id = nearest_by_name_and_suffix(domain)) return providers_[*id];
    }
    if (dot == std::string_view::npos || tld_exists) return std::nullopt;
    // Only the top-level domain is wrong, and the name is nobody's typo.
    auto tld = fix_tld(domain.substr(dot + 1));
    if (!tld) return std::nullopt;
    std::string fixed = std::string(domain.substr(0, dot + 1)) + *tld;
    // "gmx.on" -> "gmx.in" is one edit from gmx.ie: a guess between
    // providers, which is not ours to make.
    if (nearest_provider(fixed)) return std::nullopt;
    return fixed;
}

}  // namespace ev
