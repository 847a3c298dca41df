// The delivering worker's webhook sender: the outbox (webhook_outbox.h)
// drained through libcurl's multi interface (src/core/webhook/
// delivery_client.h) on an event loop of its own, which the worker drives
// between and during its probe batches and sleeps on when idle (its epoll fd
// is a socket to WaitLatchOrSocket). Claims and outcomes are written in short
// transactions of their own, never across a request.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/event_loop.h"
#include "webhook/circuit_breaker.h"
#include "webhook/delivery_client.h"
#include "webhook_outbox.h"

namespace ev::pg {

class WebhookSender {
  public:
    WebhookSender();
    ~WebhookSender();
    WebhookSender(const WebhookSender&) = delete;
    WebhookSender& operator=(const WebhookSender&) = delete;

    // Runs what is ready (I/O, curl's timers), writes finished attempts back
    // and claims due events while there is room. Called with no transaction
    // open; each database step opens and commits its own.
    void pump();

    // The next claim is made at the next pump, whatever the schedule says.
    void wake() { next_claim_ = std::chrono::steady_clock::time_point{}; }

    // What the worker's sleep waits on: the loop's fd, and how long at most
    // before pump is due again.
    int fd() const { return loop_.fd(); }
    std::chrono::milliseconds due_in() const;

  private:
    void start_client();
    void claim();
    void submit(const OutboxEvent& event);
    void on_outcome(int64 row, const std::string& url, const std::string& origin, int attempts,
                    const ev::webhook::Outcome& outcome);
    void write_back();

    net::EventLoop loop_;
    std::unique_ptr<ev::webhook::DeliveryClient> client_;
    // Clients replaced after a setting changed, until their requests end.
    std::vector<std::unique_ptr<ev::webhook::DeliveryClient>> retired_;
    std::string client_fingerprint_;
    ev::webhook::CircuitBreaker breaker_;
    std::vector<AttemptRecord> finished_;
    std::chrono::steady_clock::time_point first_finished_;
    std::chrono::steady_clock::time_point next_claim_{};
    std::mt19937 random_;
    bool released_ = false;
};

}  // namespace ev::pg
