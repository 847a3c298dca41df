// Fuzzes the typo suggester with arbitrary domains: it must never crash,
// never suggest the domain itself, and never correct a real domain.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "risk_lists.h"
#include "typo_suggester.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ev::RiskLists lists = ev::RiskLists::with_builtin_lists();
    const ev::TypoSuggester& suggester = ev::TypoSuggester::builtin();
    std::string_view domain(reinterpret_cast<const char*>(data), size);
    auto suggestion = suggester.suggest(domain, lists);
    if (!suggestion) return 0;
    if (*suggestion == domain) std::abort();
    if (suggester.is_provider(domain) || lists.is_free(domain)) std::abort();
    // What is suggested must not itself be corrected again.
    if (suggester.suggest(*suggestion, lists)) std::abort();
    return 0;
}
