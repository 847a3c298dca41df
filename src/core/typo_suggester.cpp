#include "typo_suggester.h"

#include <algorithm>

#include "edit_distance.h"
#include "embedded_lists.h"
#include "risk_lists.h"
#include "text.h"

namespace ev {

namespace {

// One edit in a shorter domain is as likely another real name as a typo
// ("max.com" is not "mac.com").
constexpr std::size_t kMinLengthForCorrection = 8;
constexpr std::size_t kMinSecondLevelLength = 5;
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

}  // namespace

TypoSuggester::TypoSuggester(std::string_view popular_domains, std::string_view popular_tlds, std::string_view all_tlds)
    : popular_domains_(split_lines(popular_domains)), popular_tlds_(split_lines(popular_tlds)) {
    all_tlds_.add_lines_static(all_tlds);
    for (const std::string& suffix : popular_tlds_)
        if (suffix.find('.') != std::string::npos) multi_label_suffixes_.push_back(suffix);
    for (std::size_t i = 0; i < popular_domains_.size(); ++i) {
        const std::string& d = popular_domains_[i];
        popular_domain_set_.add(d);
        popular_index_.add(d, static_cast<std::uint16_t>(i));
        std::string sld = d.substr(0, d.find('.'));
        if (std::find(popular_slds_.begin(), popular_slds_.end(), sld) == popular_slds_.end()) {
            sld_index_.add(sld, static_cast<std::uint16_t>(popular_slds_.size()));
            popular_slds_.push_back(sld);
        }
    }
}

const TypoSuggester& TypoSuggester::builtin() {
    static const TypoSuggester instance(embedded::popular_domains(), embedded::popular_tlds(), embedded::tlds());
    return instance;
}

bool TypoSuggester::is_known_tld(std::string_view tld) const {
    if (all_tlds_.contains(tld)) return true;
    for (std::string_view special : kSpecialUseTlds)
        if (tld == special) return true;
    return false;
}

std::string TypoSuggester::fix_tld(std::string_view tld) const {
    if (is_known_tld(tld)) return std::string(tld);
    const std::string* best = nullptr;
    int best_distance = kMaxTldDistance + 1;
    for (const std::string& candidate : popular_tlds_) {
        if (candidate.find('.') != std::string::npos) continue;
        int d = osa_distance(tld, candidate, kMaxTldDistance);
        if (d < best_distance) {  // strict: ties go to the more popular
            best_distance = d;
            best = &candidate;
        }
    }
    return best ? *best : std::string(tld);
}

std::optional<std::size_t> TypoSuggester::nearest_popular_domain(std::string_view domain) const {
    std::optional<std::size_t> best;
    popular_index_.for_each_candidate(domain, [&](std::uint16_t idx) {
        if (best && *best <= idx) return;  // a more popular match is already known
        if (osa_distance(domain, popular_domains_[idx], 1) <= 1) best = idx;
    });
    return best;
}

std::optional<std::string> TypoSuggester::fix_second_level(std::string_view name, std::string_view suffix,
                                                           const RiskLists& lists) const {
    if (name.size() < kMinSecondLevelLength || name.find('.') != std::string_view::npos) return std::nullopt;
    std::optional<std::string> found;
    sld_index_.for_each_candidate(name, [&](std::uint16_t idx) {
        const std::string& sld = popular_slds_[idx];
        if (found || osa_distance(name, sld, 1) > 1) return;
        std::string candidate = sld + '.' + std::string(suffix);
        if (popular_domain_set_.contains(candidate) || lists.is_free(candidate)) found = std::move(candidate);
    });
    return found;
}

std::optional<std::string> TypoSuggester::suggest(std::string_view domain, const RiskLists& lists) const {
    // The shipped free and disposable lists hold typo domains too (gmial.com
    // is "free", gmai.com "disposable"), so only the popular list and the
    // user's own entries prove a domain is meant as it is.
    if (popular_domain_set_.contains(domain) || lists.is_user_listed(domain)) return std::nullopt;

    std::size_t dot = domain.rfind('.');
    if (dot == std::string_view::npos) return std::nullopt;
    std::string_view name = domain.substr(0, dot);
    std::string tld = fix_tld(domain.substr(dot + 1));
    std::string candidate = std::string(name) + '.' + tld;
    if (candidate != domain && popular_domain_set_.contains(candidate)) return candidate;

    if (candidate.size() >= kMinLengthForCorrection) {
        if (auto idx = nearest_popular_domain(candidate)) return popular_domains_[*idx];
    }
    // A typo in the name before a known multi-label suffix ("yaho.co.uk"),
    // or before a plain TLD ("hotmial.fr").
    for (const std::string& suffix : multi_label_suffixes_) {
        if (candidate.size() > suffix.size() + 1 &&
            candidate.compare(candidate.size() - suffix.size(), suffix.size(), suffix) == 0 &&
            candidate[candidate.size() - suffix.size() - 1] == '.') {
            std::string_view head = std::string_view(candidate).substr(0, candidate.size() - suffix.size() - 1);
            if (auto fixed = fix_second_level(head, suffix, lists)) return fixed;
        }
    }
    if (auto fixed = fix_second_level(name, tld, lists)) return fixed;

    if (candidate != domain) return candidate;  // only the TLD was wrong
    return std::nullopt;
}

}  // namespace ev
