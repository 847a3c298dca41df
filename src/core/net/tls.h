// OpenSSL for STARTTLS. A probe only needs the channel, not trust: a
// self-signed or mismatched certificate must not stop it, so verification
// runs in "record, don't enforce" mode and its outcome is reported.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ev::net {

// One client context per process: loading the system trust store is the
// expensive part, and it does not change between probes.
SSL_CTX* client_tls_context();

struct SslDeleter {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// A client TLS object on fd, with SNI and the name to check the certificate against.
SslPtr new_tls_client(int fd, const std::string& server_name);

// After the handshake: "" when the certificate is valid for the server name,
// else why not ("self-signed certificate", "hostname mismatch", ...).
std::string certificate_problem(SSL* ssl);

// The most recent OpenSSL error, for logs; clears the queue.
std::string last_tls_error();

}  // namespace ev::net
