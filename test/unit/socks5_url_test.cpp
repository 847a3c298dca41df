// email_verify.socks5_proxy's parser: socks5://[user:password@]host:port,
// IP literals only, percent-decoded credentials, and errors that never show
// the password.
#include <gtest/gtest.h>

#include <string>

#include "net/socks5_url.h"

using ev::net::parse_socks5_url;

TEST(Socks5Url, HostAndPort) {
    auto r = parse_socks5_url("socks5://127.0.0.1:1080");
    ASSERT_TRUE(r.proxy) << r.error;
    EXPECT_EQ(r.proxy->server.text(), "127.0.0.1:1080");
    EXPECT_FALSE(r.proxy->has_credentials());
    EXPECT_EQ(r.proxy->text(), "socks5://127.0.0.1:1080");
}

TEST(Socks5Url, CredentialsAreDecodedAndNeverShown) {
    auto r = parse_socks5_url("SOCKS5://probe%40corp:p%3Ass%2Fw%25rd@[2001:db8::5]:1081/");
    ASSERT_TRUE(r.proxy) << r.error;
    EXPECT_EQ(r.proxy->username, "probe@corp");
    EXPECT_EQ(r.proxy->password, "p:ss/w%rd");
    EXPECT_EQ(r.proxy->server.text(), "[2001:db8::5]:1081");
    EXPECT_EQ(r.proxy->text(), "socks5://probe@corp@[2001:db8::5]:1081");
}

// An '@' or ':' the writer forgot to escape in the password still parses:
// the host starts after the last '@', the password after the first ':'.
TEST(Socks5Url, UnescapedSeparatorsInThePassword) {
    auto r = parse_socks5_url("socks5://user:pa:ss@word@10.0.0.1:9050");
    ASSERT_TRUE(r.proxy) << r.error;
    EXPECT_EQ(r.proxy->username, "user");
    EXPECT_EQ(r.proxy->password, "pa:ss@word");
    EXPECT_EQ(r.proxy->server.text(), "10.0.0.1:9050");
}

TEST(Socks5Url, PortDefaultsTo1080) {
    EXPECT_EQ(parse_socks5_url("socks5://10.0.0.1").proxy->server.port(), 1080);
    EXPECT_EQ(parse_socks5_url("socks5://[::1]").proxy->server.text(), "[::1]:1080");
}

TEST(Socks5Url, EmptyMeansNoProxy) {
    auto r = parse_socks5_url("  ");
    EXPECT_FALSE(r.proxy);
    EXPECT_EQ(r.error, "");
}

TEST(Socks5Url, ErrorsAreClearAndNeverCarryThePassword) {
    struct Case {
        const char* url;
        const char* error;
    } cases[] = {
        {"http://10.0.0.1:1080", "the proxy must be written socks5://[user:password@]host:port"},
        {"socks4://10.0.0.1:1080", "the proxy must be written socks5://[user:password@]host:port"},
        {"socks5h://10.0.0.1:1080", "the proxy must be written socks5://[user:password@]host:port"},
        {"socks5://proxy.example:1080", "the proxy's host must be an IP address (names are not resolved for it)"},
        {"socks5://user:s3cret@proxy.example:1080",
         "the proxy's host must be an IP address (names are not resolved for it)"},
        {"socks5://10.0.0.1:0", "the proxy's port must be a number from 1 to 65535"},
        {"socks5://10.0.0.1:65536", "the proxy's port must be a number from 1 to 65535"},
        {"socks5://10.0.0.1:10x", "the proxy's port must be a number from 1 to 65535"},
        {"socks5://10.0.0.1:", "the proxy's port must be a number from 1 to 65535"},
        {"socks5://2001:db8::1:1080", "write an IPv6 proxy address in brackets: socks5://[2001:db8::1]:1080"},
        {"socks5://[2001:db8::1:1080", "the proxy's IPv6 address lacks its closing ']'"},
        {"socks5://[10.0.0.1]:1080", "the proxy's address in [ ] is not an IPv6 address"},
        {"socks5://[::1]x", "expected ':port' after the proxy's IPv6 address"},
        {"socks5://10.0.0.1:1080/path", "the proxy URL may not have a path, query or fragment"},
        {"socks5://:1080", "the proxy URL has no host"},
        {"socks5://s3cret@10.0.0.1:1080", "a user name needs a password: socks5://user:password@host:port"},
        {"socks5://user:@10.0.0.1:1080", "the password must be 1 to 255 bytes long"},
        {"socks5://:s3cret@10.0.0.1:1080", "the user name must be 1 to 255 bytes long"},
        {"socks5://user:s3cret%zz@10.0.0.1:1080", "the password has a bad %-escape (write %XX with two hex digits)"},
        {"socks5://user:s3cret%4@10.0.0.1:1080", "the password has a bad %-escape (write %XX with two hex digits)"},
        {"socks5://user:s3cret%00@10.0.0.1:1080", "the password contains a NUL byte"},
        {"socks5://us\ner:s3cret@10.0.0.1:1080", "the proxy URL contains a control character (escape it as %XX)"},
    };
    for (const auto& c : cases) {
        auto r = parse_socks5_url(c.url);
        EXPECT_FALSE(r.proxy) << c.url;
        EXPECT_EQ(r.error, c.error) << c.url;
        EXPECT_EQ(r.error.find("s3cret"), std::string::npos) << c.url;
    }
}

TEST(Socks5Url, CredentialsLongerThanRfc1929AllowsAreRefused) {
    std::string long_password(256, 'p');
    auto r = parse_socks5_url("socks5://user:" + long_password + "@10.0.0.1:1080");
    EXPECT_FALSE(r.proxy);
    EXPECT_EQ(r.error, "the password must be 1 to 255 bytes long");
    EXPECT_TRUE(parse_socks5_url("socks5://user:" + std::string(255, 'p') + "@10.0.0.1:1080").proxy);
}

// What the PostgreSQL layer's log filter does to every message and
// statement that holds a proxy URL.
TEST(Socks5Url, CredentialsAreRedactedFromLogText) {
    using ev::net::redact_socks5_credentials;
    EXPECT_EQ(redact_socks5_credentials(
                  "parameter \"email_verify.socks5_proxy\" changed to \"socks5://probe:s3cret@127.0.0.1:1080\""),
              "parameter \"email_verify.socks5_proxy\" changed to \"socks5://probe:***@127.0.0.1:1080\"");
    EXPECT_EQ(redact_socks5_credentials("ALTER SYSTEM SET email_verify.socks5_proxy = 'SOCKS5://u:it''s a p@ss@[::1]'"),
              "ALTER SYSTEM SET email_verify.socks5_proxy = 'SOCKS5://u:***@[::1]'");
    // No user part: whatever stands before the '@' is hidden.
    EXPECT_EQ(redact_socks5_credentials("socks5://s3cret@10.0.0.1"), "socks5://***@10.0.0.1");
    // Two URLs, two lines: each line on its own.
    EXPECT_EQ(redact_socks5_credentials("a socks5://u:one@10.0.0.1\nb socks5://v:two@10.0.0.2"),
              "a socks5://u:***@10.0.0.1\nb socks5://v:***@10.0.0.2");
    EXPECT_EQ(redact_socks5_credentials("socks5://10.0.0.1:1080 and no credentials"),
              "socks5://10.0.0.1:1080 and no credentials");
    EXPECT_EQ(redact_socks5_credentials("nothing here"), "nothing here");
    EXPECT_TRUE(ev::net::mentions_socks5_url("x Socks5://y"));
    EXPECT_FALSE(ev::net::mentions_socks5_url("socks4://y"));
}
