#include "fake_dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace ev::test {

namespace {

constexpr int kPollMs = 20;  // every wait of the server's thread is this short

void put16(std::vector<unsigned char>& m, unsigned v) {
    m.push_back(static_cast<unsigned char>(v >> 8));
    m.push_back(static_cast<unsigned char>(v));
}

void put32(std::vector<unsigned char>& m, std::uint32_t v) {
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}

void put_name(std::vector<unsigned char>& m, const std::string& name) {
    std::size_t start = 0;
    while (start < name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        m.push_back(static_cast<unsigned char>(dot - start));
        m.insert(m.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    m.push_back(0);
}

void put_record(std::vector<unsigned char>& m, const DnsRecord& r, const std::string& question) {
    put_name(m, r.name.empty() ? question : r.name);
    put16(m, r.type);
    put16(m, 1);  // IN
    put32(m, r.ttl);
    std::vector<unsigned char> data;
    switch (r.type) {
        case kTypeMx:
            put16(data, static_cast<unsigned>(r.preference));
            put_name(data, r.target);
            break;
        case kTypeA: {
            unsigned char bytes[4];
            if (inet_pton(AF_INET, r.target.c_str(), bytes) != 1) throw std::invalid_argument("bad A " + r.target);
            data.assign(bytes, bytes + 4);
            break;
        }
        case kTypeAaaa: {
            unsigned char bytes[16];
            if (inet_pton(AF_INET6, r.target.c_str(), bytes) != 1) throw std::invalid_argument("bad AAAA " + r.target);
            data.assign(bytes, bytes + 16);
            break;
        }
        case kTypeSoa:
            put_name(data, "ns.test");
            put_name(data, "hostmaster.test");
            for (std::uint32_t v : {1u, 3600u, 600u, 86400u, r.ttl}) put32(data, v);
            break;
        default: break;
    }
    put16(m, static_cast<unsigned>(data.size()));
    m.insert(m.end(), data.begin(), data.end());
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

int bound_socket(int type, int port) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

// Reads exactly n bytes, polling in short slices; false on close, error or stop.
bool read_exactly(int fd, unsigned char* out, std::size_t n, const std::atomic<bool>& stop) {
    std::size_t got = 0;
    while (got < n) {
        if (stop) return false;
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, kPollMs) <= 0) continue;
        ssize_t r = read(fd, out + got, n - got);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
    }
    return true;
}

}  // namespace

DnsAnswer mx_answer(const std::vector<std::pair<int, std::string>>& exchanges, std::uint32_t ttl) {
    DnsAnswer a;
    for (auto& [preference, exchange] : exchanges) {
        DnsRecord r;
        r.type = kTypeMx;
        r.ttl = ttl;
        r.preference = preference;
        r.target = exchange;
        a.answers.push_back(r);
    }
    return a;
}

DnsAnswer address_answer(const std::vector<std::string>& ips, std::uint32_t ttl) {
    DnsAnswer a;
    for (auto& ip : ips) {
        DnsRecord r;
        r.type = ip.find(':') == std::string::npos ? kTypeA : kTypeAaaa;
        r.ttl = ttl;
        r.target = ip;
        a.answers.push_back(r);
    }
    return a;
}

DnsAnswer negative_answer(int rcode, std::uint32_t soa_ttl) {
    DnsAnswer a;
    a.rcode = rcode;
    DnsRecord soa;
    soa.type = kTypeSoa;
    soa.ttl = soa_ttl;
    soa.name = "test";
    a.authority.push_back(soa);
    return a;
}

DnsAnswer failure_answer(int rcode) {
    DnsAnswer a;
    a.rcode = rcode;
    return a;
}

DnsAnswer silent_answer() {
    DnsAnswer a;
    a.mode = DnsAnswer::Mode::Drop;
    return a;
}

FakeDnsServer::FakeDnsServer() {
    // UDP and TCP on one port number: a truncated answer sends the client to
    // TCP on the port it asked over UDP.
    for (int attempt = 0; attempt < 20 && tcp_fd_ < 0; ++attempt) {
        udp_fd_ = bound_socket(SOCK_DGRAM, 0);
        if (udp_fd_ < 0) throw std::runtime_error("fake DNS: cannot bind UDP");
        port_ = port_of(udp_fd_);
        tcp_fd_ = bound_socket(SOCK_STREAM, port_);
        if (tcp_fd_ < 0) close(udp_fd_);
    }
    if (tcp_fd_ < 0 || listen(tcp_fd_, 16) != 0) throw std::runtime_error("fake DNS: cannot bind TCP");
    thread_ = std::thread([this] { serve(); });
}

FakeDnsServer::~FakeDnsServer() {
    stop_ = true;
    thread_.join();
    for (auto& t : tcp_threads_) t.join();
    close(udp_fd_);
    close(tcp_fd_);
}

void FakeDnsServer::set(const std::string& name, std::uint16_t type, DnsAnswer answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    table_[{lower(name), type}] = std::move(answer);
}

std::string FakeDnsServer::servers() const { return "127.0.0.1:" + std::to_string(port_); }

int FakeDnsServer::queries(const std::string& name, std::uint16_t type) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = counts_.find({lower(name), type});
    return it == counts_.end() ? 0 : it->second;
}

int FakeDnsServer::total_queries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    int total = 0;
    for (auto& [key, n] : counts_) total += n;
    return total;
}

void FakeDnsServer::serve() {
    while (!stop_) {
        pollfd fds[2] = {{udp_fd_, POLLIN, 0}, {tcp_fd_, POLLIN, 0}};
        if (poll(fds, 2, kPollMs) <= 0) continue;
        if (fds[0].revents & POLLIN) {
            unsigned char buffer[4096];
            sockaddr_storage from{};
            socklen_t from_length = sizeof from;
            ssize_t n = recvfrom(udp_fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
            if (n > 0) {
                auto reply = reply_to(buffer, static_cast<std::size_t>(n), false);
                if (!reply.empty())
                    sendto(udp_fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_length);
            }
        }
        if (fds[1].revents & POLLIN) {
            int fd = accept4(tcp_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            if (!tcp_on_) {
                close(fd);  // the client sees its TCP query fail
                continue;
            }
            tcp_threads_.emplace_back([this, fd] { serve_tcp_connection(fd); });
        }
    }
}

// RFC 1035 4.2.2: each message prefixed by its two-byte length.
void FakeDnsServer::serve_tcp_connection(int fd) {
    for (;;) {
        unsigned char prefix[2];
        if (!read_exactly(fd, prefix, 2, stop_)) break;
        std::size_t length = (prefix[0] << 8) | prefix[1];
        std::vector<unsigned char> query(length);
        if (!read_exactly(fd, query.data(), length, stop_)) break;
        ++tcp_queries_;
        auto reply = reply_to(query.data(), length, true);
        if (reply.empty()) continue;
        std::vector<unsigned char> framed;
        put16(framed, static_cast<unsigned>(reply.size()));
        framed.insert(framed.end(), reply.begin(), reply.end());
        if (write(fd, framed.data(), framed.size()) != static_cast<ssize_t>(framed.size())) break;
    }
    close(fd);
}

std::vector<unsigned char> FakeDnsServer::reply_to(const unsigned char* q, std::size_t length, bool over_tcp) {
    if (length < 12) return {};
    // The question: labels (queries are never compressed), type, class.
    std::size_t p = 12;
    std::string name;
    while (p < length && q[p] != 0) {
        std::size_t label = q[p];
        if (label > 63 || p + 1 + label > length) return {};
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(q + p + 1), label);
        p += 1 + label;
    }
    if (p + 5 > length) return {};
    std::size_t question_end = p + 5;
    std::uint16_t type = static_cast<std::uint16_t>((q[p + 1] << 8) | q[p + 2]);
    name = lower(name);

    DnsAnswer answer = negative_answer(kNxDomain);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++counts_[{name, type}];
        auto it = table_.find({name, type});
        if (it != table_.end()) answer = it->second;
    }
    if (answer.mode == DnsAnswer::Mode::Drop) return {};
    bool truncated = answer.mode == DnsAnswer::Mode::Truncate && !over_tcp;

    std::vector<unsigned char> m;
    unsigned id = (q[0] << 8) | q[1];
    if (answer.mode == DnsAnswer::Mode::WrongId) id ^= 0x5a5a;
    put16(m, id);
    unsigned flags = 0x8000 | 0x0400 | (q[2] & 0x01 ? 0x0100 : 0) | 0x0080 | (answer.rcode & 0xf);
    if (truncated) flags |= 0x0200;
    put16(m, flags);
    put16(m, 1);
    put16(m, truncated ? 0 : static_cast<unsigned>(answer.answers.size()));
    put16(m, truncated ? 0 : static_cast<unsigned>(answer.authority.size()));
    put16(m, 0);
    m.insert(m.end(), q + 12, q + question_end);
    if (!truncated) {
        for (const auto& r : answer.answers) put_record(m, r, name);
        for (const auto& r : answer.authority) put_record(m, r, name);
    }
    return m;
}

}  // namespace ev::test
