// An in-process HTTP/1.1 server for the webhook client's suite: a listener
// on 127.0.0.1 (or ::1) at an ephemeral port, one thread per connection,
// keep-alive honoured, each request answered by the test's handler. It
// counts connections and requests so a test can see reuse. Every wait of
// its threads is a short poll that ends when the server is destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ev::test {

struct HttpRequest {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
};

struct HttpResponse {
    int status = 200;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::chrono::milliseconds delay{0};  // before answering (ends early at shutdown)
    bool hang = false;                   // never answer
};

class FakeHttpServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;

    // Throws std::runtime_error when it cannot listen (no IPv6: ip "::1").
    explicit FakeHttpServer(Handler handler, const std::string& ip = "127.0.0.1");
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    int connections() const { return connections_; }
    int requests() const { return requests_; }
    int max_concurrent() const { return max_concurrent_; }
    std::vector<HttpRequest> received() const;

  private:
    void accept_loop();
    void serve(int fd);

    Handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> open_{0};
    std::atomic<int> max_concurrent_{0};
    std::atomic<int> requests_{0};
    mutable std::mutex mutex_;
    std::vector<HttpRequest> received_;
    std::thread acceptor_;
    std::vector<std::thread> workers_;
};

}  // namespace ev::test
