// Asynchronous DNS through c-ares, driven by the prober's event loop: c-ares
// tells us which sockets to watch (sock_state_cb) and we hand readiness and
// timeouts back to it, so lookups and SMTP sessions interleave freely.
#pragma once

#include <ares.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "net/event_loop.h"

namespace ev::dns {

enum class DnsStatus {
    Ok,
    NoData,         // the name exists but has no record of the type
    NxDomain,       // the name does not exist
    ServerFailure,  // SERVFAIL
    Refused,        // REFUSED
    Timeout,        // no server answered in time
    Error,          // anything else: bad reply, no servers, ...
};

const char* to_string(DnsStatus status);

struct MxRecord {
    int preference = 0;
    std::string exchange;  // "" for the root (null MX)
};

struct MxAnswer {
    DnsStatus status = DnsStatus::Error;
    std::vector<MxRecord> records;
    std::uint32_t ttl = 0;  // seconds; of the answer or, when negative, of the SOA
    std::string error;
};

struct AddressAnswer {
    DnsStatus status = DnsStatus::Error;
    std::vector<std::string> ips;  // numeric
    std::uint32_t ttl = 0;
    std::string error;
};

struct ResolverConfig {
    std::string servers;                      // "ip[:port],..."; empty: /etc/resolv.conf
    std::chrono::milliseconds timeout{2000};  // per try
    int tries = 2;
};

class Resolver {
  public:
    // Throws std::invalid_argument when config.servers cannot be used.
    Resolver(net::EventLoop& loop, const ResolverConfig& config);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // The callback runs from the event loop; it may throw, the exception
    // comes out of the loop's run_once (never through c-ares' C frames).
    void lookup_mx(const std::string& name, std::function<void(MxAnswer)> done);
    void lookup_addresses(const std::string& name, int family /* AF_INET/AF_INET6 */,
                          std::function<void(AddressAnswer)> done);

    std::size_t in_flight() const { return in_flight_; }

  private:
    struct Query;
    static void on_socket_state(void* self, ares_socket_t fd, int readable, int writable);
    static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
    void process(ares_socket_t read_fd, ares_socket_t write_fd);
    void rearm_timer();
    void after_submit();

    net::EventLoop& loop_;
    ares_channel channel_ = nullptr;
    net::EventLoop::TimerId timer_ = 0;
    std::size_t in_flight_ = 0;
    std::exception_ptr pending_error_;
};

// "ip[:port],..." as email_verify.dns_servers takes it; returns "" when
// valid, else what is wrong. IPv6 with a port is written [addr]:port.
// `normalized`, when given, receives the list as c-ares wants it.
std::string check_server_list(const std::string& servers, std::string* normalized = nullptr);

}  // namespace ev::dns
