// smtp::Session leaving the configured way: through a SOCKS5 proxy (no
// authentication or RFC 1929 user/password; refusals, a dead or silent
// proxy, TLS through it) and from chosen source addresses (sticky, by
// family, an address the machine does not have). The fake proxy is the
// fake server's peer: after the SOCKS5 exchange the same connection plays
// the MTA, so the MX address itself is never connected to.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fake_smtp_server.h"
#include "net/source_addresses.h"
#include "session_harness.h"

using ev::net::make_endpoint;
using ev::net::parse_socks5_url;
using ev::smtp::SessionEnd;
using ev::test::FakeSmtpServer;
using ev::test::SessionHarness;
using ev::test::SmtpPeer;
using namespace std::chrono_literals;

namespace {

// An MX address nobody can reach (TEST-NET-1): only a proxy gets there.
const ev::net::Endpoint kUnreachableMx = *make_endpoint("192.0.2.25", 25);

struct ProxyBehaviour {
    std::string username;  // "" accepts "no authentication"
    std::string password;
    int connect_reply = 0;
    bool banner_with_reply = false;  // the MTA's banner in the reply's segment
    std::chrono::milliseconds stall_before_connect_reply{0};
};

std::string byte(int value) { return std::string(1, static_cast<char>(value)); }

// The proxy's side of the handshake. Returns the CONNECT target ("ip:port")
// or "" when the client was refused or went away.
std::string act_as_proxy(SmtpPeer& peer, const ProxyBehaviour& b) {
    auto head = peer.read_bytes(2);
    if (!head || (*head)[0] != 5) return "";
    auto methods = peer.read_bytes(static_cast<unsigned char>((*head)[1]));
    if (!methods) return "";
    if (!b.username.empty()) {
        if (methods->find('\x02') == std::string::npos) {
            peer.send(byte(5) + byte(0xFF));
            return "";
        }
        peer.send(byte(5) + byte(2));
        auto version_and_length = peer.read_bytes(2);
        if (!version_and_length) return "";
        auto user = peer.read_bytes(static_cast<unsigned char>((*version_and_length)[1]));
        auto password_length = peer.read_bytes(1);
        if (!user || !password_length) return "";
        auto password = peer.read_bytes(static_cast<unsigned char>((*password_length)[0]));
        if (!password) return "";
        bool good = *user == b.username && *password == b.password;
        peer.send(byte(1) + byte(good ? 0 : 1));
        if (!good) return "";
    } else {
        peer.send(byte(5) + byte(0));
    }
    auto request = peer.read_bytes(4);
    if (!request || (*request)[1] != 1) return "";
    bool v6 = (*request)[3] == 4;
    auto address = peer.read_bytes(v6 ? 16 : 4);
    auto port = peer.read_bytes(2);
    if (!address || !port) return "";
    ev::net::Endpoint target;
    if (v6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&target.storage);
        sin6->sin6_family = AF_INET6;
        std::memcpy(&sin6->sin6_addr, address->data(), 16);
        std::memcpy(&sin6->sin6_port, port->data(), 2);
        target.length = sizeof *sin6;
    } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(&target.storage);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, address->data(), 4);
        std::memcpy(&sin->sin_port, port->data(), 2);
        target.length = sizeof *sin;
    }
    peer.stall(b.stall_before_connect_reply);
    std::string reply =
        byte(5) + byte(b.connect_reply) + byte(0) + byte(1) + std::string(4, '\0') + byte(0x04) + byte(0x38);
    if (b.connect_reply == 0 && b.banner_with_reply) reply += "220 mx.fake.test ESMTP via proxy\r\n";
    peer.send(reply);
    return b.connect_reply == 0 ? target.text() : "";
}

// A proxy in front of a well-behaved MTA; remembers the CONNECT targets.
struct ProxiedMta {
    explicit ProxiedMta(const ProxyBehaviour& behaviour)
        : server([this, behaviour](SmtpPeer& peer) {
              std::string target = act_as_proxy(peer, behaviour);
              if (target.empty()) return void(peer.client_closed(1000ms));
              {
                  std::lock_guard<std::mutex> lock(mutex);
                  targets.push_back(target);
              }
              if (!behaviour.banner_with_reply) peer.send("220 mx.fake.test ESMTP\r\n");
              run_mta_after_banner(peer);
          }) {}

    static void run_mta_after_banner(SmtpPeer& peer) {
        while (auto line = peer.read_line()) {
            std::string verb = line->substr(0, 4);
            if (verb == "EHLO") peer.send("250-mx.fake.test\r\n250 PIPELINING\r\n");
            else if (verb == "MAIL") peer.send("250 2.1.0 Ok\r\n");
            else if (verb == "RCPT") peer.send("250 2.1.5 Ok\r\n");
            else if (verb == "QUIT") {
                peer.leave();
                peer.send("221 2.0.0 Bye\r\n");
                return;
            } else peer.send("502 5.5.2 Error\r\n");
        }
    }

    std::string proxy_url(const std::string& credentials = "") const {
        return "socks5://" + credentials + "127.0.0.1:" + std::to_string(server.port());
    }

    std::mutex mutex;
    std::vector<std::string> targets;
    FakeSmtpServer server;
};

void use_proxy(SessionHarness& h, const std::string& url) {
    auto parsed = parse_socks5_url(url);
    ASSERT_TRUE(parsed.proxy) << parsed.error;
    h.config.socks5_proxy = parsed.proxy;
}

}  // namespace

TEST(SmtpSessionEgress, ThroughAProxyWithUserAndPassword) {
    ProxiedMta proxy({"probe", "s3cret:x"});
    SessionHarness h;
    use_proxy(h, proxy.proxy_url("probe:s3cret%3Ax@"));
    h.add("a@fake.test");
    h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::Finished) << h.owner.report->detail;
    EXPECT_EQ(h.owner.answered.size(), 1u);
    EXPECT_EQ(proxy.targets, (std::vector<std::string>{"192.0.2.25:25"}));
}

TEST(SmtpSessionEgress, ThroughAProxyWithoutAuthenticationToAnIpv6Host) {
    ProxiedMta proxy({});
    SessionHarness h;
    use_proxy(h, proxy.proxy_url());
    h.add("a@fake.test");
    h.run(*make_endpoint("2001:db8::25", 25));
    EXPECT_EQ(h.end(), SessionEnd::Finished) << h.owner.report->detail;
    EXPECT_EQ(proxy.targets, (std::vector<std::string>{"[2001:db8::25]:25"}));
}

// The banner in the same segment as the proxy's reply is not lost.
TEST(SmtpSessionEgress, BannerRightBehindTheProxysReply) {
    ProxyBehaviour b;
    b.banner_with_reply = true;
    ProxiedMta proxy(b);
    SessionHarness h;
    use_proxy(h, proxy.proxy_url());
    h.add("a@fake.test");
    h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::Finished) << h.owner.report->detail;
    EXPECT_EQ(h.owner.answered.size(), 1u);
}

TEST(SmtpSessionEgress, WrongPasswordEndsWithAnExplanationWithoutThePassword) {
    ProxiedMta proxy({"probe", "right"});
    SessionHarness h;
    use_proxy(h, proxy.proxy_url("probe:wrong-one@"));
    h.add("a@fake.test");
    auto took = h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::EgressFailed);
    const std::string& detail = h.owner.report->detail;
    EXPECT_EQ(detail,
              "SOCKS5 proxy " + proxy.proxy_url("probe@") + ": authentication refused (wrong user name or password?)");
    EXPECT_EQ(detail.find("wrong-one"), std::string::npos);
    EXPECT_EQ(h.owner.queue.size(), 1u);  // never sent: for the owner to decide
    EXPECT_LT(took, 1000ms);
}

TEST(SmtpSessionEgress, ProxyWantsAPasswordWeDoNotHave) {
    ProxiedMta proxy({"probe", "right"});
    SessionHarness h;
    use_proxy(h, proxy.proxy_url());
    h.add("a@fake.test");
    h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::EgressFailed);
    EXPECT_NE(h.owner.report->detail.find("it may want a user name and password"), std::string::npos);
}

TEST(SmtpSessionEgress, ConnectRefusedByTheProxyInWords) {
    ProxyBehaviour b;
    b.connect_reply = 5;
    ProxiedMta proxy(b);
    SessionHarness h;
    use_proxy(h, proxy.proxy_url());
    h.add("a@fake.test");
    h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::EgressFailed);
    EXPECT_EQ(h.owner.report->detail, "SOCKS5 proxy " + proxy.proxy_url() +
                                          ": could not connect to 192.0.2.25:25: connection refused (reply 5)");
}

TEST(SmtpSessionEgress, ProxyUnreachable) {
    SessionHarness h;
    std::string url = "socks5://u:pw@127.0.0.1:" + std::to_string(ev::test::closed_port());
    use_proxy(h, url);
    h.add("a@fake.test");
    auto took = h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::EgressFailed);
    EXPECT_NE(h.owner.report->detail.find("Connection refused"), std::string::npos);
    EXPECT_EQ(h.owner.report->detail.find(":pw@"), std::string::npos);
    EXPECT_LT(took, 1000ms);
}

TEST(SmtpSessionEgress, SilentProxyEndsAtConnectTimeout) {
    FakeSmtpServer silent([](SmtpPeer& peer) { peer.stall(3000ms); });
    SessionHarness h;
    h.config.connect_timeout = 300ms;
    use_proxy(h, "socks5://127.0.0.1:" + std::to_string(silent.port()));
    h.add("a@fake.test");
    auto took = h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::ConnectTimeout);
    EXPECT_NE(h.owner.report->detail.find("no answer to the greeting in time"), std::string::npos);
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 1000ms);
}

// connect_timeout covers the TCP connect and the whole handshake: a proxy
// whose own connect to the host takes long ends it, however quick the
// earlier steps were.
TEST(SmtpSessionEgress, ConnectTimeoutCoversTheProxysConnect) {
    ProxyBehaviour b;
    b.stall_before_connect_reply = 2000ms;
    ProxiedMta proxy(b);
    SessionHarness h;
    h.config.connect_timeout = 300ms;
    use_proxy(h, proxy.proxy_url());
    h.add("a@fake.test");
    auto took = h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::ConnectTimeout);
    EXPECT_NE(h.owner.report->detail.find("no answer to CONNECT 192.0.2.25:25 in time"), std::string::npos);
    EXPECT_LT(took, 1000ms);
}

TEST(SmtpSessionEgress, StartTlsThroughTheProxy) {
    FakeSmtpServer server([](SmtpPeer& peer) {
        if (act_as_proxy(peer, {}).empty()) return;
        peer.send("220 mx.fake.test ESMTP\r\n");
        peer.answer("250-mx.fake.test\r\n250 STARTTLS\r\n");
        if (peer.answer("220 2.0.0 Ready to start TLS\r\n") != "STARTTLS" || !peer.start_tls()) return;
        ProxiedMta::run_mta_after_banner(peer);
    });
    SessionHarness h;
    use_proxy(h, "socks5://127.0.0.1:" + std::to_string(server.port()));
    h.add("a@fake.test");
    h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::Finished) << h.owner.report->detail;
    EXPECT_TRUE(h.owner.report->used_tls);
}

// ---- source addresses ------------------------------------------------------

TEST(SmtpSessionEgress, LeavesFromTheChosenSourceAddressEveryTime) {
    FakeSmtpServer server(ev::test::mta_script({}));
    auto sources = ev::net::parse_source_addresses("127.0.0.5,127.0.0.6,127.0.0.7").addresses;
    std::string expected = ev::net::choose_source(sources, "127.0.0.1", AF_INET)->ip();
    for (int i = 0; i < 3; ++i) {
        SessionHarness h;
        h.config.source_addresses = sources;
        h.add("a@fake.test");
        h.run(server.endpoint());
        EXPECT_EQ(h.end(), SessionEnd::Finished) << h.owner.report->detail;
        EXPECT_EQ(h.owner.report->source_address, expected);
    }
    EXPECT_EQ(server.client_ips(), (std::vector<std::string>(3, expected)));
}

TEST(SmtpSessionEgress, NoSourceAddressOfTheDestinationsFamily) {
    FakeSmtpServer server(ev::test::mta_script({}));
    SessionHarness h;
    h.config.source_addresses = ev::net::parse_source_addresses("::1").addresses;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::EgressFailed);
    EXPECT_EQ(h.owner.report->detail,
              "email_verify.source_addresses has no IPv4 address to reach " + server.endpoint().text());
    EXPECT_EQ(server.connections(), 0);
    EXPECT_EQ(h.owner.queue.size(), 1u);
}

TEST(SmtpSessionEgress, ASourceAddressThisMachineDoesNotHave) {
    FakeSmtpServer server(ev::test::mta_script({}));
    SessionHarness h;
    h.config.source_addresses = ev::net::parse_source_addresses("192.0.2.1").addresses;
    h.add("a@fake.test");
    h.run(server.endpoint());
    EXPECT_EQ(h.end(), SessionEnd::EgressFailed);
    EXPECT_EQ(h.owner.report->detail, "cannot leave from source address 192.0.2.1: Cannot assign requested address");
}

// With a proxy, the source address is that of the connection to the proxy.
TEST(SmtpSessionEgress, SourceAddressTowardsTheProxy) {
    ProxiedMta proxy({});
    SessionHarness h;
    use_proxy(h, proxy.proxy_url());
    h.config.source_addresses = ev::net::parse_source_addresses("127.0.0.9").addresses;
    h.add("a@fake.test");
    h.run(kUnreachableMx);
    EXPECT_EQ(h.end(), SessionEnd::Finished) << h.owner.report->detail;
    EXPECT_EQ(proxy.server.client_ips(), (std::vector<std::string>{"127.0.0.9"}));
}
