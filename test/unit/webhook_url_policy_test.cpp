#include "webhook/url_policy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

using namespace ev::webhook;

TEST(WebhookUrl, AcceptsHttpAndHttpsAndNormalizes) {
    auto c = check_webhook_url("HTTPS://Hooks.Example.COM/path/To?x=1");
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.scheme, "https");
    EXPECT_EQ(c.host, "hooks.example.com");
    EXPECT_EQ(c.port, 443);
    EXPECT_EQ(c.origin, "https://hooks.example.com");
    EXPECT_EQ(c.url, "https://hooks.example.com/path/To?x=1");
    EXPECT_FALSE(c.host_is_ip);

    c = check_webhook_url("http://receiver.test:8080/hook");
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.port, 8080);
    EXPECT_EQ(c.origin, "http://receiver.test:8080");

    c = check_webhook_url("https://bücher.example/x");
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.host, "xn--bcher-kva.example");
    EXPECT_EQ(c.url, "https://xn--bcher-kva.example/x");
}

TEST(WebhookUrl, IpLiteralsAreRecognizedInCurlsReading) {
    auto c = check_webhook_url("http://[::1]:8080/x");
    ASSERT_TRUE(c.ok) << c.error;
    EXPECT_EQ(c.host, "::1");
    EXPECT_TRUE(c.host_is_ip);
    EXPECT_EQ(c.origin, "http://[::1]:8080");
    // curl reads these forms as 127.0.0.1: so must the address check.
    for (const char* url :
         {"http://127.1/", "http://0x7f.1/", "http://2130706433/", "http://127.0.0.%31/", "http://21307%306433/"}) {
        c = check_webhook_url(url);
        ASSERT_TRUE(c.ok) << url << ": " << c.error;
        EXPECT_EQ(c.host, "127.0.0.1") << url;
        EXPECT_TRUE(c.host_is_ip) << url;
    }
}

TEST(WebhookUrl, RefusalsSayWhy) {
    EXPECT_EQ(check_webhook_url("ftp://files.example/x").error,
              "webhook_url must use http or https: ftp://files.example/x");
    EXPECT_EQ(check_webhook_url("").error, "webhook_url is empty");
    EXPECT_EQ(check_webhook_url("file:///etc/passwd").error.rfind("webhook_url must use http or https", 0), 0u);
    EXPECT_EQ(check_webhook_url("gopher://x/").error.rfind("webhook_url must use http or https", 0), 0u);
    EXPECT_EQ(check_webhook_url("example.com/hook").error.rfind("webhook_url is not a valid absolute URL", 0), 0u);
    EXPECT_EQ(check_webhook_url("http://ex ample.com/").error.rfind("webhook_url is not a valid absolute URL", 0), 0u);
    EXPECT_EQ(check_webhook_url("http://a..b/").error.rfind("webhook_url has an invalid host name", 0), 0u);
    EXPECT_EQ(check_webhook_url("http://x:0/").error.rfind("webhook_url has an invalid port", 0), 0u);
    EXPECT_EQ(check_webhook_url("http://[fe80::1%25eth0]/").error.rfind("webhook_url must not name an IPv6 zone", 0),
              0u);
    std::string long_url = "https://example.com/" + std::string(2100, 'a');
    EXPECT_EQ(check_webhook_url(long_url).error, "webhook_url is longer than 2048 bytes");
    EXPECT_TRUE(check_webhook_url("https://example.com/" + std::string(2000, 'a')).ok);
    EXPECT_FALSE(check_webhook_url(std::string("http://a\0b/", 11)).ok);
}

TEST(WebhookUrl, CredentialsAreRefusedAndNeverEchoed) {
    for (const char* url : {"https://alice:Sup3rS3cret@hooks.example/x", "https://Sup3rS3cret@hooks.example/x",
                            "https://alice:Sup3rS3cret/x@hooks.example/", "http://a:Sup3rS3cret@[::1/"}) {
        auto c = check_webhook_url(url);
        EXPECT_FALSE(c.ok) << url;
        EXPECT_EQ(c.error.find("Sup3rS3cret"), std::string::npos) << c.error;
        EXPECT_EQ(c.error.rfind("webhook_url ", 0), 0u) << c.error;
    }
    EXPECT_EQ(check_webhook_url("https://alice:pw@hooks.example/x").error,
              "webhook_url must not hold a user name or password (they would show wherever the URL does): "
              "https://***@hooks.example/x");
}

TEST(WebhookAddress, Ipv4Classes) {
    struct Case {
        const char* ip;
        AddressClass expected;
    };
    const Case cases[] = {
        {"8.8.8.8", AddressClass::Public},
        {"1.1.1.1", AddressClass::Public},
        {"10.1.2.3", AddressClass::Private},
        {"172.16.0.1", AddressClass::Private},
        {"172.31.255.255", AddressClass::Private},
        {"172.32.0.1", AddressClass::Public},
        {"192.168.1.1", AddressClass::Private},
        {"100.64.0.1", AddressClass::Private},
        {"100.127.255.255", AddressClass::Private},
        {"100.128.0.1", AddressClass::Public},
        {"127.0.0.1", AddressClass::Loopback},
        {"127.255.0.9", AddressClass::Loopback},
        {"169.254.169.254", AddressClass::LinkLocal},
        {"224.0.0.1", AddressClass::Multicast},
        {"239.255.255.255", AddressClass::Multicast},
        {"0.0.0.0", AddressClass::Reserved},
        {"0.1.2.3", AddressClass::Reserved},
        {"240.0.0.1", AddressClass::Reserved},
        {"255.255.255.255", AddressClass::Reserved},
        {"192.0.0.8", AddressClass::Reserved},
        {"192.0.2.1", AddressClass::Reserved},
        {"198.18.0.1", AddressClass::Reserved},
        {"198.19.255.255", AddressClass::Reserved},
        {"198.20.0.1", AddressClass::Public},
        {"198.51.100.7", AddressClass::Reserved},
        {"203.0.113.9", AddressClass::Reserved},
        {"192.0.1.1", AddressClass::Public},
    };
    for (const auto& c : cases) {
        auto got = classify_address(std::string(c.ip));
        ASSERT_TRUE(got.has_value()) << c.ip;
        EXPECT_EQ(to_string(*got), std::string(to_string(c.expected))) << c.ip;
    }
}

TEST(WebhookAddress, Ipv6Classes) {
    struct Case {
        const char* ip;
        AddressClass expected;
    };
    const Case cases[] = {
        {"2606:4700:4700::1111", AddressClass::Public},
        {"::1", AddressClass::Loopback},
        {"::", AddressClass::Reserved},
        {"fc00::1", AddressClass::Private},
        {"fd12:3456::1", AddressClass::Private},
        {"fe80::1", AddressClass::LinkLocal},
        {"febf::1", AddressClass::LinkLocal},
        {"ff02::1", AddressClass::Multicast},
        {"2001:db8::1", AddressClass::Reserved},
        {"::ffff:127.0.0.1", AddressClass::Loopback},
        {"::ffff:10.0.0.1", AddressClass::Private},
        {"::ffff:8.8.8.8", AddressClass::Public},
        {"64:ff9b::7f00:1", AddressClass::Loopback},
        {"64:ff9b::a9fe:a9fe", AddressClass::LinkLocal},
        {"64:ff9b::808:808", AddressClass::Public},
        {"2002:7f00:1::1", AddressClass::Loopback},
        {"2002:808:808::1", AddressClass::Public},
        {"::127.0.0.1", AddressClass::Reserved},
        {"100::1", AddressClass::Reserved},
        {"2001::1", AddressClass::Reserved},
        {"[::1]", AddressClass::Loopback},
    };
    for (const auto& c : cases) {
        auto got = classify_address(std::string(c.ip));
        ASSERT_TRUE(got.has_value()) << c.ip;
        EXPECT_EQ(to_string(*got), std::string(to_string(c.expected))) << c.ip;
    }
    EXPECT_FALSE(classify_address(std::string("example.com")).has_value());
    EXPECT_FALSE(classify_address(std::string("")).has_value());
    EXPECT_FALSE(classify_address(std::string("127.1")).has_value());  // numeric means dotted quad here
}

TEST(WebhookAddress, SockaddrForms) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.168.0.1", &v4.sin_addr);
    EXPECT_EQ(classify_address(reinterpret_cast<const sockaddr*>(&v4)), AddressClass::Private);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:169.254.1.1", &v6.sin6_addr);
    EXPECT_EQ(classify_address(reinterpret_cast<const sockaddr*>(&v6)), AddressClass::LinkLocal);
    sockaddr unix_like{};
    unix_like.sa_family = AF_UNIX;
    EXPECT_EQ(classify_address(&unix_like), AddressClass::Reserved);
    EXPECT_EQ(classify_address(static_cast<const sockaddr*>(nullptr)), AddressClass::Reserved);
}
