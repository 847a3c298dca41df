#include "remote/prober_settings.h"

#include <gtest/gtest.h>

using ev::remote::remote_settings;

TEST(ProberSettings, TheServersSettingsOverriddenByTheProbersOwn) {
    std::map<std::string, std::string> server = {{"email_verify.dns_servers", "10.0.0.1:53"},
                                                 {"email_verify.reply_timeout", "15000"},
                                                 {"email_verify.retry_delay", "60"},
                                                 {"email_verify.worker_batch_size", "500"},
                                                 {"email_verify.starttls", "on"},
                                                 {"email_verify.helo_name", ""}};
    std::map<std::string, std::string> own = {
        {"email_verify.dns_servers", "127.0.0.1:5353"}, {"batch_size", "50"}, {"email_verify.starttls", "off"}};
    auto r = remote_settings(server, own, "prober1.example");
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.settings.verifier.probe.dns.servers, "127.0.0.1:5353");
    EXPECT_EQ(r.settings.verifier.probe.session.reply_timeout, std::chrono::milliseconds(15000));
    EXPECT_EQ(r.settings.retry.retry_delay, std::chrono::seconds(60));
    EXPECT_EQ(r.settings.batch_size, 50);
    EXPECT_FALSE(r.settings.verifier.probe.session.starttls);
    EXPECT_EQ(r.settings.verifier.probe.session.helo_name, "prober1.example");
    EXPECT_FALSE(r.settings.verifier.reuse_cached);
}

TEST(ProberSettings, EgressOnlyFromTheProbersOwnConfiguration) {
    auto r = remote_settings({{"email_verify.source_addresses", "192.0.2.1"}}, {}, "h");
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.settings.verifier.probe.session.source_addresses.empty());
    r = remote_settings({}, {{"email_verify.source_addresses", "127.0.0.5"}}, "h");
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.settings.verifier.probe.session.source_addresses.size(), 1u);
}

TEST(ProberSettings, BadValuesAreNamedNeverRepeated) {
    EXPECT_EQ(remote_settings({}, {{"lease_seconds", "2"}}, "h").error,
              "lease_seconds must be an integer from 5 to 86400");
    EXPECT_EQ(remote_settings({{"email_verify.starttls", "maybe"}}, {}, "h").error,
              "email_verify.starttls must be on or off");
    auto r = remote_settings({}, {{"email_verify.socks5_proxy", "socks5://user:s3cret@bad host:1"}}, "h");
    EXPECT_NE(r.error, "");
    EXPECT_EQ(r.error.find("s3cret"), std::string::npos);
}
