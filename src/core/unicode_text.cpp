#include "unicode_text.h"

#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include <cstdlib>
#include <memory>

namespace ev::unicode {

namespace {

// Ranges where no code point changes under NFC nor composes with a
// neighbour from the same ranges (no canonical singletons, no composition
// exclusions, no combining marks, no second halves of a composition):
// the common letters of Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari,
// Thai, kana, CJK and Hangul syllables. A string made of them and ASCII is
// already in NFC, which spares the far slower u8_normalize.
constexpr ucs4_t kNfcStable[][2] = {
    {0x00A0, 0x02FF}, {0x0391, 0x03A9}, {0x03B1, 0x03C9}, {0x0400, 0x0482}, {0x048A, 0x04FF},
    {0x05D0, 0x05EA}, {0x0620, 0x064A}, {0x0905, 0x0939}, {0x0E01, 0x0E30}, {0x3041, 0x3096},
    {0x30A1, 0x30FA}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
};

bool surely_nfc(std::string_view s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        if (*p < 0x80) {
            ++p;
            continue;
        }
        ucs4_t c = 0;
        int n = u8_mbtouc(&c, p, static_cast<std::size_t>(end - p));
        p += n > 0 ? n : 1;
        bool stable = false;
        for (const auto& range : kNfcStable) stable = stable || (c >= range[0] && c <= range[1]);
        if (!stable) return false;
    }
    return true;
}

}  // namespace

std::string to_nfc(std::string_view s) {
    if (surely_nfc(s)) return std::string(s);
    return to_nfc_slow(s);
}

std::string to_nfc_slow(std::string_view s) {
    std::size_t length = 0;
    uint8_t* out = u8_normalize(UNINORM_NFC, reinterpret_cast<const uint8_t*>(s.data()), s.size(), nullptr, &length);
    // Only allocation failure makes u8_normalize fail on valid UTF-8; the
    // input then stays as it is and the checks below still run on it.
    if (out == nullptr) return std::string(s);
    std::unique_ptr<uint8_t, decltype(&std::free)> owned(out, &std::free);
    return std::string(reinterpret_cast<const char*>(out), length);
}

namespace {

// The checks of one code point beyond ASCII; `first`: it begins the part.
LocalProblem code_point_problem(ucs4_t c, bool first) {
    // One category look-up answers all: beyond ASCII, White_Space is Zs, Zl,
    // Zp and NEL (a Cc), and noncharacters are part of Cn.
    uint32_t category = uc_general_category(c).bitmask;
    if ((category & (UC_CATEGORY_MASK_Zs | UC_CATEGORY_MASK_Zl | UC_CATEGORY_MASK_Zp)) != 0 ||
        ((category & UC_CATEGORY_MASK_Cc) != 0 && uc_is_property_white_space(c)))
        return LocalProblem::Whitespace;
    if ((category & UC_CATEGORY_MASK_Cf) != 0) return LocalProblem::Format;
    if (first && (category & UC_CATEGORY_MASK_M) != 0) return LocalProblem::CombiningStart;
    if ((category & UC_CATEGORY_MASK_Co) != 0) return LocalProblem::PrivateUse;
    if ((category & UC_CATEGORY_MASK_Cn) != 0)
        return uc_is_property_not_a_character(c) ? LocalProblem::Noncharacter : LocalProblem::Unassigned;
    return LocalProblem::None;
}

// Walks the code points beyond ASCII, stopping at the first problem;
// `stable` (may be null) learns whether all were in kNfcStable.
LocalProblem walk_local(std::string_view s, bool* stable) {
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
        if (stable && *stable) {
            bool in_range = false;
            for (const auto& range : kNfcStable) in_range = in_range || (c >= range[0] && c <= range[1]);
            *stable = in_range;
        }
        LocalProblem problem = code_point_problem(c, first);
        if (problem != LocalProblem::None) return problem;
        first = false;
    }
    return LocalProblem::None;
}

}  // namespace

LocalProblem check_local_code_points(std::string_view s) { return walk_local(s, nullptr); }

NormalizedLocal normalize_local(std::string_view s) {
    NormalizedLocal out;
    bool stable = true;
    LocalProblem problem = walk_local(s, &stable);
    // A problem found before the walk learnt the whole part stable may not
    // be the normalised part's: decide on the NFC form then.
    if (stable && problem == LocalProblem::None) {
        out.text.assign(s);
        out.problem = LocalProblem::None;
        return out;
    }
    out.text = to_nfc(s);
    out.problem = check_local_code_points(out.text);
    return out;
}

}  // namespace ev::unicode
