#include "unicode_text.h"

#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include <cstdlib>
#include <memory>

#include "text.h"

namespace ev::unicode {

std::string to_nfc(std::string_view s) {
    if (text::is_ascii(s)) return std::string(s);
    std::size_t length = 0;
    uint8_t* out = u8_normalize(UNINORM_NFC, reinterpret_cast<const uint8_t*>(s.data()), s.size(), nullptr, &length);
    // Only allocation failure makes u8_normalize fail on valid UTF-8; the
    // input then stays as it is and the checks below still run on it.
    if (out == nullptr) return std::string(s);
    std::unique_ptr<uint8_t, decltype(&std::free)> owned(out, &std::free);
    return std::string(reinterpret_cast<const char*>(out), length);
}

LocalProblem check_local_code_points(std::string_view s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const auto* end = p + s.size();
    bool first = true;
    while (p < end) {
        if (*p < 0x80) {  // ASCII is the parser's business (atext)
            ++p;
            first = false;
            continue;
        }
        ucs4_t c = 0;
        int n = u8_mbtouc(&c, p, static_cast<std::size_t>(end - p));
        p += n > 0 ? n : 1;
        if (uc_is_property_white_space(c)) return LocalProblem::Whitespace;
        if (uc_is_general_category(c, UC_FORMAT)) return LocalProblem::Format;
        if (first && uc_is_general_category(c, UC_MARK)) return LocalProblem::CombiningStart;
        if (uc_is_general_category(c, UC_PRIVATE_USE)) return LocalProblem::PrivateUse;
        if (uc_is_property_not_a_character(c)) return LocalProblem::Noncharacter;
        if (uc_is_general_category(c, UC_UNASSIGNED)) return LocalProblem::Unassigned;
        first = false;
    }
    return LocalProblem::None;
}

}  // namespace ev::unicode
