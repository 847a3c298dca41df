#include "sql_redaction.h"

#include "text.h"

namespace ev {

namespace {

constexpr std::string_view kMask = "***";

bool identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

// The end of the quoted literal whose opening quote is at open: one past
// its closing quote, or text.size() when it has none.
std::size_t quoted_end(std::string_view text, std::size_t open) {
    std::size_t i = open + 1;
    while (i < text.size()) {
        if (text[i] == '\\') {
            i += 2;
        } else if (text[i] == '\'') {
            if (i + 1 < text.size() && text[i + 1] == '\'') {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            ++i;
        }
    }
    return text.size();
}

// The length of the dollar-quote tag ($$ or $name$) at i, or 0. $1 is a
// parameter, not a tag.
std::size_t dollar_tag_length(std::string_view text, std::size_t i) {
    if (i > 0 && identifier_char(text[i - 1])) return 0;
    std::size_t j = i + 1;
    while (j < text.size() && identifier_char(text[j]) && !(j == i + 1 && text[j] >= '0' && text[j] <= '9')) ++j;
    if (j < text.size() && text[j] == '$') return j - i + 1;
    return 0;
}

}  // namespace

bool may_hold_webhook_secret(std::string_view text) {
    std::string lower = ev::text::ascii_lowercase(text);
    for (std::string_view name : {"submit_job", "webhook_endpoint", "webhook_secret", "whsec_"})
        if (lower.find(name) != std::string::npos) return true;
    return false;
}

std::string mask_sql_literals(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c == '\'') {
            out += '\'';
            out += kMask;
            out += '\'';
            i = quoted_end(text, i);
            continue;
        }
        if (c == '$') {
            if (std::size_t length = dollar_tag_length(text, i)) {
                std::string_view tag = text.substr(i, length);
                std::size_t close = text.find(tag, i + length);
                out += tag;
                out += kMask;
                out += tag;
                i = close == std::string_view::npos ? text.size() : close + length;
                continue;
            }
        }
        out += c;
        ++i;
    }
    return out;
}

}  // namespace ev
