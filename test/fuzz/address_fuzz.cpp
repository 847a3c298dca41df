// libFuzzer target: the address parser, list lookups and typo suggestion must
// take any bytes without crashing, and what they accept must be stable.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "syntax_verifier.h"
#include "text.h"
#include "unicode_text.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ev::RiskLists lists = ev::RiskLists::with_builtin_lists();
    static const ev::SyntaxVerifier verifier(lists, ev::TypoSuggester::builtin());
    std::string_view input(reinterpret_cast<const char*>(data), size);

    for (bool relaxed : {false, true}) {
        ev::SyntaxOptions options{relaxed, relaxed};
        ev::OfflineFindings found = verifier.examine(input, options);
        const ev::ParsedAddress& a = found.address;
        if (!a.ok()) continue;
        std::string normalized = a.normalized();
        // Invariants of an accepted address.
        if (normalized.size() > 254 || a.local.size() > 64 || !ev::text::is_ascii(a.domain)) std::abort();
        // An accepted local part is in NFC and free of Unicode whitespace,
        // format, unassigned, noncharacter and private-use code points.
        if (ev::unicode::to_nfc(a.local) != a.local) std::abort();
        std::string_view content = a.local_is_quoted ? std::string_view(a.local).substr(1) : a.local;
        if (ev::unicode::check_local_code_points(content) != ev::unicode::LocalProblem::None) std::abort();
        // Normalising is idempotent.
        ev::ParsedAddress again = ev::parse_address(normalized, options);
        if (!again.ok() || again.normalized() != normalized) std::abort();
        if (found.result.suggestion && !ev::parse_address(*found.result.suggestion, options).ok()) std::abort();
    }
    return 0;
}
