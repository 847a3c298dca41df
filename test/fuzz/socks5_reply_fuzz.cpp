// libFuzzer target: whatever a SOCKS5 proxy answers, and however the network
// cuts it into reads, the handshake must not crash or hang, must end in one
// state and stay there, must send the password only in its RFC 1929 message
// (and only after the proxy asked for it), and must hand over exactly the
// bytes after a complete CONNECT reply. The reply parser alone must agree
// with itself on every prefix.
//
// Input layout: byte 0 picks the chunk sizes, bit 0 of byte 1 whether
// credentials are configured, bit 1 an IPv6 target; the rest is the proxy's
// byte stream.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/socks5.h"

namespace {

using ev::net::Socks5Handshake;
using ev::net::Socks5Parse;
using ev::net::Socks5Reply;

constexpr std::string_view kPassword = "pw-Zq9!x";

void check_parser(std::string_view stream) {
    Socks5Reply reply;
    std::string error;
    Socks5Parse whole = ev::net::parse_socks5_reply(stream, &reply, &error);
    if (whole == Socks5Parse::Complete) {
        if (reply.size < 7 || reply.size > stream.size() || reply.size > 262) std::abort();
        if (reply.code < 0 || reply.code > 255 || reply.bound.empty()) std::abort();
        // The same bytes with more behind them give the same reply; one
        // byte fewer is not enough.
        Socks5Reply shorter;
        if (ev::net::parse_socks5_reply(stream.substr(0, reply.size - 1), &shorter, &error) != Socks5Parse::NeedMore)
            std::abort();
    }
    if (whole == Socks5Parse::Invalid && error.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::uint32_t seed = data[0] | 1u;
    bool credentials = data[1] & 1;
    bool v6 = data[1] & 2;
    std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
    check_parser(stream);

    ev::net::Socks5Proxy proxy;
    proxy.server = *ev::net::make_endpoint("127.0.0.1", 1080);
    if (credentials) {
        proxy.username = "probe";
        proxy.password = std::string(kPassword);
    }
    Socks5Handshake handshake(proxy, *ev::net::make_endpoint(v6 ? "2001:db8::25" : "192.0.2.25", 25));
    std::string sent = handshake.take_output();
    std::size_t pos = 0;
    std::size_t fed_when_connected = 0;
    // The proxy chose user/password (RFC 1929) in its first answer.
    bool asked_for_password = credentials && stream.size() >= 2 && stream[0] == 5 && stream[1] == 2;
    while (pos < stream.size()) {
        seed = seed * 1103515245u + 12345u;
        std::size_t n = 1 + (seed >> 16) % 8;
        if (n > stream.size() - pos) n = stream.size() - pos;
        auto before = handshake.state();
        auto after = handshake.feed(stream.substr(pos, n));
        pos += n;
        if ((before == Socks5Handshake::State::Connected || before == Socks5Handshake::State::Failed) &&
            after != before)
            std::abort();
        std::string out = handshake.take_output();
        if (out.find(kPassword) != std::string::npos && !asked_for_password) std::abort();
        sent += out;
        if (after == Socks5Handshake::State::Connected && fed_when_connected == 0) fed_when_connected = pos;
        if (after == Socks5Handshake::State::Failed) {
            if (handshake.error().empty() || handshake.error().find(kPassword) != std::string::npos) std::abort();
            break;
        }
    }
    if (handshake.connected()) {
        // The leftover is the tail of what was fed up to the reply's end.
        std::string rest = handshake.take_leftover();
        if (rest.size() > fed_when_connected) std::abort();
        if (stream.substr(fed_when_connected - rest.size(), rest.size()) != rest) std::abort();
        if (handshake.bound().empty()) std::abort();
    } else if (!handshake.failed()) {
        handshake.closed();
        if (!handshake.failed() || handshake.error().find(kPassword) != std::string::npos) std::abort();
    }
    // The password goes out at most once.
    std::size_t first = sent.find(kPassword);
    if (first != std::string::npos && sent.find(kPassword, first + 1) != std::string::npos) std::abort();
    return 0;
}
