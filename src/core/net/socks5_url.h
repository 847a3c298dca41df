// The SOCKS5 proxy probes go through (email_verify.socks5_proxy), written as
// socks5://[user:password@]host:port.
//
// The password is a secret: nothing here puts it in an error message or in
// text(), so whatever reports a proxy can use those freely.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/socket.h"

namespace ev::net {

struct Socks5Proxy {
    Endpoint server;
    // RFC 1929 credentials, 1-255 bytes each, percent-decoded; both empty
    // when the URL has none (then only "no authentication" is offered).
    std::string username;
    std::string password;

    bool has_credentials() const { return !username.empty(); }
    // "socks5://user@127.0.0.1:1080": the proxy as it may be shown and logged.
    std::string text() const;
};

struct Socks5UrlResult {
    std::optional<Socks5Proxy> proxy;  // nullopt with an error, and for ""
    std::string error;                 // "" when valid; never contains the password
};

// The host is an IP literal ([...] for IPv6): the proxy is where names
// would be resolved, so it cannot itself need a name. The port defaults to
// 1080. User and password may carry %XX escapes (for ':', '@', '/', '%').
// "" (or only spaces) means no proxy.
Socks5UrlResult parse_socks5_url(std::string_view url);

// `text` (a log message, a statement) with the credentials of every
// socks5:// URL in it replaced by "***": from the first ':' after the scheme
// (or the scheme itself) to the last '@' on the same line. Generous on
// purpose: a password with spaces or quotes in it is still covered, and at
// worst more than the password is hidden.
std::string redact_socks5_credentials(std::string_view text);

// Whether `text` holds a socks5:// URL (in any case), so that callers can
// skip the copy in the common case.
bool mentions_socks5_url(std::string_view text);

}  // namespace ev::net
