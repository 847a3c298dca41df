// An in-process DNS server for the unit tests: UDP and TCP on one port of
// 127.0.0.1, answering from a table the test fills (MX, A, AAAA, null MX,
// NXDOMAIN, SERVFAIL, REFUSED, no answer at all, a truncated UDP answer that
// only TCP completes, a reply with the wrong id). Its thread only ever waits
// in bounded polls, so a test cannot hang on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ev::test {

enum : std::uint16_t { kTypeA = 1, kTypeSoa = 6, kTypeMx = 15, kTypeAaaa = 28 };
enum : int { kNoError = 0, kServFail = 2, kNxDomain = 3, kRefused = 5 };

struct DnsRecord {
    std::uint16_t type = kTypeA;
    std::uint32_t ttl = 300;
    std::string name;    // owner; "" = the question's name
    int preference = 0;  // MX
    std::string target;  // MX exchange ("" = the root: null MX), A/AAAA address
};

struct DnsAnswer {
    enum class Mode {
        Answer,    // rcode + records
        Drop,      // never answer (the client times out)
        Truncate,  // UDP: TC bit and no records; TCP: the records
        WrongId,   // an answer whose id matches no query (ignored by the client)
    };
    Mode mode = Mode::Answer;
    int rcode = kNoError;
    std::vector<DnsRecord> answers;
    std::vector<DnsRecord> authority;  // the SOA of a negative answer
};

// Shorthands for the answers tests use most.
DnsAnswer mx_answer(const std::vector<std::pair<int, std::string>>& exchanges, std::uint32_t ttl = 300);
// A or AAAA, by the form of each address.
DnsAnswer address_answer(const std::vector<std::string>& ips, std::uint32_t ttl = 300);
DnsAnswer negative_answer(int rcode, std::uint32_t soa_ttl = 30);  // NXDOMAIN / no data (kNoError)
DnsAnswer failure_answer(int rcode);                               // SERVFAIL, REFUSED
DnsAnswer silent_answer();                                         // Mode::Drop

class FakeDnsServer {
  public:
    FakeDnsServer();
    ~FakeDnsServer();
    FakeDnsServer(const FakeDnsServer&) = delete;
    FakeDnsServer& operator=(const FakeDnsServer&) = delete;

    // Answer for (name, type); names are matched case-insensitively, without
    // a trailing dot. A question with no entry gets NXDOMAIN.
    void set(const std::string& name, std::uint16_t type, DnsAnswer answer);
    // Whether TCP connections are served (a truncated answer then fails).
    void serve_tcp(bool on) { tcp_on_ = on; }

    // "127.0.0.1:port", as ResolverConfig::servers takes it.
    std::string servers() const;
    int port() const { return port_; }
    // Questions received for (name, type), over UDP and TCP together.
    int queries(const std::string& name, std::uint16_t type) const;
    int total_queries() const;
    int tcp_queries() const { return tcp_queries_; }

  private:
    void serve();
    void serve_tcp_connection(int fd);
    // The reply to one query; empty for no reply.
    std::vector<unsigned char> reply_to(const unsigned char* query, std::size_t length, bool over_tcp);

    int udp_fd_ = -1;
    int tcp_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> tcp_on_{true};
    std::atomic<int> tcp_queries_{0};
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::uint16_t>, DnsAnswer> table_;
    std::map<std::pair<std::string, std::uint16_t>, int> counts_;
    std::thread thread_;
    std::vector<std::thread> tcp_threads_;
};

}  // namespace ev::test
