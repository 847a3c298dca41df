#include "webhook/url_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "idna.h"
#include "text.h"

namespace ev::webhook {

namespace {

struct UrlFree {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlFree {
    void operator()(char* p) const { curl_free(p); }
};

std::optional<std::string> url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
    char* raw = nullptr;
    if (curl_url_get(u, part, &raw, flags) != CURLUE_OK || raw == nullptr) return std::nullopt;
    std::unique_ptr<char, CurlFree> owned(raw);
    return std::string(owned.get());
}

// The URL as an error may show it: everything between "://" and the last
// '@' masked (a password may hold '/', '?' or '#' unencoded, so the last
// '@' anywhere is the safe end of a userinfo), bytes outside
// printable ASCII replaced (any database encoding stores it), length bounded.
std::string shown(std::string_view url) {
    std::string text(url.substr(0, kMaxWebhookUrlLength));
    std::size_t start = text.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    std::size_t at = text.rfind('@');
    if (at != std::string::npos && at >= start) text.replace(start, at - start, "***");
    text = ev::text::printable_ascii(text);
    if (text.size() > 200) text = text.substr(0, 200) + "...";
    return text;
}

UrlCheck failed(std::string error) {
    UrlCheck check;
    check.error = std::move(error);
    return check;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

bool is_ascii_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

AddressClass classify_v4(std::uint32_t a) {  // host byte order
    auto in = [a](std::uint32_t net, int bits) { return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits)); };
    if (in(0x7f000000, 8)) return AddressClass::Loopback;
    if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10))
        return AddressClass::Private;
    if (in(0xa9fe0000, 16)) return AddressClass::LinkLocal;
    if (in(0xe0000000, 4)) return AddressClass::Multicast;
    if (in(0x00000000, 8) || in(0xf0000000, 4) || in(0xc0000000, 24) || in(0xc0000200, 24) || in(0xc6120000, 15) ||
        in(0xc6336400, 24) || in(0xcb007100, 24))
        return AddressClass::Reserved;
    return AddressClass::Public;
}

std::uint32_t v4_at(const unsigned char* b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

AddressClass classify_v6(const unsigned char* b) {
    static const unsigned char zeros[16] = {};
    auto prefix = [b](std::initializer_list<unsigned char> bytes) { return std::equal(bytes.begin(), bytes.end(), b); };
    if (std::memcmp(b, zeros, 10) == 0 && b[10] == 0xff && b[11] == 0xff) return classify_v4(v4_at(b + 12));
    if (std::memcmp(b, zeros, 15) == 0) return b[15] == 1 ? AddressClass::Loopback : AddressClass::Reserved;
    // NAT64 (RFC 6052's well-known prefix) reaches the IPv4 address it carries.
    if (prefix({0x00, 0x64, 0xff, 0x9b}) && std::memcmp(b + 4, zeros, 8) == 0) return classify_v4(v4_at(b + 12));
    // 6to4 carries its IPv4 relay in bytes 2..5.
    if (prefix({0x20, 0x02})) return classify_v4(v4_at(b + 2));
    if (b[0] == 0xff) return AddressClass::Multicast;
    if ((b[0] & 0xfe) == 0xfc) return AddressClass::Private;                    // fc00::/7 unique local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::LinkLocal;  // fe80::/10
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::Private;    // fec0::/10, old site-local
    if (prefix({0x20, 0x01, 0x0d, 0xb8})) return AddressClass::Reserved;        // documentation
    if (prefix({0x20, 0x01, 0x00, 0x00})) return AddressClass::Reserved;        // Teredo
    // Everything else outside 2000::/3 (global unicast) is not on the internet:
    // ::/96 IPv4-compatible, 100::/64 discard, 64:ff9b:1::/48 local NAT64, ...
    if ((b[0] & 0xe0) != 0x20) return AddressClass::Reserved;
    return AddressClass::Public;
}

}  // namespace

const char* to_string(AddressClass c) {
    switch (c) {
        case AddressClass::Public: return "public";
        case AddressClass::Private: return "private";
        case AddressClass::Loopback: return "loopback";
        case AddressClass::LinkLocal: return "link-local";
        case AddressClass::Multicast: return "multicast";
        case AddressClass::Reserved: return "reserved";
    }
    return "reserved";
}

AddressClass classify_address(const sockaddr* address) {
    if (address == nullptr) return AddressClass::Reserved;
    if (address->sa_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, address, sizeof v4);
        return classify_v4(ntohl(v4.sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, address, sizeof v6);
        return classify_v6(v6.sin6_addr.s6_addr);
    }
    return AddressClass::Reserved;
}

std::optional<AddressClass> classify_address(std::string_view ip) {
    std::string text(ip);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return classify_v4(ntohl(v4.s_addr));
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return classify_v6(v6.s6_addr);
    return std::nullopt;
}

namespace {

UrlCheck check_once(std::string_view url) {
    if (url.empty()) return failed("webhook_url is empty");
    if (url.size() > kMaxWebhookUrlLength)
        return failed("webhook_url is longer than " + std::to_string(kMaxWebhookUrlLength) + " bytes");
    if (url.find('\0') != std::string_view::npos) return failed("webhook_url holds a NUL byte");
    std::unique_ptr<CURLU, UrlFree> u(curl_url());
    if (!u) return failed("webhook_url could not be checked: out of memory");
    std::string text(url);
    // Any scheme parses, so that "ftp://" gets the scheme's error below, not a parse error.
    CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (rc != CURLUE_OK)
        return failed("webhook_url is not a valid absolute URL (" + std::string(curl_url_strerror(rc)) +
                      "): " + shown(url));
    std::string scheme = lower(url_part(u.get(), CURLUPART_SCHEME).value_or(""));
    if (scheme != "http" && scheme != "https") return failed("webhook_url must use http or https: " + shown(url));
    if (url_part(u.get(), CURLUPART_USER) || url_part(u.get(), CURLUPART_PASSWORD) ||
        url_part(u.get(), CURLUPART_OPTIONS))
        return failed("webhook_url must not hold a user name or password (they would show wherever the URL does): " +
                      shown(url));
    if (url_part(u.get(), CURLUPART_ZONEID)) return failed("webhook_url must not name an IPv6 zone: " + shown(url));
    std::string host = url_part(u.get(), CURLUPART_HOST).value_or("");
    if (host.empty()) return failed("webhook_url has no host: " + shown(url));

    UrlCheck check;
    if (host.front() == '[') {
        std::string inner = host.substr(1, host.size() - 2);
        in6_addr v6{};
        if (host.back() != ']' || inet_pton(AF_INET6, inner.c_str(), &v6) != 1)
            return failed("webhook_url has an invalid IPv6 address: " + shown(url));
        char canonical[INET6_ADDRSTRLEN];
        check.host = inet_ntop(AF_INET6, &v6, canonical, sizeof canonical);
        check.host_is_ip = true;
    } else {
        bool ascii = std::all_of(host.begin(), host.end(), [](char c) { return (c & 0x80) == 0; });
        std::string name = lower(host);
        if (!ascii) {
            auto idna = ev::domain_to_ascii(host);
            if (!idna.ok()) return failed("webhook_url has an invalid host name (" + idna.error + "): " + shown(url));
            name = idna.ascii;
        }
        if (!std::all_of(name.begin(), name.end(), is_ascii_host_char) || name.front() == '.' ||
            name.find("..") != std::string::npos || name.size() > 253)
            return failed("webhook_url has an invalid host name: " + shown(url));
        in_addr v4{};
        check.host_is_ip = inet_pton(AF_INET, name.c_str(), &v4) == 1;
        check.host = name;
    }

    std::string port_text = url_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT).value_or("");
    int port = port_text.empty() || port_text.size() > 5 ? 0 : std::atoi(port_text.c_str());
    if (port < 1 || port > 65535) return failed("webhook_url has an invalid port: " + shown(url));
    int default_port = scheme == "https" ? 443 : 80;

    std::string bracketed = check.host.find(':') != std::string::npos ? "[" + check.host + "]" : check.host;
    if (curl_url_set(u.get(), CURLUPART_HOST, bracketed.c_str(), 0) != CURLUE_OK ||
        curl_url_set(u.get(), CURLUPART_SCHEME, scheme.c_str(), 0) != CURLUE_OK)
        return failed("webhook_url could not be normalized: " + shown(url));
    check.url = url_part(u.get(), CURLUPART_URL).value_or("");
    if (check.url.empty()) return failed("webhook_url could not be normalized: " + shown(url));
    check.ok = true;
    check.scheme = scheme;
    check.port = port;
    check.origin = scheme + "://" + bracketed + (port == default_port ? "" : ":" + std::to_string(port));
    return check;
}

}  // namespace

UrlCheck check_webhook_url(std::string_view url) {
    // curl decodes a percent-encoded host ("12%3120") without reading the
    // result as the IPv4 number it then is ("12120" = 0.0.47.88) until the
    // URL is parsed again: the answer is the normalized URL's own reading,
    // once that is stable.
    UrlCheck check = check_once(url);
    for (int round = 0; round < 3 && check.ok; ++round) {
        UrlCheck again = check_once(check.url);
        if (!again.ok || (again.url == check.url && again.host == check.host)) return again;
        check = std::move(again);
    }
    if (check.ok) return failed("webhook_url has a host name that does not settle: " + shown(url));
    return check;
}

}  // namespace ev::webhook
