// The wire limit of an SMTP server for RCPT probes: how many RCPT TO replies
// per second it gives a minimal client that does nothing but send them.
//
//   g++ -O2 -std=c++17 -o build/bench/wire_limit bench/wire_limit.cpp
//   build/bench/wire_limit --host 127.0.1.1 --list build/bench/probe_fig1.txt
//
// N connections (--conns, default 4), each: banner, EHLO (PIPELINING
// required), MAIL FROM:<>, then RCPT TO:<address> pipelined with up to
// --window RCPTs in flight; after every --per-txn RCPTs (default 1000,
// Postfix's smtpd_recipient_limit) "RSET" and "MAIL FROM:<>" go out in the
// same pipeline; QUIT at the end. The connections share one queue of
// addresses (--list FILE, one per line), so each address is sent exactly
// once. No DNS, no parsing beyond splitting reply lines and looking at the
// code of the final line of each reply.
//
// Timing runs from the first connect to the last RCPT reply (QUIT is not
// counted). Prints the replies per class and one machine-readable line:
//   WIRE_LIMIT rcpts=.. ok_250=.. rejected=.. other=.. conns=.. window=..
//              per_txn=.. txns=.. seconds=.. rcpt_per_s=.. complete=0|1
// Exit status 0 when every RCPT got a reply, 1 otherwise (a connection
// failed, the deadline passed), 2 on bad usage.
//
// Only loopback servers are accepted (127.0.0.0/8, ::1): this is a load
// generator for the local test world, not for anyone else's server.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string host = "127.0.1.1";
    int port = 25;
    int conns = 4;
    int window = 500;
    int per_txn = 1000;
    double deadline_s = 120;
    std::string list;
    std::string helo = "wire-limit.localhost";
    bool verbose = false;
};

enum class Expect { Banner, Ehlo, Mail, Rcpt, Rset, Quit };

struct Conn {
    int fd = -1;
    int id = 0;
    std::string in;   // unparsed input
    std::string out;  // unsent output
    std::deque<Expect> pending;
    bool ready = false;  // EHLO answered, first MAIL sent
    bool quitting = false;
    bool closed = false;
    bool failed = false;
    int in_txn = 0;  // RCPTs sent in the current transaction
    long rcpts_in_flight = 0;
    long sent = 0, answered = 0;
};

struct Totals {
    long ok = 0, rejected = 0, other = 0, txns = 0;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "wire_limit: %s\nusage: wire_limit --list FILE [--host 127.0.1.1] [--port 25] [--conns 4] "
                 "[--window 500] [--per-txn 1000] [--deadline 120] [--verbose]\n",
                 why);
    std::exit(2);
}

bool loopback(const std::string& host, sockaddr_storage* ss, socklen_t* len) {
    std::memset(ss, 0, sizeof *ss);
    auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        *len = sizeof *v4;
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        *len = sizeof *v6;
        return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--host") o.host = value();
        else if (a == "--port") o.port = std::atoi(value().c_str());
        else if (a == "--conns") o.conns = std::atoi(value().c_str());
        else if (a == "--window") o.window = std::atoi(value().c_str());
        else if (a == "--per-txn") o.per_txn = std::atoi(value().c_str());
        else if (a == "--deadline") o.deadline_s = std::atof(value().c_str());
        else if (a == "--list") o.list = value();
        else if (a == "--verbose") o.verbose = true;
        else usage(("unknown argument " + a).c_str());
    }
    if (o.list.empty()) usage("--list is required");
    if (o.conns < 1 || o.conns > 64 || o.window < 1 || o.per_txn < 1 || o.port < 1 || o.port > 65535)
        usage("out-of-range option (conns 1-64, window >= 1, per-txn >= 1)");
    sockaddr_storage server{};
    socklen_t server_len = 0;
    if (!loopback(o.host, &server, &server_len)) usage("--host must be a numeric loopback address");
    reinterpret_cast<sockaddr_in*>(&server)->sin_port = htons(static_cast<uint16_t>(o.port));  // same offset for v6

    std::vector<std::string> addresses;
    {
        std::ifstream in(o.list);
        if (!in) usage(("cannot read " + o.list).c_str());
        for (std::string line; std::getline(in, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) addresses.push_back(line);
        }
    }
    if (addresses.empty()) usage("empty list");

    std::size_t next = 0;  // the shared queue
    Totals totals;
    std::vector<Conn> conns(static_cast<std::size_t>(o.conns));
    auto started = Clock::now();
    auto deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.deadline_s));
    Clock::time_point last_reply = started;

    for (int k = 0; k < o.conns; ++k) {
        Conn& c = conns[static_cast<std::size_t>(k)];
        c.id = k;
        c.fd = ::socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return std::perror("socket"), 1;
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&server), server_len) < 0 && errno != EINPROGRESS)
            return std::perror("connect"), 1;
        c.pending.push_back(Expect::Banner);
    }

    auto send_cmd = [](Conn& c, const std::string& line, Expect e) {
        c.out += line;
        c.out += "\r\n";
        c.pending.push_back(e);
    };
    // Tops the window up from the shared queue; RSET + MAIL every per_txn.
    auto refill = [&](Conn& c) {
        if (!c.ready || c.quitting) return;
        while (c.rcpts_in_flight < o.window && next < addresses.size()) {
            if (c.in_txn >= o.per_txn) {
                send_cmd(c, "RSET", Expect::Rset);
                send_cmd(c, "MAIL FROM:<>", Expect::Mail);
                ++totals.txns;
                c.in_txn = 0;
            }
            send_cmd(c, "RCPT TO:<" + addresses[next++] + ">", Expect::Rcpt);
            ++c.in_txn;
            ++c.rcpts_in_flight;
            ++c.sent;
        }
        if (next >= addresses.size() && c.rcpts_in_flight == 0) {
            c.quitting = true;
            send_cmd(c, "QUIT", Expect::Quit);
        }
    };
    auto fail = [&](Conn& c, const char* why) {
        if (!c.closed) std::fprintf(stderr, "wire_limit: connection %d: %s\n", c.id, why);
        c.failed = c.closed = true;
        if (c.fd >= 0) ::close(c.fd);
        c.fd = -1;
    };
    // One complete reply (its final line) arrived.
    auto on_reply = [&](Conn& c, const std::string& final_line) {
        if (c.pending.empty()) return fail(c, ("unexpected reply: " + final_line).c_str());
        Expect e = c.pending.front();
        c.pending.pop_front();
        char klass = final_line.empty() ? '?' : final_line[0];
        switch (e) {
            case Expect::Banner:
                if (klass != '2') return fail(c, ("banner: " + final_line).c_str());
                send_cmd(c, "EHLO " + o.helo, Expect::Ehlo);
                break;
            case Expect::Ehlo:
                if (klass != '2') return fail(c, ("EHLO: " + final_line).c_str());
                c.ready = true;
                send_cmd(c, "MAIL FROM:<>", Expect::Mail);
                ++totals.txns;
                refill(c);
                break;
            case Expect::Mail:
                if (klass != '2') return fail(c, ("MAIL: " + final_line).c_str());
                break;
            case Expect::Rset:
                if (klass != '2') return fail(c, ("RSET: " + final_line).c_str());
                break;
            case Expect::Rcpt:
                if (final_line.compare(0, 4, "250 ") == 0) ++totals.ok;
                else if (klass == '5') ++totals.rejected;
                else ++totals.other;
                --c.rcpts_in_flight;
                ++c.answered;
                last_reply = Clock::now();
                refill(c);
                break;
            case Expect::Quit:
                c.closed = true;
                ::close(c.fd);
                c.fd = -1;
                break;
        }
    };

    std::vector<pollfd> fds;
    char buffer[65536];
    for (;;) {
        fds.clear();
        std::vector<Conn*> who;
        for (auto& c : conns) {
            if (c.closed) continue;
            short events = POLLIN;
            if (!c.out.empty()) events |= POLLOUT;
            fds.push_back({c.fd, events, 0});
            who.push_back(&c);
        }
        if (fds.empty()) break;
        auto now = Clock::now();
        if (now >= deadline) {
            std::fprintf(stderr, "wire_limit: deadline of %.0f s passed\n", o.deadline_s);
            for (auto* c : who) fail(*c, "deadline");
            break;
        }
        int timeout_ms =
            static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
        int n = ::poll(fds.data(), fds.size(), std::min(timeout_ms, 1000));
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::perror("poll"), 1;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            Conn& c = *who[i];
            if (c.closed || fds[i].revents == 0) continue;
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t got = ::read(c.fd, buffer, sizeof buffer);
                if (got < 0 && errno != EAGAIN && errno != EINTR) {
                    fail(c, std::strerror(errno));
                    continue;
                }
                if (got == 0) {
                    if (!c.quitting || !c.pending.empty()) fail(c, "closed by the server");
                    c.closed = true;
                    if (c.fd >= 0) ::close(c.fd);
                    c.fd = -1;
                    continue;
                }
                if (got > 0) {
                    c.in.append(buffer, static_cast<std::size_t>(got));
                    std::size_t start = 0;
                    for (;;) {
                        std::size_t eol = c.in.find('\n', start);
                        if (eol == std::string::npos) break;
                        std::string line = c.in.substr(start, eol - start);
                        start = eol + 1;
                        if (!line.empty() && line.back() == '\r') line.pop_back();
                        // "250-..." continues a reply; "250 ..." (or a bare code) ends it.
                        if (line.size() >= 4 && line[3] == '-') continue;
                        on_reply(c, line);
                        if (c.closed) break;
                    }
                    if (!c.closed) c.in.erase(0, start);
                }
            }
            if (c.closed) continue;
            if ((fds[i].revents & POLLOUT) && !c.out.empty()) {
                ssize_t put = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
                if (put < 0 && errno != EAGAIN && errno != EINTR) {
                    fail(c, std::strerror(errno));
                    continue;
                }
                if (put > 0) c.out.erase(0, static_cast<std::size_t>(put));
            }
        }
    }

    double seconds = std::chrono::duration<double>(last_reply - started).count();
    long answered = totals.ok + totals.rejected + totals.other;
    bool complete = answered == static_cast<long>(addresses.size());
    for (auto& c : conns) {
        if (o.verbose)
            std::fprintf(stderr, "connection %d: %ld RCPTs sent, %ld answered%s\n", c.id, c.sent, c.answered,
                         c.failed ? " (failed)" : "");
        if (c.fd >= 0) ::close(c.fd);
    }
    std::printf(
        "WIRE_LIMIT rcpts=%zu ok_250=%ld rejected=%ld other=%ld conns=%d window=%d per_txn=%d txns=%ld "
        "seconds=%.4f rcpt_per_s=%.1f complete=%d\n",
        addresses.size(), totals.ok, totals.rejected, totals.other, o.conns, o.window, o.per_txn, totals.txns, seconds,
        seconds > 0 ? static_cast<double>(answered) / seconds : 0.0, complete ? 1 : 0);
    return complete ? 0 : 1;
}
