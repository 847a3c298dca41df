// One SMTP probe connection: banner, EHLO (HELO fallback), STARTTLS when
// offered, then transactions of MAIL FROM + many RCPT TO, pipelined when the
// server allows, ended by RSET/QUIT. Never DATA.
//
// The session does not own its work: it pulls recipients from its
// SessionOwner (the per-host queue of the prober) one at a time, so several
// sessions to one host share the queue and a failing session hands its
// unanswered recipients back.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/socket.h"
#include "net/socks5.h"
#include "net/tls.h"
#include "smtp/error_budget.h"
#include "smtp/error_sleep_detector.h"
#include "smtp/reply.h"
#include "smtp/reply_classifier.h"

namespace ev::smtp {

struct SessionConfig {
    std::string helo_name = "localhost";
    std::string mail_from;  // "" sends MAIL FROM:<>
    std::chrono::milliseconds connect_timeout{5000};
    // A deadline for each whole reply (every line of it), counted from when
    // the server could start on it: the command was sent, or the reply
    // before it was complete (pipelined commands are answered in order), or
    // the connection was made (the banner). Bytes that trickle in do not
    // extend it. The STARTTLS handshake gets the same time from its start.
    std::chrono::milliseconds reply_timeout{15000};
    // The whole dialogue with the host, from the start of the connect: a
    // server that answers each reply just in time still cannot hold a probe
    // longer than this.
    std::chrono::milliseconds session_timeout{120000};
    // Local addresses to leave from (email_verify.source_addresses), one
    // chosen per MX address (net::choose_source); empty: the system's
    // choice. With a proxy they apply to the connection to the proxy.
    std::vector<net::Endpoint> source_addresses;
    // Connections go through this SOCKS5 proxy (email_verify.socks5_proxy);
    // connect_timeout covers the connect to it and its handshake.
    std::optional<net::Socks5Proxy> socks5_proxy;
    bool starttls = true;      // use STARTTLS when the server offers it
    int pipeline_window = 64;  // RCPTs in flight when PIPELINING is offered
    // Replies 4xx/5xx a session may collect before it reconnects: the error
    // budget. This is the one for a host nothing is known of: Postfix slows
    // every reply by 1 s after 10 errors and drops at 20, and staying under
    // keeps a list of unknown users fast. The engine learns each host's own
    // (smtp/error_budget.h) and sets it per session.
    int max_errors = 9;
    // Of max_errors, the refusable RCPTs that may be in flight together;
    // past them the session sends one command at a time, so that a reply
    // slowed by the server's error sleep is told exactly and paid once.
    // 0: all of max_errors.
    int pipelined_errors = 0;
    // The largest budget a host that shows no error limit is given;
    // max_errors or less turns the learning off.
    int max_errors_learned = 200;
    // A burst of replies that took this much longer than the session's
    // ordinary ones is the server's error sleep (Postfix's is 1 s).
    std::chrono::milliseconds error_sleep_threshold{800};
    // Postfix's smtpd_recipient_limit default. Fewer RCPTs per transaction
    // means more MAIL FROMs, which Postfix paces (in_flow_delay) and other
    // servers count; a server with a lower limit says 452 and we learn it.
    int max_rcpt_per_transaction = 1000;
};

struct RcptTask {
    std::uint64_t id = 0;   // the owner's handle
    std::string recipient;  // the address, as sent inside <>
    // False when the owner knows the server accepts any recipient there (a
    // catch-all domain): such RCPTs cannot cost the session's error budget,
    // so they may fill the whole pipeline window.
    bool may_fail = true;
};

// How a session ended, for the owner's fall-through and reconnect decisions.
enum class SessionEnd {
    Finished,          // QUIT after the work ran out, the error budget was spent or the server slowed down
    ConnectFailed,     // refused, unreachable
    ConnectTimeout,    // the connect (and a proxy's handshake) did not complete in time
    EgressFailed,      // no way out as configured: source address, SOCKS5 proxy (detail says which)
    ReplyTimeout,      // a reply (or the TLS handshake) did not complete in time
    SessionTimeout,    // the whole dialogue outlasted session_timeout
    Dropped,           // the connection closed without a 421
    ServiceClosing,    // 421 (banner or mid-dialogue)
    Blocked,           // 554 banner, 5.7.x, blocklist text: the prober is refused
    Refused,           // EHLO and HELO both refused, or MAIL FROM refused without policy text
    TemporaryFailure,  // 4xx at banner/EHLO/MAIL
    TlsFailed,         // the STARTTLS handshake failed; the connection is unusable
    ProtocolError,     // the server broke the reply grammar
    LocalResources,    // this process could not open a socket (EMFILE, ENFILE, ENOBUFS, ENOMEM): not the host's doing
};

const char* to_string(SessionEnd end);

struct SessionReport {
    SessionEnd end = SessionEnd::Finished;
    std::optional<Reply> reply;  // the reply that ended it, if any
    std::string detail;          // errno text, TLS error, ...
    int rcpts_answered = 0;
    bool used_tls = false;
    std::string certificate_problem;  // "" when verified (or no TLS)
    std::string source_address;       // the local address chosen from source_addresses, if any
    bool pipelining = false;
    int learned_rcpt_limit = 0;  // > 0 when a "too many recipients" taught one
    // We closed the connection before the server answered QUIT or closed
    // it: the server counts the session until it notices, which may take
    // this long (ms; < 0: it closed or answered first). Twice its slowest
    // reply when it slowed its replies (it wakes from that sleep to find us
    // gone), twice reply_timeout when a reply or QUIT went unanswered.
    double notice_ms = -1;
    // Latencies, for the prober's counters: < 0 when the phase was not reached.
    double connect_ms = -1;
    double banner_ms = -1;        // from the connection to the banner's last line
    std::vector<double> rcpt_ms;  // from each RCPT sent to its reply
    ErrorEvidence errors;         // what the server did about refusals
};

class SessionOwner {
  public:
    virtual ~SessionOwner() = default;
    // The next recipient for this host, if any; when `may_fail_allowed` is
    // false, only one whose may_fail is false (else nothing, for now).
    virtual std::optional<RcptTask> next_task(bool may_fail_allowed) = 0;
    // Whether any recipient is still waiting for this host.
    virtual bool has_work() const = 0;
    // True when next_task had work but held it back (the host's RCPT rate is
    // spent): the session then idles, its transaction open, until resume().
    virtual bool holding_back() const { return false; }
    // The server answered the recipient.
    virtual void task_answered(const RcptTask& task, Meaning meaning, const Reply& reply) = 0;
    // The session could not get an answer; `why` is what happened to it.
    // `charged` is false for recipients that merely queued behind the one the
    // failure hit (pipelined, never looked at) and for "too many recipients":
    // neither is the recipient's fault, so neither may use up its attempts.
    virtual void task_returned(RcptTask task, SessionEnd why, const std::optional<Reply>& reply, bool charged) = 0;
    // The session is over and its socket closed; the owner may destroy it
    // only after this call returns (defer the delete).
    virtual void session_ended(class Session* session, const SessionReport& report) = 0;
};

class Session {
  public:
    Session(net::EventLoop& loop, SessionOwner& owner, const SessionConfig& config, net::Endpoint server,
            std::string server_name, int rcpt_limit_hint);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void start();
    // Closes at once, returning unanswered tasks with `why` (used when the
    // whole probe is abandoned or a deadline passed).
    void abort(SessionEnd why);
    // Asks the owner for recipients again after it held them back.
    void resume();
    bool done() const { return state_ == State::Closed; }
    const net::Endpoint& server() const { return server_; }

  private:
    enum class State {
        Connecting,
        ProxyHandshake,
        Banner,
        Ehlo,
        Helo,
        StartTls,
        Handshake,
        Mail,
        Rcpt,
        Rset,
        Quit,
        Closed
    };
    enum class Expect { Banner, Ehlo, Helo, StartTls, Mail, Rcpt, Rset, Quit };
    struct Pending {
        Expect expect;
        std::optional<RcptTask> task;
        net::Clock::time_point sent{};
    };

    void on_io(std::uint32_t events);
    void on_connected();
    void connect_failed(int error);
    void proxy_io(std::uint32_t events);
    std::string proxy_label() const;
    void begin_dialogue();
    void read_available();
    bool deliver(std::string_view bytes);
    void flush();
    void update_interest();
    void send(const std::string& line, Expect expect, std::optional<RcptTask> task = std::nullopt);
    void on_reply(Reply reply);
    void note_pace(const Pending& pending);
    void on_rcpt_reply(Pending pending, Reply reply);
    void begin_transaction();
    void fill_pipeline();
    void after_rcpt_replies();
    void continue_handshake();
    void arm_timer(std::chrono::milliseconds timeout);
    void on_timeout();
    void on_session_timeout();
    void finish(SessionEnd end, std::optional<Reply> reply = std::nullopt, std::string detail = {});
    void quit();

    net::EventLoop& loop_;
    SessionOwner& owner_;
    SessionConfig config_;
    net::Endpoint server_;
    std::string server_name_;

    State state_ = State::Connecting;
    net::Fd fd_;
    net::SslPtr tls_;
    std::unique_ptr<net::Socks5Handshake> socks5_;
    bool tls_wants_write_ = false;
    ReplyReader reader_;
    net::Clock::time_point read_at_;  // when the bytes being parsed arrived
    std::string out_;
    std::deque<Pending> pending_;
    net::EventLoop::TimerId timer_ = 0;          // the connect or reply deadline
    net::EventLoop::TimerId session_timer_ = 0;  // the whole session's
    net::Clock::time_point started_{};

    bool pipelining_ = false;
    bool offers_starttls_ = false;
    bool smtputf8_ = false;
    int errors_ = 0;
    int pipelined_errors_;  // errors_ + refusable RCPTs in flight below this: no need to wait
    ErrorSleepDetector error_sleep_;
    bool slowed_ = false;  // the server slows its replies: send nothing more, leave
    int cut_after_ = 0;    // refusals before a 421 or a drop ended the dialogue
    int rcpts_in_transaction_ = 0;
    int rcpt_limit_;
    bool transaction_full_ = false;
    bool work_exhausted_ = false;
    bool paused_ = false;  // idle in a transaction while the owner holds work back
    bool rcpt_failure_charged_ = false;
    int may_fail_in_flight_ = 0;  // RCPTs in flight that could be refused
    SessionReport report_;
};

}  // namespace ev::smtp
