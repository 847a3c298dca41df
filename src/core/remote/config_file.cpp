#include "remote/config_file.h"

#include <cctype>

namespace ev::remote {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// One line's value after the '=': quoted or bare, then only a comment.
// Returns false (with why) when it is malformed.
bool read_value(std::string_view rest, std::string& value, std::string& why) {
    rest = trimmed(rest);
    value.clear();
    if (!rest.empty() && rest.front() == '\'') {
        std::size_t i = 1;
        for (;; ++i) {
            if (i >= rest.size()) return why = "unterminated quoted value", false;
            if (rest[i] == '\'') {
                if (i + 1 < rest.size() && rest[i + 1] == '\'') {
                    value.push_back('\'');
                    ++i;
                    continue;
                }
                break;
            }
            value.push_back(rest[i]);
        }
        std::string_view after = trimmed(rest.substr(i + 1));
        if (!after.empty() && after.front() != '#') return why = "text after the quoted value", false;
        return true;
    }
    std::size_t hash = rest.find('#');
    value = std::string(trimmed(rest.substr(0, hash)));
    if (value.find('\'') != std::string::npos) return why = "a quote inside an unquoted value", false;
    return true;
}

}  // namespace

ConfigFile parse_config(std::string_view text) {
    ConfigFile out;
    int number = 0;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        ++number;
        std::string_view body = trimmed(line);
        if (body.empty() || body.front() == '#') continue;
        std::size_t n = 0;
        while (n < body.size() && is_name_char(body[n])) ++n;
        std::string name(body.substr(0, n));
        std::string_view rest = trimmed(body.substr(n));
        std::string why;
        if (name.empty()) {
            why = "a setting's name expected";
        } else if (rest.empty() || rest.front() != '=') {
            why = "'=' expected after " + name;
        } else {
            std::string value;
            if (read_value(rest.substr(1), value, why)) {
                out.values[name] = std::move(value);
                continue;
            }
        }
        out.error = "line " + std::to_string(number) + ": " + why;
        out.values.clear();
        return out;
    }
    return out;
}

}  // namespace ev::remote
