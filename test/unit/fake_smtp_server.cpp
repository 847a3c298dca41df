#include "fake_smtp_server.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

namespace ev::test {

namespace {

constexpr int kPollMs = 20;  // every wait of a server thread is this short

// A self-signed certificate for mx.fake.test, made once per process: the
// client must carry on through a certificate that does not verify.
SSL_CTX* server_tls_context() {
    static SSL_CTX* context = [] {
        EVP_PKEY* key = EVP_EC_gen("P-256");
        X509* cert = X509_new();
        if (key == nullptr || cert == nullptr) throw std::runtime_error("fake SMTP: cannot make a key");
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mx.fake.test"), -1,
                                   -1, 0);
        X509_set_issuer_name(cert, name);
        X509_sign(cert, key, EVP_sha256());
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate(ctx, cert);
        SSL_CTX_use_PrivateKey(ctx, key);
        X509_free(cert);
        EVP_PKEY_free(key);
        return ctx;
    }();
    return context;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    return s;
}

}  // namespace

// ---- SmtpPeer -------------------------------------------------------------

SmtpPeer::SmtpPeer(FakeSmtpServer& server, int fd, int number) : server_(server), fd_(fd), number_(number) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0) {
        net::Endpoint endpoint;
        endpoint.storage = peer;
        endpoint.length = peer_length;
        client_ip_ = endpoint.ip();
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A safety net for the blocking TLS calls; plain reads poll.
    timeval limit{3, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
}

SmtpPeer::~SmtpPeer() {
    close();
    leave();
}

void SmtpPeer::leave() {
    if (!counted_) return;
    counted_ = false;
    --server_.concurrent_;
}

void SmtpPeer::close() {
    if (tls_ != nullptr) {
        SSL_free(tls_);
        tls_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void SmtpPeer::write_all(const char* data, std::size_t size) {
    while (size > 0 && fd_ >= 0) {
        ssize_t n = tls_ ? SSL_write(tls_, data, static_cast<int>(size)) : ::send(fd_, data, size, MSG_NOSIGNAL);
        if (n <= 0) return;  // the client went away: the test sees it on its side
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

void SmtpPeer::send(std::string_view bytes) { write_all(bytes.data(), bytes.size()); }

void SmtpPeer::send_bytewise(std::string_view bytes) {
    for (char c : bytes) {
        write_all(&c, 1);
        std::this_thread::sleep_for(1ms);
    }
}

void SmtpPeer::send_slowly(std::string_view bytes, std::chrono::milliseconds interval) {
    for (char c : bytes) {
        if (server_.stopping()) return;
        write_all(&c, 1);
        stall(interval);
    }
}

bool SmtpPeer::fill(std::chrono::milliseconds timeout) {
    if (fd_ < 0 || eof_) return false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!server_.stopping()) {
        bool ready = tls_ != nullptr && SSL_pending(tls_) > 0;
        if (!ready) {
            pollfd p{fd_, POLLIN, 0};
            ready = poll(&p, 1, kPollMs) > 0;
        }
        if (ready) {
            char chunk[4096];
            ssize_t n = tls_ ? SSL_read(tls_, chunk, sizeof chunk) : ::read(fd_, chunk, sizeof chunk);
            if (n <= 0) {
                if (tls_) ERR_clear_error();
                eof_ = true;
                return false;
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) return false;
    }
    return false;
}

std::optional<std::string> SmtpPeer::read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            server_.log(line);
            return line;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !fill(left)) return std::nullopt;
    }
}

std::optional<std::string> SmtpPeer::read_bytes(std::size_t count, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.size() < count) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !fill(left)) return std::nullopt;
    }
    std::string bytes = buffer_.substr(0, count);
    buffer_.erase(0, count);
    return bytes;
}

std::string SmtpPeer::answer(std::string_view reply) {
    auto line = read_line();
    if (!line) return "";
    send(reply);
    return *line;
}

bool SmtpPeer::line_waiting() {
    while (buffer_.find('\n') == std::string::npos) {
        if (fd_ < 0 || eof_) return false;
        bool ready = tls_ != nullptr && SSL_pending(tls_) > 0;
        if (!ready) {
            pollfd p{fd_, POLLIN, 0};
            ready = poll(&p, 1, 0) > 0;
        }
        if (!ready) return false;
        char chunk[4096];
        ssize_t n = tls_ ? SSL_read(tls_, chunk, sizeof chunk) : ::read(fd_, chunk, sizeof chunk);
        if (n <= 0) {
            if (tls_) ERR_clear_error();
            eof_ = true;
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
}

bool SmtpPeer::start_tls() {
    if (fd_ < 0 || !buffer_.empty()) return false;
    tls_ = SSL_new(server_tls_context());
    SSL_set_fd(tls_, fd_);
    if (SSL_accept(tls_) == 1) return true;
    ERR_clear_error();
    return false;
}

void SmtpPeer::stall(std::chrono::milliseconds duration) {
    auto deadline = std::chrono::steady_clock::now() + duration;
    while (!server_.stopping() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
}

bool SmtpPeer::client_closed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        if (fill(left)) {
            while (read_line(0ms)) continue;  // what the client sends before it closes is not looked at
        } else if (!eof_) {
            return false;
        }
    }
    return true;
}

// ---- FakeSmtpServer ---------------------------------------------------------

FakeSmtpServer::FakeSmtpServer(SmtpScript script, const std::string& ip, int port)
    : script_(std::move(script)), ip_(ip) {
    auto at = net::make_endpoint(ip, port == 0 ? 1 : port);
    if (!at) throw std::invalid_argument("fake SMTP: bad address " + ip);
    if (port == 0) reinterpret_cast<sockaddr_in*>(&at->storage)->sin_port = 0;
    listen_fd_ = socket(at->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&at->storage), at->length) != 0 || listen(listen_fd_, 64) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("fake SMTP: cannot listen on " + ip + ":" + std::to_string(port));
    }
    sockaddr_in bound{};
    socklen_t length = sizeof bound;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = ntohs(bound.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeSmtpServer::~FakeSmtpServer() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : peers_) t.join();
    ::close(listen_fd_);
}

net::Endpoint FakeSmtpServer::endpoint() const { return *net::make_endpoint(ip_, port_); }

void FakeSmtpServer::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, kPollMs) <= 0) continue;
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        {
            sockaddr_storage peer{};
            socklen_t peer_length = sizeof peer;
            getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length);
            net::Endpoint endpoint;
            endpoint.storage = peer;
            endpoint.length = peer_length;
            std::lock_guard<std::mutex> lock(mutex_);
            client_ips_.push_back(endpoint.ip());
        }
        int number = ++connections_;
        int now = ++concurrent_;
        int seen = max_concurrent_;
        while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {
        }
        peers_.emplace_back([this, fd, number] {
            SmtpPeer peer(*this, fd, number);
            script_(peer);
        });
    }
}

void FakeSmtpServer::log(std::string line) {
    std::lock_guard<std::mutex> lock(mutex_);
    received_.push_back(std::move(line));
}

std::vector<std::string> FakeSmtpServer::received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
}

std::vector<std::string> FakeSmtpServer::client_ips() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return client_ips_;
}

std::vector<std::string> FakeSmtpServer::received_starting(std::string_view prefix) const {
    std::vector<std::string> out;
    for (auto& line : received())
        if (line.compare(0, prefix.size(), prefix) == 0) out.push_back(line);
    return out;
}

// ---- a well-behaved MTA ---------------------------------------------------------

std::string rcpt_address(const std::string& line) {
    auto open = line.find('<');
    auto close = line.rfind('>');
    if (open == std::string::npos || close == std::string::npos || close < open) return "";
    return line.substr(open + 1, close - open - 1);
}

int closed_port() {
    FakeSmtpServer released([](SmtpPeer&) {});
    return released.port();
}

SmtpScript mta_script(MtaBehaviour behaviour) {
    return [behaviour = std::move(behaviour)](SmtpPeer& peer) {
        ErrorLimitCounters& counters = *behaviour.counters;
        int errors = 0;
        std::string held;  // replies kept back (batch_replies)
        auto reply = [&](const std::string& text) {
            bool slept = behaviour.soft_error_limit > 0 && errors >= behaviour.soft_error_limit;
            if (slept) {
                peer.stall(behaviour.error_sleep);
                ++counters.slowed_replies;
            }
            held += text;
            if (!behaviour.batch_replies || slept || !peer.line_waiting()) {
                peer.send(held);
                held.clear();
            }
            return slept;
        };
        peer.send(behaviour.banner + "\r\n");
        for (;;) {
            if (behaviour.hard_error_limit > 0 && errors >= behaviour.hard_error_limit) {
                if (behaviour.hard_limit_drops) {
                    ++counters.drops;
                    peer.send(held);
                } else {
                    ++counters.too_many_errors;
                    reply("421 4.7.0 mx.fake.test Error: too many errors\r\n");
                }
                return;
            }
            auto line = peer.read_line();
            if (!line) return;
            std::string verb = upper(line->substr(0, 4));
            if (verb == "EHLO") {
                reply(std::string("250-mx.fake.test\r\n") + (behaviour.pipelining ? "250-PIPELINING\r\n" : "") +
                      "250 8BITMIME\r\n");
            } else if (verb == "HELO") {
                reply("250 mx.fake.test\r\n");
            } else if (verb == "MAIL") {
                reply("250 2.1.0 Ok\r\n");
            } else if (verb == "RCPT") {
                if (behaviour.rcpt_delay.count() > 0) peer.stall(behaviour.rcpt_delay);
                std::string answer = behaviour.rcpt(rcpt_address(*line));
                if (reply(answer + "\r\n")) ++counters.slowed_rcpts;
                if (answer[0] == '4' || answer[0] == '5') {
                    ++errors;
                    int seen = counters.most_errors;
                    while (errors > seen && !counters.most_errors.compare_exchange_weak(seen, errors)) {
                    }
                }
            } else if (verb == "RSET") {
                reply("250 2.0.0 Ok\r\n");
            } else if (verb == "QUIT") {
                if (behaviour.quit_delay.count() > 0) peer.stall(behaviour.quit_delay);
                peer.leave();
                reply("221 2.0.0 Bye\r\n");
                return;
            } else {
                reply("502 5.5.2 Error: command not recognized\r\n");
            }
        }
    };
}

}  // namespace ev::test
