#include "dns/route_codec.h"

#include "byte_codec.h"

namespace ev::dns {

namespace {

constexpr std::uint8_t kVersion = 1;
// More MX hosts or addresses than any real domain publishes: bytes claiming
// more are not a route.
constexpr std::uint32_t kMaxHosts = 64;
constexpr std::uint32_t kMaxIps = 64;

}  // namespace

std::string encode_route(const MailRoute& route) {
    codec::Writer out;
    out.u8(kVersion);
    out.u8(static_cast<std::uint8_t>(route.outcome));
    out.u8(route.implicit_mx ? 1 : 0);
    out.str(route.detail);
    out.u32(static_cast<std::uint32_t>(route.hosts.size()));
    for (const auto& host : route.hosts) {
        out.str(host.name);
        out.u32(static_cast<std::uint32_t>(host.preference));
        out.u32(static_cast<std::uint32_t>(host.ips.size()));
        for (const auto& ip : host.ips) out.str(ip);
    }
    return out.bytes();
}

std::optional<MailRoute> decode_route(std::string_view bytes) {
    codec::Reader in(bytes);
    if (in.u8() != kVersion) return std::nullopt;
    MailRoute route;
    std::uint8_t outcome = in.u8();
    if (outcome > static_cast<std::uint8_t>(RouteOutcome::DnsError)) return std::nullopt;
    route.outcome = static_cast<RouteOutcome>(outcome);
    std::uint8_t implicit_mx = in.u8();
    if (implicit_mx > 1) return std::nullopt;
    route.implicit_mx = implicit_mx == 1;
    route.detail = in.str();
    std::uint32_t hosts = in.u32();
    if (!in.ok() || hosts > kMaxHosts) return std::nullopt;
    for (std::uint32_t h = 0; h < hosts && in.ok(); ++h) {
        MailHost host;
        host.name = in.str();
        host.preference = static_cast<int>(in.u32());
        std::uint32_t ips = in.u32();
        if (!in.ok() || ips > kMaxIps) return std::nullopt;
        for (std::uint32_t i = 0; i < ips && in.ok(); ++i) host.ips.push_back(in.str());
        route.hosts.push_back(std::move(host));
    }
    if (!in.ok() || !in.at_end()) return std::nullopt;
    return route;
}

}  // namespace ev::dns
