// What one delivery attempt came to: what DeliveryClient reports and what
// the retry decision reads.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ev::webhook {

enum class Cause {
    None,            // an answer came; http_status says which (2xx: delivered)
    HttpStatus,      // an answer other than 2xx
    Timeout,         // the request's timeout passed
    Connect,         // the connection failed (refused, unreachable, reset)
    Tls,             // the TLS handshake or the certificate check failed
    Dns,             // the host name did not resolve
    RefusedAddress,  // the host resolves only to addresses the policy refuses
    InvalidUrl,      // the URL fails check_webhook_url
    Other,           // anything else (a broken answer, out of memory, ...)
};

const char* to_string(Cause cause);

struct Outcome {
    long http_status = 0;  // 0 when no answer came
    Cause cause = Cause::Other;
    // For a person: never holds a secret or the request body; may hold up
    // to 512 bytes of the response body, as printable ASCII (storable in any
    // database encoding).
    std::string error;
    std::optional<std::chrono::seconds> retry_after;  // from a Retry-After header
    long latency_ms = 0;                              // submit to completion, DNS included

    bool delivered() const { return cause == Cause::None && http_status >= 200 && http_status <= 299; }
};

}  // namespace ev::webhook
