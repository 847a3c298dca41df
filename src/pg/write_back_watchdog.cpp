// The watchdog over a watch's write-back; see write_back_watchdog.h.
// Both handlers run in SIGALRM context (timeout.c): they only store plain
// values and set the flags CHECK_FOR_INTERRUPTS acts on, as die() and
// StatementTimeoutHandler do.
#include "write_back_watchdog.h"

#include <csignal>

#include "guard.h"
#include "settings.h"

namespace ev::pg {

namespace {

// How long after the cancel the process is ended when the cancel was swallowed.
constexpr int kTerminateGraceMs = 1000;

volatile sig_atomic_t writing_watch = 0;
volatile sig_atomic_t expired_watch = 0;
volatile int32* overdue_sink = nullptr;
TimeoutId cancel_timeout = MAX_TIMEOUTS;
TimeoutId terminate_timeout = MAX_TIMEOUTS;

void on_write_back_expired() {
    expired_watch = writing_watch;
    QueryCancelPending = true;
    InterruptPending = true;
    SetLatch(MyLatch);
}

void on_write_back_overdue() {
    if (overdue_sink) *overdue_sink = writing_watch;
    ProcDiePending = true;
    InterruptPending = true;
    SetLatch(MyLatch);
}

}  // namespace

void watchdog_arm(int32 watch_id) {
    int limit_ms = static_cast<int>(write_back_timeout().count());
    pg_call([&] {
        if (cancel_timeout == MAX_TIMEOUTS) {
            cancel_timeout = RegisterTimeout(USER_TIMEOUT, on_write_back_expired);
            terminate_timeout = RegisterTimeout(USER_TIMEOUT, on_write_back_overdue);
        }
        writing_watch = watch_id;
        enable_timeout_after(cancel_timeout, limit_ms);
        enable_timeout_after(terminate_timeout, limit_ms + kTerminateGraceMs);
    });
}

void watchdog_disarm() {
    if (cancel_timeout == MAX_TIMEOUTS) return;
    pg_call([] {
        disable_timeout(cancel_timeout, false);
        disable_timeout(terminate_timeout, false);
    });
    writing_watch = 0;
}

int32 watchdog_take_expired() {
    int32 watch = expired_watch;
    expired_watch = 0;
    return watch;
}

void watchdog_set_overdue_sink(volatile int32* sink) { overdue_sink = sink; }

}  // namespace ev::pg
