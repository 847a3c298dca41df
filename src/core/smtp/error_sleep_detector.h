// Tells a server's error sleep from its ordinary pace, reply by reply.
//
// Postfix, once a client made smtpd_soft_error_limit errors, waits
// smtpd_error_sleep_time (1 s) before every reply, and writes the replies to
// pipelined commands it had kept back together with the first slowed one.
// So replies arrive in bursts (several within a few milliseconds), and what
// a burst took is the wait between the command and the burst's first reply,
// or between the previous reply and it when the command was already there.
// A burst that took `threshold` more than the session's ordinary bursts is
// an error sleep when the server had refused anything by the burst's last
// reply; the refusals made before that reply are where the limit lies. A
// server that is slow from the start (a delay on every RCPT) is just slow:
// such bursts become part of the ordinary pace.
#pragma once

#include <chrono>
#include <vector>

namespace ev::smtp {

class ErrorSleepDetector {
  public:
    using Clock = std::chrono::steady_clock;

    explicit ErrorSleepDetector(std::chrono::milliseconds threshold) : threshold_(threshold) {}

    // A reply to a command written at `sent` arrived at `arrived`, after the
    // session had seen `refusals` refusals (this reply not counted). Replies
    // are given in order, from the first after the greeting and EHLO.
    void on_reply(Clock::time_point sent, Clock::time_point arrived, int refusals);

    // The server slows its replies because of the refusals.
    bool slowed() const { return slowed_after_ > 0; }
    // Refusals made before the slowed replies began (0: none seen).
    int slowed_after() const { return slowed_after_; }

  private:
    Clock::duration ordinary() const;  // the session's usual burst, the upper median of the last ones
    void remember(Clock::duration took);

    std::chrono::milliseconds threshold_;
    bool any_reply_ = false;
    Clock::time_point last_arrival_;
    std::vector<Clock::duration> ordinary_;  // what ordinary bursts took, the last kKept
    bool burst_slow_ = false;                // the current burst took threshold more than ordinary
    Clock::duration burst_took_{};
    int slowed_after_ = 0;
    bool settled_ = false;  // the slowed burst is over: slowed_after_ stays
};

}  // namespace ev::smtp
