#include "net/socks5.h"

#include <arpa/inet.h>

#include "text.h"

namespace ev::net {

namespace {

constexpr std::uint8_t kVersion = 5;
constexpr std::uint8_t kAuthVersion = 1;  // RFC 1929's subnegotiation version
constexpr std::uint8_t kNoAuth = 0x00;
constexpr std::uint8_t kUserPassword = 0x02;
constexpr std::uint8_t kNoAcceptable = 0xFF;
constexpr std::uint8_t kConnect = 1;
constexpr std::uint8_t kIpv4 = 1;
constexpr std::uint8_t kDomain = 3;
constexpr std::uint8_t kIpv6 = 4;

std::uint8_t byte_at(std::string_view s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }

std::string ip_text(int family, const unsigned char* bytes) {
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, bytes, buffer, sizeof buffer);
    return buffer;
}

}  // namespace

std::string socks5_reply_text(int code) {
    switch (code) {
        case 0: return "succeeded";
        case 1: return "general SOCKS server failure";
        case 2: return "connection not allowed by ruleset";
        case 3: return "network unreachable";
        case 4: return "host unreachable";
        case 5: return "connection refused";
        case 6: return "TTL expired";
        case 7: return "command not supported";
        case 8: return "address type not supported";
        default: return "unassigned reply code " + std::to_string(code);
    }
}

Socks5Parse parse_socks5_reply(std::string_view bytes, Socks5Reply* reply, std::string* error) {
    if (bytes.empty()) return Socks5Parse::NeedMore;
    if (byte_at(bytes, 0) != kVersion) {
        *error = "not a SOCKS5 reply (version " + std::to_string(byte_at(bytes, 0)) + ")";
        return Socks5Parse::Invalid;
    }
    if (bytes.size() < 4) return Socks5Parse::NeedMore;
    std::uint8_t type = byte_at(bytes, 3);
    std::size_t address_size = 0;
    if (type == kIpv4) address_size = 4;
    else if (type == kIpv6) address_size = 16;
    else if (type == kDomain) {
        if (bytes.size() < 5) return Socks5Parse::NeedMore;
        address_size = 1 + byte_at(bytes, 4);
    } else {
        *error = "SOCKS5 reply with an unknown address type " + std::to_string(type);
        return Socks5Parse::Invalid;
    }
    std::size_t size = 4 + address_size + 2;
    if (bytes.size() < size) return Socks5Parse::NeedMore;
    const auto* address = reinterpret_cast<const unsigned char*>(bytes.data() + 4);
    int port = byte_at(bytes, size - 2) * 256 + byte_at(bytes, size - 1);
    std::string host;
    if (type == kIpv4) host = ip_text(AF_INET, address);
    else if (type == kIpv6) host = "[" + ip_text(AF_INET6, address) + "]";
    else host = text::printable_ascii(std::string(bytes.substr(5, address_size - 1)));
    reply->code = byte_at(bytes, 1);
    reply->bound = host + ":" + std::to_string(port);
    reply->size = size;
    return Socks5Parse::Complete;
}

Socks5Handshake::Socks5Handshake(const Socks5Proxy& proxy, const Endpoint& target)
    : username_(proxy.username), password_(proxy.password), target_(target) {
    out_.push_back(static_cast<char>(kVersion));
    if (proxy.has_credentials()) {
        // Both, as curl does: a proxy that needs no password may say so.
        out_ += {2, static_cast<char>(kNoAuth), static_cast<char>(kUserPassword)};
    } else {
        out_ += {1, static_cast<char>(kNoAuth)};
    }
}

std::string Socks5Handshake::take_output() {
    std::string out;
    out.swap(out_);
    return out;
}

void Socks5Handshake::fail(std::string why) {
    state_ = State::Failed;
    error_ = std::move(why);
    out_.clear();
    in_.clear();
}

std::string Socks5Handshake::waiting_for() const {
    switch (state_) {
        case State::Greeting: return "no answer to the greeting";
        case State::Authenticating: return "no answer to the user name and password";
        case State::Connecting: return "no answer to CONNECT " + target_.text();
        default: return "";
    }
}

void Socks5Handshake::on_method(std::uint8_t method) {
    if (method == kNoAuth) return send_connect();
    if (method == kUserPassword && !username_.empty()) {
        state_ = State::Authenticating;
        out_.push_back(static_cast<char>(kAuthVersion));
        out_.push_back(static_cast<char>(username_.size()));
        out_ += username_;
        out_.push_back(static_cast<char>(password_.size()));
        out_ += password_;
        return;
    }
    if (method == kNoAcceptable) {
        return fail(username_.empty()
                        ? "the proxy accepts none of the offered methods (no authentication): it may want a user name "
                          "and password"
                        : "the proxy accepts none of the offered methods (no authentication, user name and password)");
    }
    fail("the proxy chose authentication method " + std::to_string(method) + ", which was not offered");
}

void Socks5Handshake::send_connect() {
    state_ = State::Connecting;
    out_.push_back(static_cast<char>(kVersion));
    out_.push_back(static_cast<char>(kConnect));
    out_.push_back(0);
    if (target_.family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&target_.storage);
        out_.push_back(static_cast<char>(kIpv4));
        out_.append(reinterpret_cast<const char*>(&v4->sin_addr), 4);
    } else {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&target_.storage);
        out_.push_back(static_cast<char>(kIpv6));
        out_.append(reinterpret_cast<const char*>(&v6->sin6_addr), 16);
    }
    int port = target_.port();
    out_.push_back(static_cast<char>(port >> 8));
    out_.push_back(static_cast<char>(port & 0xFF));
}

Socks5Handshake::State Socks5Handshake::feed(std::string_view bytes) {
    if (state_ == State::Connected || state_ == State::Failed) return state_;
    in_.append(bytes.data(), bytes.size());
    while (state_ != State::Connected && state_ != State::Failed) {
        if (state_ == State::Greeting) {
            if (in_.size() < 2) break;
            if (byte_at(in_, 0) != kVersion) {
                fail("not a SOCKS5 proxy (its answer to the greeting is not version 5)");
                break;
            }
            std::uint8_t method = byte_at(in_, 1);
            in_.erase(0, 2);
            on_method(method);
        } else if (state_ == State::Authenticating) {
            if (in_.size() < 2) break;
            // RFC 1929 says version 1; some proxies answer 5. Only the
            // status matters.
            std::uint8_t status = byte_at(in_, 1);
            in_.erase(0, 2);
            if (status != 0) {
                fail("authentication refused (wrong user name or password?)");
                break;
            }
            send_connect();
        } else {
            Socks5Reply reply;
            std::string error;
            Socks5Parse parsed = parse_socks5_reply(in_, &reply, &error);
            if (parsed == Socks5Parse::NeedMore) break;
            if (parsed == Socks5Parse::Invalid) {
                fail(error);
                break;
            }
            if (reply.code != 0) {
                fail("could not connect to " + target_.text() + ": " + socks5_reply_text(reply.code) + " (reply " +
                     std::to_string(reply.code) + ")");
                break;
            }
            bound_ = reply.bound;
            in_.erase(0, reply.size);
            state_ = State::Connected;
        }
    }
    // Nothing accumulates: each step needs at most 262 bytes (a CONNECT reply
    // with a 255-byte name), and a step that has them moves on.
    return state_;
}

void Socks5Handshake::closed() {
    if (state_ == State::Connected || state_ == State::Failed) return;
    // A proxy that refuses a CONNECT may close after the first two bytes
    // of its reply: the code is then all there is, and enough.
    if (state_ == State::Connecting && in_.size() >= 2 && byte_at(in_, 0) == kVersion && byte_at(in_, 1) != 0) {
        int code = byte_at(in_, 1);
        return fail("could not connect to " + target_.text() + ": " + socks5_reply_text(code) + " (reply " +
                    std::to_string(code) + ")");
    }
    if (state_ == State::Authenticating)
        return fail("the proxy closed the connection after the user name and password (refused?)");
    fail("the proxy closed the connection (" + waiting_for() + ")");
}

std::string Socks5Handshake::take_leftover() {
    std::string rest;
    rest.swap(in_);
    return rest;
}

}  // namespace ev::net
