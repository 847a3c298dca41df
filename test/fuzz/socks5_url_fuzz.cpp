// libFuzzer target: the parsers of email_verify.socks5_proxy and
// email_verify.source_addresses take any text without crashing; what the URL
// parser accepts survives a round trip through its own escaping; and a
// password never appears in an error message, in the proxy's text() or in
// a log message the redaction went over.
//
// The input is used twice: as a whole setting, and split at its first byte
// 0x01 into two halves put on either side of a known password
// ("socks5://<a>:<password><b>"), so the fuzzer explores every way a
// password can sit in a broken URL.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/socks5_url.h"
#include "net/source_addresses.h"

namespace {

constexpr std::string_view kPassword = "Zq9-secret";

std::string escaped(const std::string& raw) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : raw) {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

void check_url(const std::string& url) {
    auto parsed = ev::net::parse_socks5_url(url);
    if (!parsed.proxy) return;
    const auto& p = *parsed.proxy;
    if (p.username.empty() != p.password.empty()) std::abort();
    if (p.username.size() > 255 || p.password.size() > 255) std::abort();
    if (p.server.port() < 1 || p.server.port() > 65535) std::abort();
    std::string again = "socks5://";
    if (p.has_credentials()) again += escaped(p.username) + ":" + escaped(p.password) + "@";
    again += p.server.text();
    auto reparsed = ev::net::parse_socks5_url(again);
    if (!reparsed.proxy || reparsed.proxy->username != p.username || reparsed.proxy->password != p.password ||
        !(reparsed.proxy->server == p.server))
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    check_url(input);

    std::size_t split = input.find('\x01');
    std::string before = input.substr(0, split);
    std::string after = split == std::string::npos ? std::string() : input.substr(split + 1);
    if (before.find(kPassword) == std::string::npos && after.find(kPassword) == std::string::npos) {
        std::string url = "socks5://" + before + ":" + std::string(kPassword) + after;
        check_url(url);
        auto parsed = ev::net::parse_socks5_url(url);
        if (parsed.error.find(kPassword) != std::string::npos) std::abort();
        if (parsed.proxy && parsed.proxy->text().find(kPassword) != std::string::npos) std::abort();
        // The log filter hides a password that parses as one, wherever the
        // URL sits in a message.
        if (parsed.proxy && parsed.proxy->password == kPassword) {
            std::string message = "parameter changed to \"" + url + "\"";
            if (ev::net::redact_socks5_credentials(message).find(kPassword) != std::string::npos) std::abort();
        }
    }
    (void)ev::net::redact_socks5_credentials(input);

    auto list = ev::net::parse_source_addresses(input);
    if (!list.error.empty() && !list.addresses.empty()) std::abort();
    for (std::size_t i = 0; i < list.addresses.size(); ++i)
        for (std::size_t j = i + 1; j < list.addresses.size(); ++j)
            if (list.addresses[i].ip() == list.addresses[j].ip()) std::abort();
    for (int family : {AF_INET, AF_INET6}) {
        const auto* chosen = ev::net::choose_source(list.addresses, input, family);
        if (chosen != nullptr && chosen->family() != family) std::abort();
        if (chosen != nullptr && chosen != ev::net::choose_source(list.addresses, input, family)) std::abort();
    }
    return 0;
}
