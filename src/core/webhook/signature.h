// Signing a webhook POST: our own header (Stripe's scheme, so Stripe's
// libraries verify it) and the Standard Webhooks headers, one signature per
// secret while a secret is being rotated (newest first).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ev::webhook {

// Lower-case hex of HMAC-SHA256(key, message).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);
// The 32 raw bytes of HMAC-SHA256(key, message).
std::string hmac_sha256(std::string_view key, std::string_view message);

// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);
// Strict: the standard alphabet, a length that is a multiple of 4, '='
// only as the last one or two characters. nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

// Equal length and contents, in time that depends only on the length, for
// whoever compares a received signature with the expected one.
bool constant_time_equal(std::string_view a, std::string_view b);

// X-Email-Verify-Signature's value: "t=<t>,v1=<hex>[,v1=<hex>...]", one v1
// per secret in the order given, each HMAC-SHA256(secret bytes, "<t>.<body>").
std::string our_signature_header(std::int64_t t, std::string_view body, const std::vector<std::string>& secrets);

// The HMAC key the Standard Webhooks libraries derive from a secret: an
// optional "whsec_" prefix stripped, the rest base64-decoded; when the rest
// is not valid base64, the secret's own bytes (receivers then verify with
// the library's raw-key form).
std::string standard_webhooks_key(std::string_view secret);

// webhook-signature's value: "v1,<base64 HMAC-SHA256(key, "<id>.<t>.<body>")>",
// space-separated, one per secret in the order given.
std::string standard_webhooks_signature(std::string_view event_id, std::int64_t t, std::string_view body,
                                        const std::vector<std::string>& secrets);

// A fresh secret: "whsec_" + base64 of 32 random bytes (OpenSSL RAND_bytes).
// Verifies unchanged with Stripe's libraries (which use it as raw bytes) and
// Standard Webhooks' (which decode it). Throws std::runtime_error when the
// random generator fails.
std::string new_secret();

// Every header of one delivery attempt, "Name: value", in a stable order.
// t is the attempt's own Unix time. Throws std::invalid_argument when
// event_id, event_type or user_agent holds a control character (it would
// end the header early), or when there is no secret.
std::vector<std::string> delivery_headers(std::string_view event_id, std::string_view event_type, std::string_view body,
                                          std::int64_t t, const std::vector<std::string>& secrets,
                                          std::string_view user_agent);

}  // namespace ev::webhook
