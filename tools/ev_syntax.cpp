// The address parser from the command line, for the differential test
// (test/differential/): one address per stdin line, written in hex so that
// any byte (NUL, CR, LF) can be tried; prints one line per address:
// "ok<TAB>normalized" or "invalid<TAB>syntax_error() text". Default options
// (no quoted local parts, no domain literals), as verify_email uses them.
#include <iostream>
#include <string>

#include "address.h"

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool from_hex(const std::string& hex, std::string* out) {
    if (hex.size() % 2 != 0) return false;
    out->clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->push_back(static_cast<char>(hi * 16 + lo));
    }
    return true;
}

}  // namespace

int main() {
    std::ios::sync_with_stdio(false);
    const ev::SyntaxOptions options;
    std::string line, input;
    while (std::getline(std::cin, line)) {
        if (!from_hex(line, &input)) {
            std::cerr << "ev_syntax: not hex: " << line << "\n";
            return 2;
        }
        ev::ParsedAddress parsed = ev::parse_address(input, options);
        if (parsed.ok()) std::cout << "ok\t" << parsed.normalized() << "\n";
        else std::cout << "invalid\t" << ev::describe(parsed.error) << "\n";
    }
    return 0;
}
