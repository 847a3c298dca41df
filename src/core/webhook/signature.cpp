#include "webhook/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace ev::webhook {

namespace {

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

void require_header_safe(std::string_view what, std::string_view value) {
    for (unsigned char c : value)
        if (c < 0x20 || c == 0x7f) throw std::invalid_argument(std::string(what) + " holds a control character");
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view message) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    // HMAC() takes a non-null key pointer even for an empty key.
    static const unsigned char empty = 0;
    const unsigned char* key_bytes = key.empty() ? &empty : bytes_of(key);
    if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), bytes_of(message), message.size(), digest,
             &length) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    static const char hex[] = "0123456789abcdef";
    std::string raw = hmac_sha256(key, message);
    std::string out;
    out.reserve(raw.size() * 2);
    for (unsigned char c : raw) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(bytes), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
    for (std::size_t i = 0; i < text.size() - padding; ++i)
        if (!is_base64_char(text[i])) return std::nullopt;
    if (text.empty()) return std::string();
    // EVP_DecodeBlock also skips blanks and counts padding as zero bytes:
    // the strict check above leaves it only the padding to account for.
    std::string out(3 * text.size() / 4, '\0');
    int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(text), static_cast<int>(text.size()));
    if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
    out.resize(out.size() - padding);
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string our_signature_header(std::int64_t t, std::string_view body, const std::vector<std::string>& secrets) {
    std::string stamp = std::to_string(t);
    std::string message = stamp + "." + std::string(body);
    std::string out = "t=" + stamp;
    for (const auto& secret : secrets) out += ",v1=" + hmac_sha256_hex(secret, message);
    return out;
}

std::string standard_webhooks_key(std::string_view secret) {
    std::string_view rest = secret;
    constexpr std::string_view prefix = "whsec_";
    if (rest.substr(0, prefix.size()) == prefix) rest.remove_prefix(prefix.size());
    if (auto decoded = base64_decode(rest)) return *decoded;
    return std::string(secret);
}

std::string standard_webhooks_signature(std::string_view event_id, std::int64_t t, std::string_view body,
                                        const std::vector<std::string>& secrets) {
    std::string message = std::string(event_id) + "." + std::to_string(t) + "." + std::string(body);
    std::string out;
    for (const auto& secret : secrets) {
        if (!out.empty()) out += ' ';
        out += "v1," + base64_encode(hmac_sha256(standard_webhooks_key(secret), message));
    }
    return out;
}

std::string new_secret() {
    unsigned char random[32];
    if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("RAND_bytes failed");
    return "whsec_" + base64_encode(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
}

std::vector<std::string> delivery_headers(std::string_view event_id, std::string_view event_type, std::string_view body,
                                          std::int64_t t, const std::vector<std::string>& secrets,
                                          std::string_view user_agent) {
    require_header_safe("event_id", event_id);
    require_header_safe("event_type", event_type);
    require_header_safe("user_agent", user_agent);
    if (secrets.empty()) throw std::invalid_argument("a webhook delivery needs at least one secret");
    std::string id(event_id);
    std::string stamp = std::to_string(t);
    return {
        "Content-Type: application/json",
        "User-Agent: " + std::string(user_agent),
        "X-Email-Verify-Event: " + std::string(event_type),
        "X-Email-Verify-Event-Id: " + id,
        "X-Email-Verify-Signature: " + our_signature_header(t, body, secrets),
        "webhook-id: " + id,
        "webhook-timestamp: " + stamp,
        "webhook-signature: " + standard_webhooks_signature(event_id, t, body, secrets),
    };
}

}  // namespace ev::webhook
