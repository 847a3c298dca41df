// Byte-level text helpers shared by the parsers: UTF-8 validity, control
// characters, ASCII case and whitespace. No locale is consulted, on purpose:
// results must not depend on the server's lc_ctype.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ev::text {

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

// C0 controls (NUL included), DEL and the C1 controls U+0080..U+009F.
// Precondition: s is valid UTF-8.
bool has_control_character(std::string_view s);

bool is_ascii(std::string_view s);
// What one pass over an input finds, worst first: invalid UTF-8 anywhere,
// else a control character (C0, DEL, C1), else whether it is all printable
// ASCII (the common address: in NFC as it is, so it skips the Unicode checks).
enum class TextScan : std::uint8_t { InvalidUtf8, ControlCharacter, PrintableAscii, Unicode };
TextScan scan_text(std::string_view s);

// s with every byte outside printable ASCII replaced by '?'. For text that
// servers send (SMTP replies are ASCII by RFC 5321, yet Latin-1 and UTF-8 turn
// up) and that must be storable in any database encoding.
std::string printable_ascii(std::string_view s);

// Space, tab, CR, LF, VT, FF at either end.
std::string_view trim_ascii_whitespace(std::string_view s);

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string ascii_lowercase(std::string_view s);

bool iequals_ascii(std::string_view a, std::string_view b);

// Calls visit(line) for each non-empty line of a newline-separated blob.
template <typename Visit>
void for_each_line(std::string_view blob, Visit visit) {
    std::size_t start = 0;
    while (start < blob.size()) {
        std::size_t nl = blob.find('\n', start);
        if (nl == std::string_view::npos) nl = blob.size();
        if (nl > start) visit(blob.substr(start, nl - start));
        start = nl + 1;
    }
}

}  // namespace ev::text
