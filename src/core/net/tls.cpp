#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <mutex>
#include <stdexcept>

namespace ev::net {

SSL_CTX* client_tls_context() {
    static SSL_CTX* context = nullptr;
    static std::once_flag once;
    std::call_once(once, [] {
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        if (ctx == nullptr) throw std::runtime_error("OpenSSL: cannot create a TLS context: " + last_tls_error());
        SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
        SSL_CTX_set_default_verify_paths(ctx);
        // Verify, but never abort the handshake over it (see the header).
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        context = ctx;
    });
    return context;
}

SslPtr new_tls_client(int fd, const std::string& server_name) {
    SslPtr ssl(SSL_new(client_tls_context()));
    if (!ssl) throw std::runtime_error("OpenSSL: SSL_new failed: " + last_tls_error());
    SSL_set_fd(ssl.get(), fd);
    SSL_set_connect_state(ssl.get());
    if (!server_name.empty()) {
        SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
        SSL_set1_host(ssl.get(), server_name.c_str());
    }
    return ssl;
}

std::string certificate_problem(SSL* ssl) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    if (peer == nullptr) return "no certificate";
    X509_free(peer);
    long result = SSL_get_verify_result(ssl);
    if (result == X509_V_OK) return "";
    return X509_verify_cert_error_string(result);
}

std::string last_tls_error() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown TLS error";
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    return buffer;
}

}  // namespace ev::net
