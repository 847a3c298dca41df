#include "net/socks5_url.h"

#include "text.h"

namespace ev::net {

namespace {

constexpr std::string_view kScheme = "socks5://";
constexpr std::size_t kMaxCredential = 255;  // RFC 1929: one length byte

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes `in`; false on a bad escape or a NUL. `what` names the
// part in errors, which never quote it.
bool decode(std::string_view in, const char* what, std::string* out, std::string* error) {
    out->clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size() || hex_value(in[i + 1]) < 0 || hex_value(in[i + 2]) < 0) {
                *error = std::string("the ") + what + " has a bad %-escape (write %XX with two hex digits)";
                return false;
            }
            c = static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
            i += 2;
        }
        if (c == '\0') {
            *error = std::string("the ") + what + " contains a NUL byte";
            return false;
        }
        out->push_back(c);
    }
    if (out->empty() || out->size() > kMaxCredential) {
        *error = std::string("the ") + what + " must be 1 to 255 bytes long";
        return false;
    }
    return true;
}

bool parse_port(std::string_view digits, int* port) {
    if (digits.empty() || digits.size() > 5) return false;
    int value = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return false;
    *port = value;
    return true;
}

Socks5UrlResult failed(std::string error) {
    Socks5UrlResult result;
    result.error = std::move(error);
    return result;
}

}  // namespace

std::string Socks5Proxy::text() const {
    return std::string(kScheme) + (has_credentials() ? text::printable_ascii(username) + "@" : "") + server.text();
}

Socks5UrlResult parse_socks5_url(std::string_view url) {
    while (!url.empty() && (url.front() == ' ' || url.front() == '\t')) url.remove_prefix(1);
    while (!url.empty() && (url.back() == ' ' || url.back() == '\t')) url.remove_suffix(1);
    if (url.empty()) return {};
    // Raw control characters (escaped ones are fine): a line break would
    // also let a password escape the log filter, which works line by line.
    for (char c : url)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return failed("the proxy URL contains a control character (escape it as %XX)");
    if (url.size() < kScheme.size() || text::ascii_lowercase(url.substr(0, kScheme.size())) != kScheme) {
        return failed("the proxy must be written socks5://[user:password@]host:port");
    }
    std::string_view rest = url.substr(kScheme.size());
    // The credentials end at the last '@': an unescaped '@' or '/' in a
    // password still leaves the host part intact.
    std::size_t at = rest.rfind('@');
    std::string_view userinfo = at == std::string_view::npos ? std::string_view() : rest.substr(0, at);
    std::string_view hostport = at == std::string_view::npos ? rest : rest.substr(at + 1);
    if (!hostport.empty() && hostport.back() == '/') hostport.remove_suffix(1);
    if (hostport.find_first_of("/?#") != std::string_view::npos)
        return failed("the proxy URL may not have a path, query or fragment");

    Socks5Proxy proxy;
    if (at != std::string_view::npos) {
        std::size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos)
            return failed("a user name needs a password: socks5://user:password@host:port");
        std::string error;
        if (!decode(userinfo.substr(0, colon), "user name", &proxy.username, &error) ||
            !decode(userinfo.substr(colon + 1), "password", &proxy.password, &error))
            return failed(error);
    }

    std::string_view host;
    std::string_view port_text;
    if (!hostport.empty() && hostport.front() == '[') {
        std::size_t close = hostport.find(']');
        if (close == std::string_view::npos) return failed("the proxy's IPv6 address lacks its closing ']'");
        host = hostport.substr(1, close - 1);
        std::string_view after = hostport.substr(close + 1);
        if (!after.empty() && after.front() != ':') return failed("expected ':port' after the proxy's IPv6 address");
        if (!after.empty()) port_text = after.substr(1);
        else port_text = "1080";
        if (!make_endpoint(host, 1) || host.find(':') == std::string_view::npos)
            return failed("the proxy's address in [ ] is not an IPv6 address");
    } else {
        std::size_t colon = hostport.rfind(':');
        if (colon != std::string_view::npos && hostport.find(':') != colon)
            return failed("write an IPv6 proxy address in brackets: socks5://[2001:db8::1]:1080");
        host = colon == std::string_view::npos ? hostport : hostport.substr(0, colon);
        port_text = colon == std::string_view::npos ? std::string_view("1080") : hostport.substr(colon + 1);
        if (host.empty()) return failed("the proxy URL has no host");
        if (!make_endpoint(host, 1))
            return failed("the proxy's host must be an IP address (names are not resolved for it)");
    }
    int port = 0;
    if (!parse_port(port_text, &port)) return failed("the proxy's port must be a number from 1 to 65535");
    proxy.server = *make_endpoint(host, port);
    Socks5UrlResult result;
    result.proxy = std::move(proxy);
    return result;
}

std::string redact_socks5_credentials(std::string_view text) {
    std::string out(text);
    std::string lower = text::ascii_lowercase(text);
    std::size_t from = 0;
    for (;;) {
        std::size_t scheme = lower.find(kScheme, from);
        if (scheme == std::string::npos) break;
        std::size_t start = scheme + kScheme.size();
        std::size_t line_end = lower.find('\n', start);
        if (line_end == std::string::npos) line_end = lower.size();
        std::size_t at = lower.rfind('@', line_end == 0 ? 0 : line_end - 1);
        if (at == std::string::npos || at < start) {
            from = start;
            continue;
        }
        std::size_t colon = lower.find(':', start);
        std::size_t hide_from = colon != std::string::npos && colon < at ? colon + 1 : start;
        out.replace(hide_from, at - hide_from, "***");
        lower.replace(hide_from, at - hide_from, "***");
        from = hide_from + 3;
    }
    return out;
}

bool mentions_socks5_url(std::string_view text) {
    return text::ascii_lowercase(text).find(kScheme) != std::string::npos;
}

}  // namespace ev::net
