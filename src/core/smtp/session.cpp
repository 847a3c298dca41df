#include "smtp/session.h"

#include <openssl/err.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/source_addresses.h"
#include "text.h"

namespace ev::smtp {

const char* to_string(SessionEnd end) {
    switch (end) {
        case SessionEnd::Finished: return "finished";
        case SessionEnd::ConnectFailed: return "connection failed";
        case SessionEnd::ConnectTimeout: return "connect timeout";
        case SessionEnd::EgressFailed: return "could not leave as configured";
        case SessionEnd::LocalResources: return "out of sockets or file descriptors here";
        case SessionEnd::ReplyTimeout: return "reply timeout";
        case SessionEnd::SessionTimeout: return "session timeout";
        case SessionEnd::Dropped: return "connection closed by the server";
        case SessionEnd::ServiceClosing: return "server closing the session (421)";
        case SessionEnd::Blocked: return "prober blocked";
        case SessionEnd::Refused: return "dialogue refused";
        case SessionEnd::TemporaryFailure: return "temporary failure";
        case SessionEnd::TlsFailed: return "TLS handshake failed";
        case SessionEnd::ProtocolError: return "protocol error";
    }
    return "unknown";
}

namespace {

double ms_since(net::Clock::time_point from) {
    return std::chrono::duration<double, std::milli>(net::Clock::now() - from).count();
}

// What ends a session when the reply to a dialogue command is not 2xx.
SessionEnd end_for(Meaning meaning) {
    switch (meaning) {
        case Meaning::ServiceClosing: return SessionEnd::ServiceClosing;
        case Meaning::Blocked: return SessionEnd::Blocked;
        case Meaning::Rejected: return SessionEnd::Refused;
        case Meaning::ProtocolError: return SessionEnd::ProtocolError;
        default: return SessionEnd::TemporaryFailure;
    }
}

bool has_keyword(const Reply& ehlo, std::string_view keyword) {
    for (const auto& line : ehlo.lines) {
        std::string word = text::ascii_lowercase(line.substr(0, line.find(' ')));
        if (word == text::ascii_lowercase(keyword)) return true;
    }
    return false;
}

}  // namespace

Session::Session(net::EventLoop& loop, SessionOwner& owner, const SessionConfig& config, net::Endpoint server,
                 std::string server_name, int rcpt_limit_hint)
    : loop_(loop),
      owner_(owner),
      config_(config),
      server_(server),
      server_name_(std::move(server_name)),
      pipelined_errors_(config.pipelined_errors > 0 ? std::min(config.pipelined_errors, config.max_errors)
                                                    : config.max_errors),
      error_sleep_(config.error_sleep_threshold),
      rcpt_limit_(rcpt_limit_hint > 0 ? std::min(rcpt_limit_hint, config.max_rcpt_per_transaction)
                                      : config.max_rcpt_per_transaction) {}

Session::~Session() {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    if (session_timer_ != 0) loop_.cancel_timer(session_timer_);
    if (fd_) loop_.unwatch(fd_.get());
}

void Session::start() {
    session_timer_ = loop_.add_timer(net::Clock::now() + config_.session_timeout, [this] {
        session_timer_ = 0;
        on_session_timeout();
    });
    const net::Endpoint& target = config_.socks5_proxy ? config_.socks5_proxy->server : server_;
    const net::Endpoint* source = nullptr;
    if (!config_.source_addresses.empty()) {
        source = net::choose_source(config_.source_addresses, server_.ip(), target.family());
        // Leaving from the system's default address instead would defeat
        // the setting: the host would see an address nobody chose for it.
        if (source == nullptr) {
            return finish(SessionEnd::EgressFailed, std::nullopt,
                          std::string("email_verify.source_addresses has no ") +
                              (target.family() == AF_INET6 ? "IPv6" : "IPv4") + " address to reach " + target.text());
        }
        report_.source_address = source->ip();
    }
    int error = 0;
    started_ = net::Clock::now();
    bool bind_failed = false;
    fd_ = net::start_connect(target, source, &error, &bind_failed);
    if (!fd_ && bind_failed) {
        return finish(SessionEnd::EgressFailed, std::nullopt,
                      "cannot leave from source address " + source->ip() + ": " + std::strerror(error));
    }
    if (!fd_) return connect_failed(error);
    state_ = State::Connecting;
    loop_.watch(fd_.get(), EPOLLOUT, [this](std::uint32_t events) { on_io(events); });
    arm_timer(config_.connect_timeout);
}

void Session::connect_failed(int error) {
    if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM)
        return finish(SessionEnd::LocalResources, std::nullopt, std::strerror(error));
    if (config_.socks5_proxy)
        return finish(SessionEnd::EgressFailed, std::nullopt, proxy_label() + std::strerror(error));
    finish(SessionEnd::ConnectFailed, std::nullopt, std::strerror(error));
}

std::string Session::proxy_label() const { return "SOCKS5 proxy " + config_.socks5_proxy->text() + ": "; }

void Session::abort(SessionEnd why) {
    if (state_ != State::Closed) finish(why, std::nullopt, "abandoned");
}

void Session::resume() {
    if (!paused_ || state_ != State::Rcpt) return;
    paused_ = false;
    fill_pipeline();
    if (state_ != State::Closed) flush();
}

void Session::arm_timer(std::chrono::milliseconds timeout) {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = loop_.add_timer(net::Clock::now() + timeout, [this] {
        timer_ = 0;
        on_timeout();
    });
}

void Session::on_timeout() {
    if (state_ == State::Closed) return;
    if (state_ == State::Connecting) {
        std::string label = config_.socks5_proxy ? proxy_label() : std::string();
        return finish(SessionEnd::ConnectTimeout, std::nullopt, label + "no answer to connect");
    }
    if (state_ == State::ProxyHandshake)
        return finish(SessionEnd::ConnectTimeout, std::nullopt, proxy_label() + socks5_->waiting_for() + " in time");
    if (state_ == State::Quit) {
        report_.notice_ms = 2.0 * static_cast<double>(config_.reply_timeout.count());
        return finish(SessionEnd::Finished);
    }
    if (state_ == State::Handshake)
        return finish(SessionEnd::ReplyTimeout, std::nullopt, "TLS handshake not done in time");
    finish(SessionEnd::ReplyTimeout, std::nullopt, "no complete reply in time");
}

void Session::on_session_timeout() {
    if (state_ == State::Closed) return;
    if (state_ == State::Quit) {
        report_.notice_ms = 2.0 * static_cast<double>(config_.reply_timeout.count());
        return finish(SessionEnd::Finished);
    }
    finish(SessionEnd::SessionTimeout, std::nullopt, "session_timeout passed");
}

void Session::on_io(std::uint32_t events) {
    if (state_ == State::Closed) return;
    if (state_ == State::Connecting) {
        int error = net::connect_result(fd_.get());
        if (error != 0) return connect_failed(error);
        return on_connected();
    }
    if (state_ == State::ProxyHandshake) return proxy_io(events);
    if (state_ == State::Handshake) return continue_handshake();
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_available();
    if (state_ != State::Closed && (events & EPOLLOUT)) flush();
}

void Session::on_connected() {
    if (!config_.socks5_proxy) return begin_dialogue();
    // The connect timer keeps running: connect_timeout covers the proxy's
    // handshake, which is the proxy's own connect to the host.
    state_ = State::ProxyHandshake;
    socks5_ = std::make_unique<net::Socks5Handshake>(*config_.socks5_proxy, server_);
    out_ = socks5_->take_output();
    flush();
}

void Session::proxy_io(std::uint32_t events) {
    if (events & EPOLLOUT) flush();
    if (state_ != State::ProxyHandshake || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buffer[512];
    for (;;) {
        ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            return finish(SessionEnd::EgressFailed, std::nullopt, proxy_label() + std::strerror(errno));
        }
        if (n == 0) socks5_->closed();
        else socks5_->feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        if (socks5_->failed()) return finish(SessionEnd::EgressFailed, std::nullopt, proxy_label() + socks5_->error());
        out_ += socks5_->take_output();
        if (socks5_->connected()) {
            // What came after the proxy's reply is the server's: often the
            // start of its banner, in the same segment.
            std::string rest = socks5_->take_leftover();
            socks5_.reset();
            begin_dialogue();
            if (!rest.empty() && deliver(rest)) flush();
            return;
        }
    }
    flush();
}

void Session::begin_dialogue() {
    state_ = State::Banner;
    report_.connect_ms = ms_since(started_);
    pending_.push_back({Expect::Banner, std::nullopt, net::Clock::now()});
    arm_timer(config_.reply_timeout);
    update_interest();
}

void Session::update_interest() {
    if (state_ == State::Closed || !fd_) return;
    bool want_write = !out_.empty() || tls_wants_write_;
    std::uint32_t events = EPOLLIN;
    if (want_write) events |= EPOLLOUT;
    loop_.set_interest(fd_.get(), events);
}

void Session::read_available() {
    char buffer[16384];
    for (;;) {
        ssize_t n;
        if (tls_) {
            int got = SSL_read(tls_.get(), buffer, sizeof buffer);
            if (got <= 0) {
                int error = SSL_get_error(tls_.get(), got);
                if (error == SSL_ERROR_WANT_READ) break;
                if (error == SSL_ERROR_WANT_WRITE) {
                    tls_wants_write_ = true;
                    break;
                }
                ERR_clear_error();
                return finish(SessionEnd::Dropped, std::nullopt, "TLS connection closed");
            }
            n = got;
        } else {
            n = ::read(fd_.get(), buffer, sizeof buffer);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                return finish(SessionEnd::Dropped, std::nullopt, std::strerror(errno));
            }
            if (n == 0) {
                if (state_ == State::Quit) return finish(SessionEnd::Finished);
                return finish(SessionEnd::Dropped, std::nullopt, "connection closed");
            }
        }
        read_at_ = net::Clock::now();
        if (!deliver(std::string_view(buffer, static_cast<std::size_t>(n)))) return;
    }
    if (state_ != State::Closed) {
        // Everything the replies of this read produced goes out in one write:
        // one RCPT per segment would meet the server's Nagle and our delayed
        // ACK, 40 ms a turn.
        flush();
    }
}

// Feeds bytes to the reply reader and acts on the replies they complete;
// false when the session ended or a TLS handshake began (the socket is then
// not to be read as plain SMTP).
bool Session::deliver(std::string_view bytes) {
    if (reader_.feed(bytes) == ReplyReader::State::Failed) {
        finish(SessionEnd::ProtocolError, std::nullopt, reader_.error());
        return false;
    }
    while (reader_.has_reply()) {
        on_reply(reader_.take());
        if (state_ == State::Closed || state_ == State::Handshake) return false;
    }
    return true;
}

void Session::flush() {
    tls_wants_write_ = false;
    while (!out_.empty()) {
        if (tls_) {
            int sent = SSL_write(tls_.get(), out_.data(), static_cast<int>(out_.size()));
            if (sent <= 0) {
                int error = SSL_get_error(tls_.get(), sent);
                if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) break;
                ERR_clear_error();
                return finish(SessionEnd::Dropped, std::nullopt, "TLS write failed");
            }
            out_.erase(0, static_cast<std::size_t>(sent));
        } else {
            ssize_t sent = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL);
            if (sent < 0) {
                if (errno == EAGAIN || errno == EINTR) break;
                return finish(SessionEnd::Dropped, std::nullopt, std::strerror(errno));
            }
            out_.erase(0, static_cast<std::size_t>(sent));
        }
    }
    update_interest();
}

void Session::send(const std::string& line, Expect expect, std::optional<RcptTask> task) {
    out_ += line;
    out_ += "\r\n";
    pending_.push_back({expect, std::move(task), net::Clock::now()});
    if (pending_.size() == 1) arm_timer(config_.reply_timeout);
}

void Session::on_reply(Reply reply) {
    if (pending_.empty()) {
        // Unsolicited: servers announce an idle-timeout or shutdown with 421.
        if (reply.code == 421) return finish(SessionEnd::ServiceClosing, reply);
        return finish(SessionEnd::ProtocolError, reply, "reply without a command");
    }
    Pending pending = std::move(pending_.front());
    pending_.pop_front();
    if (pending.expect == Expect::Banner) report_.banner_ms = ms_since(pending.sent);
    if (pending.expect == Expect::Rcpt) report_.rcpt_ms.push_back(ms_since(pending.sent));
    // The next reply's time starts now that the server has finished this
    // one; bytes of a reply never restart it.
    if (!pending_.empty()) arm_timer(config_.reply_timeout);
    // From MAIL on: the greeting, EHLO and the TLS handshake have paces of
    // their own (postscreen, DNS lookups of the client, key exchange).
    if (pending.expect == Expect::Mail || pending.expect == Expect::Rcpt || pending.expect == Expect::Rset ||
        pending.expect == Expect::Quit)
        note_pace(pending);
    switch (pending.expect) {
        case Expect::Banner: {
            Meaning m = classify(reply, Stage::Banner);
            if (m != Meaning::Accepted) return finish(end_for(m), reply);
            state_ = State::Ehlo;
            send("EHLO " + config_.helo_name, Expect::Ehlo);
            return flush();
        }
        case Expect::Ehlo: {
            Meaning m = classify(reply, Stage::Ehlo);
            if (m == Meaning::Rejected) {
                state_ = State::Helo;
                send("HELO " + config_.helo_name, Expect::Helo);
                return flush();
            }
            if (m != Meaning::Accepted) return finish(end_for(m), reply);
            pipelining_ = has_keyword(reply, "PIPELINING");
            offers_starttls_ = has_keyword(reply, "STARTTLS");
            smtputf8_ = has_keyword(reply, "SMTPUTF8");
            if (offers_starttls_ && config_.starttls && !tls_) {
                state_ = State::StartTls;
                send("STARTTLS", Expect::StartTls);
                return flush();
            }
            return begin_transaction();
        }
        case Expect::Helo: {
            Meaning m = classify(reply, Stage::Helo);
            if (m != Meaning::Accepted) return finish(end_for(m), reply);
            return begin_transaction();
        }
        case Expect::StartTls: {
            Meaning m = classify(reply, Stage::StartTls);
            if (m == Meaning::ServiceClosing) return finish(SessionEnd::ServiceClosing, reply);
            // Refused STARTTLS: carry on in the clear; a server that insists
            // will say so at MAIL FROM.
            if (m != Meaning::Accepted) return begin_transaction();
            // Anything the server sent after its 220 would be read as a reply
            // to a command sent under TLS (the STARTTLS injection attack).
            if (reader_.pending_bytes() > 0 || reader_.has_reply())
                return finish(SessionEnd::ProtocolError, reply, "data after STARTTLS reply (possible injection)");
            tls_ = net::new_tls_client(fd_.get(), server_name_);
            state_ = State::Handshake;
            arm_timer(config_.reply_timeout);
            return continue_handshake();
        }
        case Expect::Mail: {
            Meaning m = classify(reply, Stage::MailFrom);
            if (m != Meaning::Accepted) {
                // 530 "must issue STARTTLS first" when we could not: refused.
                return finish(end_for(m), reply);
            }
            state_ = State::Rcpt;
            rcpts_in_transaction_ = 0;
            transaction_full_ = false;
            fill_pipeline();
            return flush();
        }
        case Expect::Rcpt: return on_rcpt_reply(std::move(pending), std::move(reply));
        case Expect::Rset: {
            if (reply.klass() != 2) return finish(end_for(classify(reply, Stage::Rset)), reply);
            return begin_transaction();
        }
        case Expect::Quit: {
            // Postfix says 421 "too many errors" to whatever command comes
            // once the client made its hard limit of them, QUIT included.
            if (reply.code == 421 && errors_ > 0) cut_after_ = errors_;
            return finish(SessionEnd::Finished);
        }
    }
}

// The server slowing its replies because of the refusals is the sign to
// stop: every further reply would cost the same wait.
void Session::note_pace(const Pending& pending) {
    error_sleep_.on_reply(pending.sent, read_at_, errors_);
    if (error_sleep_.slowed()) slowed_ = true;
}

void Session::continue_handshake() {
    int rc = SSL_connect(tls_.get());
    if (rc == 1) {
        report_.used_tls = true;
        report_.certificate_problem = net::certificate_problem(tls_.get());
        state_ = State::Ehlo;
        send("EHLO " + config_.helo_name, Expect::Ehlo);
        return flush();
    }
    int error = SSL_get_error(tls_.get(), rc);
    if (error == SSL_ERROR_WANT_READ) {
        tls_wants_write_ = false;
        return update_interest();
    }
    if (error == SSL_ERROR_WANT_WRITE) {
        tls_wants_write_ = true;
        return update_interest();
    }
    finish(SessionEnd::TlsFailed, std::nullopt, net::last_tls_error());
}

void Session::begin_transaction() {
    if (work_exhausted_ || slowed_ || errors_ >= config_.max_errors) return quit();
    state_ = State::Mail;
    // RFC 6531: with SMTPUTF8 the server takes UTF-8 local parts; without
    // it, such a recipient gets whatever refusal the server gives.
    send("MAIL FROM:<" + config_.mail_from + ">" + (smtputf8_ ? " SMTPUTF8" : ""), Expect::Mail);
    flush();
}

// Keeps up to `window` RCPTs in flight, never more refusable ones than the
// error budget could absorb if every one of them were refused. A session
// trying a budget larger than the refusals known to pass goes one command
// at a time past them: a reply the server's error sleep slows then has a
// single cause, and nothing queued behind it waits a second too.
void Session::fill_pipeline() {
    bool trying = config_.max_errors > pipelined_errors_;
    for (;;) {
        if (slowed_) break;
        int in_flight = static_cast<int>(pending_.size());
        int refusable = errors_ + may_fail_in_flight_;
        bool one_at_a_time = !pipelining_ || (trying && refusable >= pipelined_errors_);
        if (in_flight >= (one_at_a_time ? 1 : config_.pipeline_window)) break;
        if (transaction_full_ || rcpts_in_transaction_ >= rcpt_limit_) break;
        bool may_fail_allowed = refusable < config_.max_errors;
        auto task = owner_.next_task(may_fail_allowed);
        if (!task) {
            if (!owner_.has_work()) work_exhausted_ = true;
            break;
        }
        ++rcpts_in_transaction_;
        if (task->may_fail) ++may_fail_in_flight_;
        // Built before the call: the task is moved into it.
        const std::string line = "RCPT TO:<" + task->recipient + ">";
        send(line, Expect::Rcpt, std::move(task));
    }
    if (pending_.empty()) after_rcpt_replies();
}

void Session::on_rcpt_reply(Pending pending, Reply reply) {
    RcptTask task = std::move(*pending.task);
    if (task.may_fail) --may_fail_in_flight_;
    Meaning meaning = classify(reply, Stage::RcptTo);
    // A 421 is no refusal but the end: finish() counts what came before it.
    if (reply.klass() != 2 && meaning != Meaning::ServiceClosing) ++errors_;
    switch (meaning) {
        case Meaning::TooManyRecipients: {
            // The transaction is full, not the mailbox: ask again in a new one.
            int accepted_before = rcpts_in_transaction_ - static_cast<int>(pending_.size()) - 1;
            if (accepted_before <= 0) {
                owner_.task_answered(task, Meaning::TemporaryFailure, reply);
            } else {
                rcpt_limit_ = std::min(rcpt_limit_, accepted_before);
                report_.learned_rcpt_limit = rcpt_limit_;
                owner_.task_returned(std::move(task), SessionEnd::TemporaryFailure, reply, /*charged=*/false);
            }
            transaction_full_ = true;
            break;
        }
        case Meaning::ServiceClosing: {
            owner_.task_returned(std::move(task), SessionEnd::ServiceClosing, reply, /*charged=*/true);
            rcpt_failure_charged_ = true;
            return finish(SessionEnd::ServiceClosing, reply);
        }
        default:
            ++report_.rcpts_answered;
            owner_.task_answered(task, meaning, reply);
            break;
    }
    if (state_ == State::Closed) return;
    fill_pipeline();  // written out once the whole read is processed
}

void Session::after_rcpt_replies() {
    if (!pending_.empty()) return;
    bool more_work = !work_exhausted_ && owner_.has_work();
    if (more_work && !slowed_ && errors_ < config_.max_errors && owner_.holding_back()) {
        // Nothing is asked of the server while we wait: no reply is due.
        paused_ = true;
        if (timer_ != 0) loop_.cancel_timer(timer_);
        timer_ = 0;
        return;
    }
    if (more_work && !slowed_ && errors_ < config_.max_errors &&
        (transaction_full_ || rcpts_in_transaction_ >= rcpt_limit_)) {
        state_ = State::Rset;
        send("RSET", Expect::Rset);
        return;
    }
    quit();
}

void Session::quit() {
    state_ = State::Quit;
    send("QUIT", Expect::Quit);
    flush();
    // A server that slows every reply would answer QUIT as late.
    if (slowed_) {
        double slowest = 0;
        for (double ms : report_.rcpt_ms) slowest = std::max(slowest, ms);
        report_.notice_ms = 2 * slowest;
        finish(SessionEnd::Finished);
    }
}

void Session::finish(SessionEnd end, std::optional<Reply> reply, std::string detail) {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = 0;
    if (session_timer_ != 0) loop_.cancel_timer(session_timer_);
    session_timer_ = 0;
    if (fd_) {
        loop_.unwatch(fd_.get());
        tls_.reset();
        fd_.reset();
    }
    socks5_.reset();
    // Recipients still waiting for an answer go back to the owner.
    std::deque<Pending> unanswered;
    unanswered.swap(pending_);
    // Only the oldest unanswered recipient was in front of the server when
    // the failure came; unless one was already charged, it pays for it. The
    // session's own deadline is nobody's fault: the time went on the whole
    // dialogue, not on the recipient that happened to be last.
    bool charge = !rcpt_failure_charged_ && end != SessionEnd::SessionTimeout;
    SessionEnd why = end == SessionEnd::Finished ? SessionEnd::Dropped : end;
    for (auto& p : unanswered) {
        if (!p.task) continue;
        owner_.task_returned(std::move(*p.task), why, reply, charge);
        charge = false;
    }
    // A 421 or a dropped connection after refusals: an error limit, as far
    // as the session can tell. So is silence that fell while the session
    // went one command at a time past the refusals known to pass: without
    // it, every later try would wait for the same timeout.
    bool trying_past_known = config_.max_errors > pipelined_errors_ && errors_ >= pipelined_errors_;
    bool cut = end == SessionEnd::ServiceClosing || end == SessionEnd::Dropped ||
               (end == SessionEnd::ReplyTimeout && trying_past_known);
    if (cut && cut_after_ == 0) cut_after_ = errors_;
    report_.errors.budget = config_.max_errors;
    report_.errors.pipelined = pipelined_errors_;
    report_.errors.refusals = errors_;
    report_.errors.slowed_after = error_sleep_.slowed_after();
    report_.errors.cut_after = cut_after_;
    report_.errors.finished = end == SessionEnd::Finished;
    report_.end = end;
    // A tarpit asleep on our connection notices we left only when it wakes.
    if ((end == SessionEnd::ReplyTimeout || end == SessionEnd::SessionTimeout) && report_.notice_ms < 0)
        report_.notice_ms = 2.0 * static_cast<double>(config_.reply_timeout.count());
    report_.reply = std::move(reply);
    report_.detail = std::move(detail);
    report_.pipelining = pipelining_;
    owner_.session_ended(this, report_);
}

}  // namespace ev::smtp
