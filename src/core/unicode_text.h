// Unicode facts the syntax rules need beyond byte-level UTF-8 (text.h):
// normal form C and the character classes a local part must not contain.
// The data comes from libunistring (Debian 12: 1.0, Unicode 14.0); nothing
// here consults the locale.
#pragma once

#include <string>
#include <string_view>

namespace ev::unicode {

// The first code point of a local part that makes it unsafe, by class.
enum class LocalProblem {
    None,
    Whitespace,      // White_Space (U+00A0, U+2000..U+200A, U+3000, ...)
    Format,          // general category Cf (BOM, ZWSP, ZWJ, soft hyphen, bidi controls)
    CombiningStart,  // the first character is a combining mark (M*)
    Unassigned,      // Cn other than noncharacters: no stable normal form
    Noncharacter,    // U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF
    PrivateUse,      // Co
};

// s in normalization form C. Precondition: s is valid UTF-8. Pure ASCII
// comes back unchanged without a call into libunistring.
std::string to_nfc(std::string_view s);

// to_nfc without its fast path, always through libunistring (for tests).
std::string to_nfc_slow(std::string_view s);

// Classifies the code points of a local part (already NFC). Precondition:
// valid UTF-8.
LocalProblem check_local_code_points(std::string_view s);

// A local part in NFC with the problem check_local_code_points finds in it,
// in one pass over the common case (code points that NFC leaves alone).
struct NormalizedLocal {
    std::string text;
    LocalProblem problem = LocalProblem::None;
};
NormalizedLocal normalize_local(std::string_view s);

// "Byte order mark": U+FEFF encoded, the artefact spreadsheets leave in front
// of the first cell.
inline constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace ev::unicode
