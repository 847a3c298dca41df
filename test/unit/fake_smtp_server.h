// An in-process SMTP server for the unit tests: a listener on a loopback
// address (port 0 unless told), one thread per connection running the
// test's script against an SmtpPeer. Scripts talk in plain lines and bytes,
// so a test can say exactly what a server does at each step: split replies
// into single bytes, stall, close mid-reply, send garbage, or upgrade the
// connection to TLS with a self-signed certificate made at start-up. Every
// wait is bounded and ends early when the server is destroyed.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/socket.h"

namespace ev::test {

using namespace std::chrono_literals;

class FakeSmtpServer;

// One accepted connection, from the server's side.
class SmtpPeer {
  public:
    SmtpPeer(FakeSmtpServer& server, int fd, int number);
    ~SmtpPeer();

    // Sends bytes in one write ("\r\n" is not added).
    void send(std::string_view bytes);
    // One write per byte with a pause between: the client gets the reply in
    // as many TCP segments (TCP_NODELAY).
    void send_bytewise(std::string_view bytes);
    // One write per byte, `interval` apart: a server that drips its reply
    // (stops early when the server is stopped).
    void send_slowly(std::string_view bytes, std::chrono::milliseconds interval);
    // The next line the client sent, without its CRLF; nullopt when the
    // client closed, or nothing came within `timeout`.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout = 3000ms);
    // Exactly `count` bytes (binary: a SOCKS5 handshake); nullopt when the
    // client closed, or they did not all come within `timeout`.
    std::optional<std::string> read_bytes(std::size_t count, std::chrono::milliseconds timeout = 3000ms);
    // Reads a line and answers it with `reply` (which carries its own CRLFs);
    // returns the line read ("" when none came).
    std::string answer(std::string_view reply);
    // Whether a whole line has already come (a pipelined command waiting),
    // without waiting for one.
    bool line_waiting();
    // Server side of STARTTLS (after "220 ready" was sent); false on failure.
    bool start_tls();
    // Waits, without reading, until the server is stopped or `duration` ends.
    void stall(std::chrono::milliseconds duration);
    // Whether the client closed its end within `timeout` (data it sends
    // meanwhile is read and logged).
    bool client_closed(std::chrono::milliseconds timeout = 3000ms);
    void close();
    // Stops counting this connection as open (FakeSmtpServer::max_concurrent)
    // before the client may open its next one: call it before the 221 to QUIT.
    void leave();
    // Which connection of the server this is, from 1.
    int number() const { return number_; }
    // The client's address as the server saw it ("127.0.0.5").
    const std::string& client_ip() const { return client_ip_; }

  private:
    bool fill(std::chrono::milliseconds timeout);  // reads more into buffer_
    void write_all(const char* data, std::size_t size);

    FakeSmtpServer& server_;
    int fd_;
    int number_;
    std::string client_ip_;
    SSL* tls_ = nullptr;
    std::string buffer_;
    bool eof_ = false;
    bool counted_ = true;
};

using SmtpScript = std::function<void(SmtpPeer&)>;

class FakeSmtpServer {
  public:
    // Listens on ip:port (0: any free port) and runs `script` for each
    // connection in a thread of its own.
    explicit FakeSmtpServer(SmtpScript script, const std::string& ip = "127.0.0.1", int port = 0);
    ~FakeSmtpServer();
    FakeSmtpServer(const FakeSmtpServer&) = delete;
    FakeSmtpServer& operator=(const FakeSmtpServer&) = delete;

    int port() const { return port_; }
    net::Endpoint endpoint() const;

    // Every line any client sent, in the order read.
    std::vector<std::string> received() const;
    // Lines that start with `prefix` (case-sensitive), in order.
    std::vector<std::string> received_starting(std::string_view prefix) const;
    // The client address of each connection, in the order accepted.
    std::vector<std::string> client_ips() const;
    int connections() const { return connections_; }
    int max_concurrent() const { return max_concurrent_; }
    bool stopping() const { return stop_; }

  private:
    friend class SmtpPeer;
    void accept_loop();
    void log(std::string line);

    SmtpScript script_;
    std::string ip_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> concurrent_{0};
    std::atomic<int> max_concurrent_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> received_;
    std::vector<std::string> client_ips_;
    std::thread acceptor_;
    std::vector<std::thread> peers_;  // touched by the acceptor, then by the destructor
};

// What servers with error limits did, summed over their connections.
struct ErrorLimitCounters {
    std::atomic<int> slowed_rcpts{0};     // RCPT replies sent after an error sleep
    std::atomic<int> slowed_replies{0};   // every reply sent after one (QUIT, RSET, MAIL too)
    std::atomic<int> too_many_errors{0};  // 421 "too many errors"
    std::atomic<int> drops{0};            // connections closed at the hard limit without a word
    std::atomic<int> most_errors{0};      // the most errors one connection made
};

// A script for a well-behaved MTA, in the manner of Postfix: banner, EHLO
// (with PIPELINING when asked), MAIL, then each RCPT answered by `rcpt`
// (given the address inside <>), RSET, QUIT. The reply strings carry no CRLF.
struct MtaBehaviour {
    std::string banner = "220 mx.fake.test ESMTP";
    bool pipelining = true;
    std::function<std::string(const std::string& recipient)> rcpt = [](const std::string&) {
        return std::string("250 2.1.5 Ok");
    };
    // Waited before each RCPT reply (to keep sessions open in parallel).
    std::chrono::milliseconds rcpt_delay{0};
    // Waited before the reply to QUIT (a session that outlives its work).
    std::chrono::milliseconds quit_delay{0};
    // Postfix's error limits (0: none). Errors are 4xx/5xx replies to RCPT.
    // Once soft_error_limit were made, every reply waits error_sleep first;
    // once hard_error_limit were, the next command is not read: the client
    // gets "421 4.7.0 ... Error: too many errors" (or, with
    // hard_limit_drops, nothing) and the connection closes.
    int soft_error_limit = 0;
    std::chrono::milliseconds error_sleep{0};
    int hard_error_limit = 0;
    bool hard_limit_drops = false;
    // As Postfix: replies to pipelined commands are kept back while more
    // commands wait, and written together when none does or right after an
    // error sleep.
    bool batch_replies = false;
    std::shared_ptr<ErrorLimitCounters> counters = std::make_shared<ErrorLimitCounters>();
};
SmtpScript mta_script(MtaBehaviour behaviour);

// "RCPT TO:<a@b>" -> "a@b".
std::string rcpt_address(const std::string& line);

// A port of 127.0.0.1 where nothing listens (one just released).
int closed_port();

}  // namespace ev::test
