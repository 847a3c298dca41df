// Which webhook URLs and which addresses a delivery may go to. The URL is
// read by curl's own parser (what we check is what curl will fetch); the
// address classes keep deliveries off loopback, private and other
// non-public networks unless email_verify.webhook_allow_private is on.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace ev::webhook {

constexpr std::size_t kMaxWebhookUrlLength = 2048;

struct UrlCheck {
    bool ok = false;
    std::string error;   // when !ok; never shows a password the URL held
    std::string scheme;  // "http" or "https"
    std::string host;    // lower case, A-label form; IPv6 without brackets
    int port = 0;
    std::string origin;  // "https://example.com", "http://[::1]:8080": default port left out
    std::string url;     // the URL as curl should fetch it (host in A-label form)
    bool host_is_ip = false;
};

// A URL a webhook may be sent to: http or https, with a host, without
// userinfo (a password in it would show in every view of the job) nor an
// IPv6 zone, at most kMaxWebhookUrlLength bytes. Errors start with
// "webhook_url ".
UrlCheck check_webhook_url(std::string_view url);

enum class AddressClass { Public, Private, Loopback, LinkLocal, Multicast, Reserved };

const char* to_string(AddressClass c);  // "public", "private", "loopback", "link-local", ...

// IPv4 and IPv6 (an IPv4-mapped, NAT64 or 6to4 address as the IPv4 address
// it carries). A sockaddr of another family is Reserved.
AddressClass classify_address(const sockaddr* address);
// A numeric address; nullopt when the text is not one.
std::optional<AddressClass> classify_address(std::string_view ip);

}  // namespace ev::webhook
