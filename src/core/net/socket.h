// Addresses and non-blocking TCP sockets, the little the prober needs of them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace ev::net {

// An IPv4 or IPv6 address with a port.
struct Endpoint {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    int port() const;
    std::string ip() const;    // "127.0.0.1", "::1"
    std::string text() const;  // "127.0.0.1:25", "[::1]:25"
    bool operator==(const Endpoint& o) const { return text() == o.text(); }
};

// Numeric IPv4/IPv6 only: names are the resolver's job.
std::optional<Endpoint> make_endpoint(std::string_view ip, int port);

// Owns a file descriptor.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept;
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset();

  private:
    int fd_ = -1;
};

// Starts a non-blocking connect, from the local address `from` when given
// (its port is ignored: the kernel picks one). Returns the socket (connect
// in progress or done) or an invalid Fd with errno_out set, and bind_failed
// saying whether binding to `from` was what failed. A `from` of another
// family than `to` fails with EAFNOSUPPORT.
Fd start_connect(const Endpoint& to, const Endpoint* from, int* errno_out, bool* bind_failed);

// After the socket became writable: 0 when connected, else the errno.
int connect_result(int fd);

}  // namespace ev::net
