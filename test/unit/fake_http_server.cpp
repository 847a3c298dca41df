#include "fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace ev::test {

namespace {

constexpr int kPollMs = 20;

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const char* reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 204: return "No Content";
        case 302: return "Found";
        case 410: return "Gone";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Status";
    }
}

}  // namespace

FakeHttpServer::FakeHttpServer(Handler handler, const std::string& ip) : handler_(std::move(handler)) {
    bool v6 = ip.find(':') != std::string::npos;
    listen_fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage address{};
    socklen_t length = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&address);
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
        length = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&address);
        a->sin_family = AF_INET;
        inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
        length = sizeof *a;
    }
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listen_fd_, 512) != 0) {
        close(listen_fd_);
        throw std::runtime_error("cannot listen on " + ip);
    }
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeHttpServer::~FakeHttpServer() {
    stop_ = true;
    acceptor_.join();
    for (auto& worker : workers_) worker.join();
    close(listen_fd_);
}

std::vector<HttpRequest> FakeHttpServer::received() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return received_;
}

void FakeHttpServer::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, kPollMs) <= 0) continue;
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++connections_;
        int now_open = ++open_;
        int seen = max_concurrent_;
        while (now_open > seen && !max_concurrent_.compare_exchange_weak(seen, now_open)) {
        }
        workers_.emplace_back([this, fd] {
            serve(fd);
            --open_;
            close(fd);
        });
    }
}

void FakeHttpServer::serve(int fd) {
    std::string buffer;
    // Reads until `want` bytes are buffered or the peer closes; false then.
    auto fill = [&](std::size_t want) {
        while (buffer.size() < want) {
            if (stop_) return false;
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, kPollMs) <= 0) continue;
            char chunk[4096];
            ssize_t n = read(fd, chunk, sizeof chunk);
            if (n <= 0) return false;
            buffer.append(chunk, static_cast<std::size_t>(n));
        }
        return true;
    };
    while (!stop_) {
        std::size_t end;
        while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(buffer.size() + 1)) return;
            // A TLS ClientHello: answer in plain HTTP, as a real plain server would.
            if (buffer[0] == '\x16') {
                static const char kBadRequest[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
                (void)send(fd, kBadRequest, sizeof kBadRequest - 1, MSG_NOSIGNAL);
                return;
            }
        }
        HttpRequest request;
        std::string head = buffer.substr(0, end);
        buffer.erase(0, end + 4);
        std::size_t line_end = head.find("\r\n");
        std::string first = head.substr(0, line_end);
        request.method = first.substr(0, first.find(' '));
        request.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
        while (line_end != std::string::npos) {
            std::size_t next = head.find("\r\n", line_end + 2);
            std::string line =
                head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
            std::size_t colon = line.find(':');
            if (colon != std::string::npos) {
                std::string value = line.substr(colon + 1);
                value.erase(0, value.find_first_not_of(' '));
                request.headers[lower(line.substr(0, colon))] = value;
            }
            line_end = next;
        }
        std::size_t length = 0;
        if (auto it = request.headers.find("content-length"); it != request.headers.end())
            length = std::stoul(it->second);
        if (!fill(length)) return;
        request.body = buffer.substr(0, length);
        buffer.erase(0, length);
        ++requests_;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            received_.push_back(request);
        }
        HttpResponse response = handler_(request);
        auto until = std::chrono::steady_clock::now() + response.delay;
        while (!stop_ && (response.hang || std::chrono::steady_clock::now() < until))
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (stop_) return;
        std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) + "\r\n";
        for (const auto& header : response.headers) out += header + "\r\n";
        out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n" + response.body;
        std::size_t sent = 0;
        while (sent < out.size()) {
            ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;
            sent += static_cast<std::size_t>(n);
        }
    }
}

}  // namespace ev::test
