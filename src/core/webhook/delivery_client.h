// Webhook POSTs through libcurl's multi interface, driven by the caller's
// event loop (curl's sockets and timer mapped onto it, no thread of ours):
// one multi handle for the client's life, so HTTP/1.1 connections are kept
// alive and reused across deliveries to the same receiver.
//
// SSRF: host names are resolved here, with c-ares (email_verify.dns_servers
// applies), every address classified; curl gets the first allowed one
// pinned (CURLOPT_RESOLVE) and checks the address it actually connects to
// once more (CURLOPT_OPENSOCKETFUNCTION). Only public addresses pass unless
// allow_private is set. Redirects are not followed.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/resolver.h"
#include "net/event_loop.h"
#include "webhook/outcome.h"

namespace ev::webhook {

struct ClientOptions {
    bool allow_private = false;  // email_verify.webhook_allow_private
    std::string ca_file;         // PEM bundle; empty: the system's
    long max_total_connections = 64;
    long max_per_host = 16;
    std::string user_agent;  // "email_verify/<version>"; a User-Agent header in a request wins
    dns::ResolverConfig dns;
};

struct DeliveryRequest {
    std::uint64_t tag = 0;  // the caller's, handed back with the outcome
    std::string url;
    std::vector<std::string> headers;  // "Name: value" (delivery_headers())
    std::string body;
    std::chrono::milliseconds timeout{10000};  // everything: DNS, connect, TLS, request, answer
};

class DeliveryClient {
  public:
    using Done = std::function<void(std::uint64_t tag, Outcome outcome)>;

    // Throws std::invalid_argument for an unusable options.dns.servers,
    // std::runtime_error when curl or c-ares cannot start.
    DeliveryClient(net::EventLoop& loop, ClientOptions options);
    // Deliveries still in flight are abandoned without their callback.
    ~DeliveryClient();
    DeliveryClient(const DeliveryClient&) = delete;
    DeliveryClient& operator=(const DeliveryClient&) = delete;

    // Starts a delivery; `done` runs exactly once, always later from the
    // event loop (never inside submit), and may submit again. An exception
    // it throws comes out of the loop's run_once.
    void submit(DeliveryRequest request, Done done);
    std::size_t in_flight() const { return transfers_.size(); }

  private:
    struct Transfer;

    void start_lookup(Transfer& t);
    void on_addresses(std::uint64_t id, int family, const dns::AddressAnswer& answer);
    void start_curl(Transfer& t, const std::string& pinned_ip);
    void finish_later(Transfer& t, Outcome outcome);
    void finish(std::uint64_t id, Outcome outcome);
    void drive(curl_socket_t fd, int events);
    void collect_done();
    void rethrow_pending();
    std::string refusal(const std::string& host, const std::string& ip, const char* address_class) const;

    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_data);
    static int on_timer(CURLM* multi, long timeout_ms, void* self);
    static curl_socket_t on_open_socket(void* transfer, curlsocktype purpose, curl_sockaddr* address);
    static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* transfer);

    net::EventLoop& loop_;
    ClientOptions options_;
    dns::Resolver resolver_;
    CURLM* multi_ = nullptr;
    net::EventLoop::TimerId curl_timer_ = 0;
    bool closing_ = false;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<Transfer>> transfers_;
    std::exception_ptr pending_error_;
};

}  // namespace ev::webhook
