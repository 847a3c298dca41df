// libFuzzer target: the webhook URL check and the Retry-After reader take
// any text without crashing; what the URL check accepts is an http(s) URL
// whose normalized form passes the check again with the same host, port
// and origin; a password never shows in its error; a Retry-After is read
// as a wait within 0..1 day.
//
// The input is used as a URL, as a Retry-After value, and split at its
// first byte 0x01 into two halves around a known password
// ("https://<a>:<password><b>"), so the fuzzer explores every way a
// password can sit in a broken URL.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "webhook/retry_schedule.h"
#include "webhook/url_policy.h"

namespace {

constexpr std::string_view kPassword = "Zq9-secret";

void check_url(const std::string& url) {
    auto c = ev::webhook::check_webhook_url(url);
    if (c.ok != c.error.empty()) std::abort();
    if (!c.ok) {
        if (c.error.rfind("webhook_url ", 0) != 0) std::abort();
        return;
    }
    if (c.scheme != "http" && c.scheme != "https") std::abort();
    if (c.host.empty() || c.port < 1 || c.port > 65535) std::abort();
    auto again = ev::webhook::check_webhook_url(c.url);
    if (!again.ok || again.host != c.host || again.port != c.port || again.origin != c.origin || again.url != c.url ||
        again.host_is_ip != c.host_is_ip)
        std::abort();
    if (c.host_is_ip && !ev::webhook::classify_address(std::string_view(c.host))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    check_url(input);

    auto now = ev::webhook::WallClock::from_time_t(1700000000);
    auto wait = ev::webhook::parse_retry_after(input, now);
    if (wait && (*wait < std::chrono::seconds(0) || *wait > std::chrono::seconds(86400))) std::abort();

    std::size_t split = input.find('\x01');
    std::string before = input.substr(0, split);
    std::string after = split == std::string::npos ? std::string() : input.substr(split + 1);
    if (before.find(kPassword) == std::string::npos && after.find(kPassword) == std::string::npos) {
        std::string url = "https://" + before + ":" + std::string(kPassword) + after;
        check_url(url);
        // Whenever an '@' follows it, the password is userinfo to some reader:
        // the error must not show it.
        if (after.find('@') != std::string::npos) {
            auto c = ev::webhook::check_webhook_url(url);
            if (c.error.find(kPassword) != std::string::npos) std::abort();
        }
    }
    return 0;
}
