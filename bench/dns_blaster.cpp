// A DNS server's own answer rate: MX (optionally also A/AAAA) queries for a
// list of names over plain UDP, a bounded number in flight, answers counted.
//
//   g++ -O2 -std=c++17 -o build/bench/dns_blaster bench/dns_blaster.cpp
//   build/bench/dns_blaster --server 127.0.53.1:53 --names build/bench/probe_fig4_domains.txt
//
// --inflight N   queries outstanding at once (default 500)
// --sockets K    UDP sockets the queries are spread over (default 4; each
//                has its own source port, so a server with SO_REUSEPORT
//                threads sees them all)
// --types LIST   mx (default), or mx,a,aaaa: for each name also A and AAAA
//                of "mx.<name>" (what a mail-route lookup asks)
// --timeout MS   a query unanswered this long is sent again (default 1000),
//                at most --tries times in all (default 2), then counted lost
//
// The time runs from the first query sent to the last answer taken. Prints
// one machine-readable line:
//   DNS_BLASTER queries=.. answered=.. noerror=.. with_answer=.. nxdomain=..
//               other_rcode=.. lost=.. resent=.. inflight=.. sockets=..
//               seconds=.. answers_per_s=.. names_per_s=..
// Exit status 0 when every query was answered, 1 otherwise, 2 on bad usage.
// Only loopback servers are accepted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "dns_blaster: %s\nusage: dns_blaster --names FILE [--server 127.0.53.1:53] [--inflight 500] "
                 "[--sockets 4] [--types mx|mx,a,aaaa] [--timeout 1000] [--tries 2]\n",
                 why);
    std::exit(2);
}

struct Query {
    std::string packet;  // as sent; its ID is rewritten in place
    int tries = 0;
    Clock::time_point sent_at;
    int socket = 0;
    bool done = false;
};

// A query packet: header with RD, one question.
bool build_query(const std::string& name, uint16_t type, std::string* out) {
    std::string p;
    p.append("\0\0\x01\x00\0\x01\0\0\0\0\0\0", 12);
    std::size_t start = 0;
    std::string n = name;
    if (!n.empty() && n.back() == '.') n.pop_back();
    while (start <= n.size()) {
        std::size_t dot = n.find('.', start);
        std::size_t len = (dot == std::string::npos ? n.size() : dot) - start;
        if (len == 0 || len > 63) return false;
        p += static_cast<char>(len);
        p.append(n, start, len);
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    p += '\0';
    p += static_cast<char>(type >> 8);
    p += static_cast<char>(type & 0xff);
    p.append("\0\x01", 2);
    *out = std::move(p);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::string server_text = "127.0.53.1:53", names_file, types = "mx";
    int inflight = 500, sockets = 4, timeout_ms = 1000, tries = 2;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--server") server_text = value();
        else if (a == "--names") names_file = value();
        else if (a == "--inflight") inflight = std::atoi(value().c_str());
        else if (a == "--sockets") sockets = std::atoi(value().c_str());
        else if (a == "--types") types = value();
        else if (a == "--timeout") timeout_ms = std::atoi(value().c_str());
        else if (a == "--tries") tries = std::atoi(value().c_str());
        else usage(("unknown argument " + a).c_str());
    }
    if (names_file.empty()) usage("--names is required");
    if (inflight < 1 || inflight > 60000 || sockets < 1 || sockets > 64 || timeout_ms < 1 || tries < 1)
        usage("out-of-range option");
    if (types != "mx" && types != "mx,a,aaaa") usage("--types is mx or mx,a,aaaa");

    sockaddr_in server{};
    server.sin_family = AF_INET;
    {
        auto colon = server_text.rfind(':');
        std::string host = colon == std::string::npos ? server_text : server_text.substr(0, colon);
        int port = colon == std::string::npos ? 53 : std::atoi(server_text.c_str() + colon + 1);
        if (inet_pton(AF_INET, host.c_str(), &server.sin_addr) != 1 || port < 1 || port > 65535)
            usage("--server must be ipv4:port");
        if ((ntohl(server.sin_addr.s_addr) >> 24) != 127) usage("--server must be a loopback address");
        server.sin_port = htons(static_cast<uint16_t>(port));
    }

    std::vector<Query> queries;
    std::size_t names = 0;
    {
        std::ifstream in(names_file);
        if (!in) usage(("cannot read " + names_file).c_str());
        for (std::string line; std::getline(in, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (line.empty()) continue;
            ++names;
            Query q;
            if (!build_query(line, 15, &q.packet)) usage(("bad name " + line).c_str());
            queries.push_back(q);
            if (types == "mx,a,aaaa") {
                if (!build_query("mx." + line, 1, &q.packet)) usage(("bad name " + line).c_str());
                queries.push_back(q);
                if (!build_query("mx." + line, 28, &q.packet)) usage(("bad name " + line).c_str());
                queries.push_back(q);
            }
        }
    }
    if (queries.empty()) usage("no names");

    std::vector<int> fds;
    for (int k = 0; k < sockets; ++k) {
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof server) < 0)
            return std::perror("socket/connect"), 1;
        int size = 1 << 20;  // our side never drops answers (the kernel caps it at rmem_max)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        fds.push_back(fd);
    }

    // IDs: one per outstanding query, from a free list, so an ID is never
    // shared by two queries in flight. A late answer to a query that has
    // already been answered (after a resend) is ignored by its question.
    std::vector<int64_t> by_id(65536, -1);
    std::deque<uint16_t> free_ids;
    for (int id = 0; id < 65536; ++id) free_ids.push_back(static_cast<uint16_t>((id * 40503u) & 0xffff));
    std::deque<std::size_t> waiting;  // sent, in send order (for timeouts)
    std::size_t next = 0, outstanding = 0;
    long answered = 0, noerror = 0, with_answer = 0, nxdomain = 0, other_rcode = 0, lost = 0, resent = 0;
    long send_errors = 0;
    auto timeout = std::chrono::milliseconds(timeout_ms);
    auto started = Clock::now();
    auto last_answer = started;
    // Hard bound: every query could at most take tries * timeout, serially.
    auto hard_deadline = started + std::chrono::seconds(120);

    auto send_one = [&](std::size_t i) {
        Query& q = queries[i];
        uint16_t id = static_cast<uint16_t>((static_cast<unsigned char>(q.packet[0]) << 8) |
                                            static_cast<unsigned char>(q.packet[1]));
        if (q.tries == 0) {
            id = free_ids.front();
            free_ids.pop_front();
            by_id[id] = static_cast<int64_t>(i);
            q.packet[0] = static_cast<char>(id >> 8);
            q.packet[1] = static_cast<char>(id & 0xff);
            q.socket = static_cast<int>(i % fds.size());
            ++outstanding;
        }
        ++q.tries;
        q.sent_at = Clock::now();
        if (::send(fds[static_cast<std::size_t>(q.socket)], q.packet.data(), q.packet.size(), 0) < 0) ++send_errors;
        waiting.push_back(i);
    };
    auto finish = [&](std::size_t i) {
        Query& q = queries[i];
        q.done = true;
        uint16_t id = static_cast<uint16_t>((static_cast<unsigned char>(q.packet[0]) << 8) |
                                            static_cast<unsigned char>(q.packet[1]));
        by_id[id] = -1;
        free_ids.push_back(id);
        --outstanding;
    };

    std::vector<pollfd> pfds;
    pfds.reserve(fds.size());
    for (int fd : fds) pfds.push_back({fd, POLLIN, 0});
    unsigned char buf[4096];
    while ((next < queries.size() || outstanding > 0) && Clock::now() < hard_deadline) {
        while (outstanding < static_cast<std::size_t>(inflight) && next < queries.size()) send_one(next++);
        // Resend or give up on the overdue ones (waiting is in send order).
        auto now = Clock::now();
        while (!waiting.empty()) {
            std::size_t i = waiting.front();
            Query& q = queries[i];
            if (q.done) {
                waiting.pop_front();
                continue;
            }
            if (now - q.sent_at < timeout) break;
            waiting.pop_front();
            if (q.tries >= tries) {
                ++lost;
                finish(i);
            } else {
                ++resent;
                send_one(i);
            }
        }
        int n = ::poll(pfds.data(), pfds.size(), 10);
        if (n < 0 && errno != EINTR) return std::perror("poll"), 1;
        for (auto& p : pfds) {
            if (!(p.revents & POLLIN)) continue;
            for (;;) {
                ssize_t got = ::recv(p.fd, buf, sizeof buf, 0);
                if (got < 0) break;  // EAGAIN (or ECONNREFUSED: nothing listens; counted as lost later)
                if (got < 12) continue;
                uint16_t id = static_cast<uint16_t>((buf[0] << 8) | buf[1]);
                int64_t i = by_id[id];
                if (i < 0) continue;
                Query& q = queries[static_cast<std::size_t>(i)];
                // Same question section as sent?
                std::size_t qlen = q.packet.size() - 12;
                if (static_cast<std::size_t>(got) < 12 + qlen || std::memcmp(buf + 12, q.packet.data() + 12, qlen) != 0)
                    continue;
                int rcode = buf[3] & 0x0f;
                int ancount = (buf[6] << 8) | buf[7];
                ++answered;
                if (rcode == 0) {
                    ++noerror;
                    if (ancount > 0) ++with_answer;
                } else if (rcode == 3) {
                    ++nxdomain;
                } else {
                    ++other_rcode;
                }
                last_answer = Clock::now();
                finish(static_cast<std::size_t>(i));
            }
        }
    }
    lost += static_cast<long>(outstanding);
    double seconds = std::chrono::duration<double>(last_answer - started).count();
    std::printf(
        "DNS_BLASTER queries=%zu names=%zu answered=%ld noerror=%ld with_answer=%ld nxdomain=%ld "
        "other_rcode=%ld lost=%ld resent=%ld send_errors=%ld inflight=%d sockets=%d types=%s seconds=%.4f "
        "answers_per_s=%.1f names_per_s=%.1f\n",
        queries.size(), names, answered, noerror, with_answer, nxdomain, other_rcode, lost, resent, send_errors,
        inflight, sockets, types.c_str(), seconds, seconds > 0 ? static_cast<double>(answered) / seconds : 0.0,
        seconds > 0 ? static_cast<double>(names) / seconds : 0.0);
    for (int fd : fds) ::close(fd);
    return answered == static_cast<long>(queries.size()) ? 0 : 1;
}
