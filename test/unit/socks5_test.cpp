// The SOCKS5 client handshake (RFC 1928, RFC 1929) byte by byte, without
// I/O: what it sends at each step, how it reads each answer (IPv4, IPv6 and
// domain bound addresses, split anywhere), and the words of each failure.
#include <gtest/gtest.h>

#include <string>

#include "net/socks5.h"

using ev::net::make_endpoint;
using ev::net::parse_socks5_reply;
using ev::net::parse_socks5_url;
using ev::net::Socks5Handshake;
using ev::net::Socks5Parse;
using ev::net::Socks5Reply;

namespace {

std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values) out.push_back(static_cast<char>(v));
    return out;
}

const std::string kIpv4Success = bytes({5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38});

Socks5Handshake handshake(const char* url, const char* target_ip = "127.0.1.1", int port = 25) {
    return Socks5Handshake(*parse_socks5_url(url).proxy, *make_endpoint(target_ip, port));
}

}  // namespace

TEST(Socks5Handshake, NoAuthenticationThenConnectToAnIpv4Host) {
    auto h = handshake("socks5://127.0.0.1:1080");
    EXPECT_EQ(h.take_output(), bytes({5, 1, 0}));
    EXPECT_EQ(h.take_output(), "");  // handed over once
    h.feed(bytes({5, 0}));
    EXPECT_EQ(h.take_output(), bytes({5, 1, 0, 1, 127, 0, 1, 1, 0, 25}));
    EXPECT_EQ(h.state(), Socks5Handshake::State::Connecting);
    h.feed(kIpv4Success);
    EXPECT_TRUE(h.connected());
    EXPECT_EQ(h.bound(), "127.0.0.1:1080");
    EXPECT_EQ(h.take_leftover(), "");
}

TEST(Socks5Handshake, UserAndPasswordAreSentAsRfc1929Says) {
    auto h = handshake("socks5://probe:s%40cret@127.0.0.1:1080");
    EXPECT_EQ(h.take_output(), bytes({5, 2, 0, 2}));
    h.feed(bytes({5, 2}));
    EXPECT_EQ(h.take_output(), bytes({1, 5}) + "probe" + bytes({6}) + "s@cret");
    h.feed(bytes({1, 0}));
    EXPECT_EQ(h.take_output().substr(0, 4), bytes({5, 1, 0, 1}));
    h.feed(kIpv4Success);
    EXPECT_TRUE(h.connected());
}

// A proxy that needs no password may pick "no authentication" although
// credentials were offered.
TEST(Socks5Handshake, CredentialsOfferedButNotNeeded) {
    auto h = handshake("socks5://probe:secret@127.0.0.1:1080");
    h.take_output();
    h.feed(bytes({5, 0}));
    EXPECT_EQ(h.state(), Socks5Handshake::State::Connecting);
    EXPECT_EQ(h.take_output().find("secret"), std::string::npos);
}

TEST(Socks5Handshake, ConnectToAnIpv6Host) {
    auto h = handshake("socks5://127.0.0.1:1080", "2001:db8::25", 2525);
    h.take_output();
    h.feed(bytes({5, 0}));
    std::string connect = h.take_output();
    ASSERT_EQ(connect.size(), 22u);
    EXPECT_EQ(connect.substr(0, 4), bytes({5, 1, 0, 4}));
    EXPECT_EQ(connect.substr(4, 4), bytes({0x20, 0x01, 0x0d, 0xb8}));
    EXPECT_EQ(connect.substr(20), bytes({2525 >> 8, 2525 & 0xFF}));
}

TEST(Socks5Handshake, BoundAddressesOfEveryType) {
    std::string v6 = bytes({5, 0, 0, 4}) + std::string(15, '\0') + bytes({1, 0, 25});
    std::string domain = bytes({5, 0, 0, 3, 13}) + "proxy.example" + bytes({0x1f, 0x90});
    std::string empty_domain = bytes({5, 0, 0, 3, 0, 0, 0});
    Socks5Reply reply;
    std::string error;
    ASSERT_EQ(parse_socks5_reply(v6, &reply, &error), Socks5Parse::Complete);
    EXPECT_EQ(reply.bound, "[::1]:25");
    EXPECT_EQ(reply.size, v6.size());
    ASSERT_EQ(parse_socks5_reply(domain, &reply, &error), Socks5Parse::Complete);
    EXPECT_EQ(reply.bound, "proxy.example:8080");
    ASSERT_EQ(parse_socks5_reply(empty_domain, &reply, &error), Socks5Parse::Complete);
    EXPECT_EQ(reply.bound, ":0");
    // Any prefix of a reply asks for more.
    for (std::size_t n = 0; n < domain.size(); ++n)
        EXPECT_EQ(parse_socks5_reply(domain.substr(0, n), &reply, &error), Socks5Parse::NeedMore) << n;
}

TEST(Socks5Handshake, MalformedRepliesAreRefused) {
    Socks5Reply reply;
    std::string error;
    EXPECT_EQ(parse_socks5_reply(bytes({4, 0x5a, 0, 0, 0, 0, 0, 0}), &reply, &error), Socks5Parse::Invalid);
    EXPECT_EQ(error, "not a SOCKS5 reply (version 4)");
    EXPECT_EQ(parse_socks5_reply(bytes({5, 0, 0, 7, 1, 2, 3}), &reply, &error), Socks5Parse::Invalid);
    EXPECT_EQ(error, "SOCKS5 reply with an unknown address type 7");
}

// The reply arrives in pieces, and the server's banner right behind it in
// the same read: the banner is the session's.
TEST(Socks5Handshake, SplitReplyAndTheBannerBehindIt) {
    auto h = handshake("socks5://127.0.0.1:1080");
    h.take_output();
    std::string stream = bytes({5, 0}) + kIpv4Success + "220 mx.test ESMTP\r\n";
    for (char c : stream.substr(0, stream.size() - 19)) h.feed(std::string(1, c));
    EXPECT_TRUE(h.connected());
    h.feed("unused");  // after Connected, nothing more is taken
    EXPECT_EQ(h.take_leftover(), "");

    auto g = handshake("socks5://127.0.0.1:1080");
    g.take_output();
    g.feed(bytes({5, 0}));
    g.feed(kIpv4Success + "220 mx.test ESMTP\r\n");
    EXPECT_TRUE(g.connected());
    EXPECT_EQ(g.take_leftover(), "220 mx.test ESMTP\r\n");
}

TEST(Socks5Handshake, FailuresInWords) {
    {
        auto h = handshake("socks5://probe:secret@127.0.0.1:1080");
        h.take_output();
        h.feed(bytes({5, 2}));
        h.take_output();
        h.feed(bytes({1, 1}));
        EXPECT_TRUE(h.failed());
        EXPECT_EQ(h.error(), "authentication refused (wrong user name or password?)");
    }
    {
        auto h = handshake("socks5://127.0.0.1:1080");
        h.take_output();
        h.feed(bytes({5, 0xFF}));
        EXPECT_EQ(h.error(),
                  "the proxy accepts none of the offered methods (no authentication): it may want a user name and "
                  "password");
    }
    {
        auto h = handshake("socks5://127.0.0.1:1080");
        h.take_output();
        h.feed(bytes({5, 2}));  // user/password, never offered
        EXPECT_EQ(h.error(), "the proxy chose authentication method 2, which was not offered");
    }
    {
        auto h = handshake("socks5://127.0.0.1:1080");
        h.take_output();
        h.feed("HTTP/1.1 400 Bad Request\r\n");
        EXPECT_EQ(h.error(), "not a SOCKS5 proxy (its answer to the greeting is not version 5)");
    }
    const char* words[] = {"general SOCKS server failure", "connection not allowed by ruleset",
                           "network unreachable",          "host unreachable",
                           "connection refused",           "TTL expired",
                           "command not supported",        "address type not supported"};
    for (int code = 1; code <= 9; ++code) {
        auto h = handshake("socks5://127.0.0.1:1080");
        h.take_output();
        h.feed(bytes({5, 0}));
        h.feed(bytes({5, code, 0, 1, 0, 0, 0, 0, 0, 0}));
        std::string expected = "could not connect to 127.0.1.1:25: " +
                               (code <= 8 ? std::string(words[code - 1]) : std::string("unassigned reply code 9")) +
                               " (reply " + std::to_string(code) + ")";
        EXPECT_EQ(h.error(), expected);
    }
}

TEST(Socks5Handshake, ClosedConnections) {
    {
        auto h = handshake("socks5://127.0.0.1:1080");
        h.closed();
        EXPECT_EQ(h.error(), "the proxy closed the connection (no answer to the greeting)");
    }
    {
        auto h = handshake("socks5://probe:secret@127.0.0.1:1080");
        h.feed(bytes({5, 2}));
        h.closed();
        EXPECT_EQ(h.error(), "the proxy closed the connection after the user name and password (refused?)");
    }
    {
        // A refusal cut short after its code still says what it was.
        auto h = handshake("socks5://127.0.0.1:1080");
        h.feed(bytes({5, 0}));
        h.feed(bytes({5, 5}));
        h.closed();
        EXPECT_EQ(h.error(), "could not connect to 127.0.1.1:25: connection refused (reply 5)");
    }
    {
        auto h = handshake("socks5://127.0.0.1:1080");
        h.feed(bytes({5, 0}));
        EXPECT_EQ(h.waiting_for(), "no answer to CONNECT 127.0.1.1:25");
        h.closed();
        EXPECT_EQ(h.error(), "the proxy closed the connection (no answer to CONNECT 127.0.1.1:25)");
    }
}

TEST(Socks5Handshake, TheLongestBoundNameAndWhatFollowsIt) {
    auto h = handshake("socks5://127.0.0.1:1080");
    h.feed(bytes({5, 0}));
    h.feed(bytes({5, 0, 0, 3, 255}) + std::string(2000, 'x'));
    EXPECT_TRUE(h.connected());  // a 255-byte name is a valid reply; the rest is the server's
    EXPECT_EQ(h.take_leftover().size(), 2000u - 257u);
}
