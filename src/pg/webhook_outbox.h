// The webhook outbox (email_verify_internal.webhook_events, 98_webhooks.sql)
// as the delivering worker sees it: due events claimed with their secrets,
// and what each attempt came to written back. Each needs a transaction and an
// SPI connection; no network I/O happens inside one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg_prelude.h"

namespace ev::pg {

struct OutboxEvent {
    int64 row = 0;
    std::string event_id;
    std::string event_type;
    std::string body;  // the jsonb's text: exactly the bytes signed and sent
    std::string url;
    int attempts = 0;                  // this one included
    std::vector<std::string> secrets;  // newest first (two during a rotation)
};

// Up to limit due events, oldest first, now 'sending' with one attempt more.
// An event waits while an earlier one of its job is pending or being sent,
// so a job's events arrive in order. Before claiming: events of URLs disabled
// by 410 Gone are dead, and sending events whose lease ran out are due again.
std::vector<OutboxEvent> claim_due_events(int limit);

// Seconds until the next pending event falls due (nullopt: none pending).
std::optional<double> seconds_to_next_event();

// Every event being sent is due again (the delivering worker starts: what
// its predecessor was sending when it died is sent again, same event id).
void release_sending_events();

struct AttemptRecord {
    int64 row = 0;
    std::string url;
    enum class Next { Delivered, Retry, Dead, Gone, PutBack } next = Next::Dead;
    double retry_in_seconds = 0;  // Retry and PutBack
    long http_status = 0;         // 0: no answer
    std::string cause;            // "delivered", "http_status", "timeout", ...
    std::string error;
    double latency_ms = 0;
};

// Writes the attempts' outcomes: delivered, due again later, dead (with the
// last status, cause and error), or dead with its URL disabled (410 Gone).
// PutBack (the endpoint's circuit is open) takes the attempt back.
void record_attempts(const std::vector<AttemptRecord>& attempts);

}  // namespace ev::pg
