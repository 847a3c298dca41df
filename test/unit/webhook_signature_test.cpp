#include "webhook/signature.h"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace ev::webhook;

// The expected values come from Python's own hmac, hashlib and base64, e.g.
//   hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()

TEST(WebhookSignature, HmacMatchesRfc4231) {
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hmac_sha256("", "").size(), 32u);  // an empty key is still a key
}

TEST(WebhookSignature, OurHeaderIsStripesFormatNewestSecretFirst) {
    const std::string body = R"({"a":1})";
    EXPECT_EQ(our_signature_header(1700000000, body, {"whsec_test"}),
              "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
    EXPECT_EQ(our_signature_header(1700000000, body, {"whsec_test", "old-secret"}),
              "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
              ",v1=e29ca811af373f1279f2b539116c71422ef13c442c1d2e1ce1f372109610a6b0");
}

TEST(WebhookSignature, StandardWebhooksPublishedVector) {
    // The example of the Standard Webhooks specification.
    EXPECT_EQ(standard_webhooks_signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})",
                                          {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // The prefix is optional, as in the libraries.
    EXPECT_EQ(standard_webhooks_signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})",
                                          {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, StandardWebhooksRotationAndRawKeyFallback) {
    std::string raw = standard_webhooks_signature("evt_1", 1700000000, "{}", {"not base64!"});
    EXPECT_EQ(raw, "v1,4iR43iAaGl612MVFdDfYFxt4IXIHe2ATSm6XzJtrF2M=");
    std::string both = standard_webhooks_signature("evt_1", 1700000000, "{}", {"whsec_AAAA", "not base64!"});
    EXPECT_EQ(both.substr(both.find(' ') + 1), raw);
    EXPECT_EQ(both.rfind("v1,", 0), 0u);
}

TEST(WebhookSignature, KeyDerivation) {
    EXPECT_EQ(standard_webhooks_key("whsec_AAEC"), std::string("\x00\x01\x02", 3));
    EXPECT_EQ(standard_webhooks_key("AAEC"), std::string("\x00\x01\x02", 3));
    EXPECT_EQ(standard_webhooks_key("whsec_AA=="), std::string(1, '\0'));
    EXPECT_EQ(standard_webhooks_key("whsec_AAE"), "whsec_AAE");  // bad length: raw bytes, prefix kept
    EXPECT_EQ(standard_webhooks_key("plain secret"), "plain secret");
    EXPECT_EQ(standard_webhooks_key("whsec_A=AA"), "whsec_A=AA");
}

TEST(WebhookSignature, Base64IsStrict) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_decode("Zg=="), "f");
    EXPECT_EQ(base64_decode("Zm8="), "fo");
    EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
    EXPECT_EQ(base64_decode(""), "");
    for (const char* bad : {"Zg", "Zg=", "Z===", "====", "Zm9v YmFy", " Zm9v", "Zm9v\n", "Zm-v", "Z=g="})
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

TEST(WebhookSignature, NewSecretsAreFreshAndDecodeTo32Bytes) {
    std::string a = new_secret();
    std::string b = new_secret();
    EXPECT_NE(a, b);
    ASSERT_EQ(a.rfind("whsec_", 0), 0u);
    auto key = base64_decode(a.substr(6));
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(key->size(), 32u);
    EXPECT_EQ(standard_webhooks_key(a), *key);
}

TEST(WebhookSignature, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(WebhookSignature, DeliveryHeaders) {
    auto headers = delivery_headers("evt_1", "bulk.completed", "{}", 1700000000, {"not base64!"}, "email_verify/0.4.0");
    std::vector<std::string> expected = {
        "Content-Type: application/json",
        "User-Agent: email_verify/0.4.0",
        "X-Email-Verify-Event: bulk.completed",
        "X-Email-Verify-Event-Id: evt_1",
        "X-Email-Verify-Signature: " + our_signature_header(1700000000, "{}", {"not base64!"}),
        "webhook-id: evt_1",
        "webhook-timestamp: 1700000000",
        "webhook-signature: v1,4iR43iAaGl612MVFdDfYFxt4IXIHe2ATSm6XzJtrF2M=",
    };
    EXPECT_EQ(headers, expected);
    EXPECT_THROW(delivery_headers("evt\r\nX-Evil: 1", "bulk.completed", "{}", 1, {"s"}, "ua"), std::invalid_argument);
    EXPECT_THROW(delivery_headers("evt", "bulk\n", "{}", 1, {"s"}, "ua"), std::invalid_argument);
    EXPECT_THROW(delivery_headers("evt", "bulk", "{}", 1, {}, "ua"), std::invalid_argument);
}
