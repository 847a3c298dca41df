// libFuzzer target: the literal masking of the log filter takes any text
// without crashing, and a secret written as a literal never survives it:
// the input is put around a known secret in single quotes and in dollar
// quotes, and the masked text must not hold the secret. What comes before
// loses its quotes, dollars and backslashes: a literal it left open could
// rightly end just before the secret.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sql_redaction.h"

namespace {

constexpr std::string_view kSecret = "whsec_Zq9secret";

void check_hidden(const std::string& text) {
    if (ev::mask_sql_literals(text).find(kSecret) != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    (void)ev::may_hold_webhook_secret(input);
    std::string masked = ev::mask_sql_literals(input);
    if (masked.size() > input.size() * 3 + 16) std::abort();
    if (input.find(kSecret) != std::string::npos) return 0;
    std::size_t split = input.find('\x01');
    std::string before;
    for (char c : input.substr(0, split))
        if (c != '\'' && c != '$' && c != '\\') before += c;
    if (before.find(kSecret) != std::string::npos) return 0;  // made whole by the removal
    std::string after = split == std::string::npos ? std::string() : input.substr(split + 1);
    std::string secret(kSecret);
    check_hidden(before + "'" + secret + "'" + after);
    check_hidden(before + "E'" + secret + "'" + after);
    check_hidden(before + " $$" + secret + "$$" + after);
    return 0;
}
