#include "pg_prelude.h"  // first: postgres.h precedes every server header

#include "webhook_sender.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <stdexcept>

#include "guard.h"
#include "job_settings.h"
#include "settings.h"
#include "webhook/retry_schedule.h"
#include "webhook/signature.h"
#include "webhook/url_policy.h"
#include "worker_transaction.h"

namespace ev::pg {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Requests in flight at once, no more than the connections curl may open to
// one host: a request never waits in curl's queue for a connection, where its
// time would count towards email_verify.webhook_timeout.
constexpr std::size_t kMaxInFlight = 32;
// Finished attempts are written back in one transaction once the first has
// waited this long (or when nothing is in flight any more).
constexpr std::chrono::milliseconds kWriteBackWait{20};
// While events keep coming, the outbox is read again this soon.
constexpr std::chrono::milliseconds kBusyClaimInterval{20};
// At most this long between two looks at the outbox while idle: events a
// backend creates wake the worker at once (emit_event), this is the safety net.
constexpr std::chrono::milliseconds kIdleClaimInterval{5000};
// EV_VERSION is the control file's default_version, given by the Makefile
// bare (a quoted define would not survive the lint's compile commands).
#define EV_STRINGIFY(x) #x
#define EV_AS_STRING(x) EV_STRINGIFY(x)
constexpr const char* kUserAgent = "email_verify/" EV_AS_STRING(EV_VERSION);

std::string cause_of(const ev::webhook::Outcome& outcome) {
    if (outcome.delivered()) return "delivered";
    if (outcome.cause == ev::webhook::Cause::HttpStatus || outcome.cause == ev::webhook::Cause::None) {
        long family = outcome.http_status / 100;
        return "http_" + std::to_string(family) + "xx";
    }
    return ev::webhook::to_string(outcome.cause);
}

void log_problem(const std::string& what) {
    pg_call([&] { ereport(LOG, (errmsg("email_verify worker: webhook delivery: %s", what.c_str()))); });
}

}  // namespace

WebhookSender::WebhookSender() : random_(static_cast<unsigned>(MyProcPid)) {}

WebhookSender::~WebhookSender() = default;

void WebhookSender::start_client() {
    WebhookSettings settings = webhook_settings();
    ev::prober::ProbeSettings probe = probe_settings();
    std::string fingerprint =
        std::to_string(settings.allow_private) + '\n' + settings.ca_file + '\n' + probe.dns.servers;
    if (client_ && fingerprint == client_fingerprint_) return;
    // A changed setting takes effect at once: new requests go through a new
    // client, while the old one finishes what it has in flight.
    if (client_ && client_->in_flight() > 0) retired_.push_back(std::move(client_));
    ev::webhook::ClientOptions options;
    options.allow_private = settings.allow_private;
    options.ca_file = settings.ca_file;
    options.user_agent = kUserAgent;
    options.max_per_host = static_cast<long>(kMaxInFlight);
    options.max_total_connections = static_cast<long>(kMaxInFlight);
    options.dns = probe.dns;
    client_.reset();
    client_ = std::make_unique<ev::webhook::DeliveryClient>(loop_, options);
    client_fingerprint_ = fingerprint;
}

std::chrono::milliseconds WebhookSender::due_in() const {
    auto now = SteadyClock::now();
    auto until_claim = std::chrono::duration_cast<std::chrono::milliseconds>(next_claim_ - now);
    std::chrono::milliseconds due = std::max(until_claim, std::chrono::milliseconds(0));
    if (!finished_.empty()) due = std::min(due, kWriteBackWait);
    if (auto timer = loop_.next_timer_due()) {
        auto until_timer = std::chrono::duration_cast<std::chrono::milliseconds>(*timer - now);
        due = std::min(due, std::max(until_timer, std::chrono::milliseconds(0)));
    }
    return due;
}

void WebhookSender::pump() {
    try {
        if (!released_) {
            begin_transaction();
            release_sending_events();
            commit_transaction();
            released_ = true;
        }
        start_client();
        loop_.run_once(std::chrono::milliseconds(0));
        retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                      [](const auto& client) { return client->in_flight() == 0; }),
                       retired_.end());
        auto now = SteadyClock::now();
        if (!finished_.empty() &&
            (finished_.size() >= kMaxInFlight || client_->in_flight() == 0 || now - first_finished_ >= kWriteBackWait))
            write_back();
        if (now >= next_claim_ && client_->in_flight() < kMaxInFlight) claim();
    } catch (const PgError&) {
        abort_transaction();
        throw;
    } catch (const std::exception& e) {
        // A failure of the delivery machinery must not stop verification:
        // what was in flight comes back by lease.
        log_problem(e.what());
        client_.reset();
        next_claim_ = SteadyClock::now() + kIdleClaimInterval;
    }
}

void WebhookSender::claim() {
    std::size_t room = kMaxInFlight - client_->in_flight();
    begin_transaction();
    std::vector<OutboxEvent> events = claim_due_events(static_cast<int>(room));
    std::optional<double> next_due;
    if (events.size() < room) next_due = seconds_to_next_event();
    commit_transaction();
    auto now = SteadyClock::now();
    if (events.size() >= room) {
        next_claim_ = now + kBusyClaimInterval;
    } else {
        auto wait = kIdleClaimInterval;
        if (next_due)
            wait = std::min(wait, std::chrono::milliseconds(static_cast<long>(std::max(*next_due, 0.0) * 1000) + 1));
        next_claim_ = now + wait;
    }
    for (const OutboxEvent& event : events) submit(event);
}

void WebhookSender::submit(const OutboxEvent& event) {
    ev::webhook::UrlCheck check = ev::webhook::check_webhook_url(event.url);
    ev::webhook::Outcome refused;
    if (!check.ok) {
        refused.cause = ev::webhook::Cause::InvalidUrl;
        refused.error = check.error;
        on_outcome(event.row, event.url, event.url, event.attempts, refused);
        return;
    }
    auto wall_now = ev::webhook::WallClock::now();
    if (!breaker_.allows(check.origin, wall_now)) {
        AttemptRecord put_back;
        put_back.row = event.row;
        put_back.url = event.url;
        put_back.next = AttemptRecord::Next::PutBack;
        auto state = breaker_.state(check.origin);
        double wait = 1;
        if (state && state->open_until)
            wait = std::max(1.0, std::chrono::duration<double>(*state->open_until - wall_now).count());
        put_back.retry_in_seconds = wait;
        if (finished_.empty()) first_finished_ = SteadyClock::now();
        finished_.push_back(std::move(put_back));
        return;
    }
    ev::webhook::DeliveryRequest request;
    request.tag = static_cast<std::uint64_t>(event.row);
    request.url = check.url;
    request.body = event.body;
    request.timeout = webhook_settings().timeout;
    try {
        request.headers =
            ev::webhook::delivery_headers(event.event_id, event.event_type, event.body,
                                          static_cast<std::int64_t>(std::time(nullptr)), event.secrets, kUserAgent);
    } catch (const std::invalid_argument& e) {
        refused.cause = ev::webhook::Cause::Other;
        refused.error = std::string("cannot sign the event: ") + e.what();
        on_outcome(event.row, event.url, check.origin, event.attempts, refused);
        return;
    }
    int64 row = event.row;
    std::string url = event.url, origin = check.origin;
    int attempts = event.attempts;
    client_->submit(std::move(request),
                    [this, row, url, origin, attempts](std::uint64_t, const ev::webhook::Outcome& outcome) {
                        on_outcome(row, url, origin, attempts, outcome);
                    });
}

void WebhookSender::on_outcome(int64 row, const std::string& url, const std::string& origin, int attempts,
                               const ev::webhook::Outcome& outcome) {
    auto now = ev::webhook::WallClock::now();
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    ev::webhook::Decision decision =
        ev::webhook::decide(outcome, attempts, webhook_settings().schedule, jitter(random_), now);
    // A refused address says nothing of the receiver's health.
    if (outcome.cause != ev::webhook::Cause::RefusedAddress && outcome.cause != ev::webhook::Cause::InvalidUrl)
        breaker_.record(origin, outcome.delivered(), now);
    AttemptRecord record;
    record.row = row;
    record.url = url;
    record.http_status = outcome.http_status;
    record.cause = cause_of(outcome);
    record.error = outcome.error.empty() ? decision.reason : outcome.error;
    record.latency_ms = static_cast<double>(outcome.latency_ms);
    switch (decision.kind) {
        case ev::webhook::Decision::Kind::Delivered:
            record.next = AttemptRecord::Next::Delivered;
            record.error.clear();
            break;
        case ev::webhook::Decision::Kind::Retry:
            record.next = AttemptRecord::Next::Retry;
            record.retry_in_seconds = std::max(0.0, std::chrono::duration<double>(decision.at - now).count());
            break;
        case ev::webhook::Decision::Kind::EndpointGone: record.next = AttemptRecord::Next::Gone; break;
        case ev::webhook::Decision::Kind::Dead: record.next = AttemptRecord::Next::Dead; break;
    }
    if (finished_.empty()) first_finished_ = SteadyClock::now();
    finished_.push_back(std::move(record));
}

void WebhookSender::write_back() {
    try {
        begin_transaction();
        record_attempts(finished_);
        commit_transaction();
    } catch (const PgError&) {
        // Not kept to be tried again at every turn, where one bad record
        // would stop every delivery: the events come back when their lease
        // runs out, and are sent again (same event ids).
        finished_.clear();
        throw;
    }
    // Events of the same job waited for these; a retry may be due soon.
    next_claim_ = SteadyClock::now();
    finished_.clear();
}

}  // namespace ev::pg
