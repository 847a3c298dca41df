#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ev::net {

int Endpoint::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

std::string Endpoint::ip() const {
    char buffer[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buffer, sizeof buffer);
    else inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buffer, sizeof buffer);
    return buffer;
}

std::string Endpoint::text() const {
    if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
    return ip() + ":" + std::to_string(port());
}

std::optional<Endpoint> make_endpoint(std::string_view ip, int port) {
    if (port <= 0 || port > 65535) return std::nullopt;
    std::string text(ip);
    Endpoint e;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        e.length = sizeof(sockaddr_in);
        return e;
    }
    if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        e.length = sizeof(sockaddr_in6);
        return e;
    }
    return std::nullopt;
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        reset();
        fd_ = o.release();
    }
    return *this;
}

void Fd::reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

namespace {

// Binds fd to `from` with port 0. IP_BIND_ADDRESS_NO_PORT defers the choice
// of the port to connect(), where the kernel knows the destination: without
// it each bound socket holds an ephemeral port of its own, and a busy prober
// runs out of them long before the four-tuple space is used.
int bind_source(int fd, const Endpoint& from) {
    Endpoint local = from;
    if (local.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&local.storage)->sin_port = 0;
    else reinterpret_cast<sockaddr_in6*>(&local.storage)->sin6_port = 0;
#ifdef IP_BIND_ADDRESS_NO_PORT
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    if (bind(fd, reinterpret_cast<const sockaddr*>(&local.storage), local.length) != 0) return errno;
    return 0;
}

}  // namespace

Fd start_connect(const Endpoint& to, const Endpoint* from, int* errno_out, bool* bind_failed) {
    *bind_failed = false;
    if (from != nullptr && from->family() != to.family()) {
        *errno_out = EAFNOSUPPORT;
        *bind_failed = true;
        return Fd();
    }
    Fd fd(socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!fd) {
        *errno_out = errno;
        return fd;
    }
    // Commands are small and pipelined by hand; Nagle would only add delay.
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (from != nullptr) {
        if (int error = bind_source(fd.get(), *from); error != 0) {
            *errno_out = error;
            *bind_failed = true;
            return Fd();
        }
    }
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&to.storage), to.length) != 0 && errno != EINPROGRESS) {
        *errno_out = errno;
        return Fd();
    }
    *errno_out = 0;
    return fd;
}

int connect_result(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
}

}  // namespace ev::net
