// One thread's epoll loop with timers: DNS (c-ares) and every SMTP session of
// a probe share it, so a batch of thousands of addresses runs concurrently
// without threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace ev::net {

using Clock = std::chrono::steady_clock;

class EventLoop {
  public:
    using IoHandler = std::function<void(std::uint32_t events)>;  // EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP
    using TimerId = std::uint64_t;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Registers fd (or changes its interest); the handler replaces any earlier one.
    void watch(int fd, std::uint32_t events, IoHandler handler);
    void set_interest(int fd, std::uint32_t events);
    // Forgets fd; safe to call from inside its own handler. Does not close it.
    void unwatch(int fd);

    TimerId add_timer(Clock::time_point when, std::function<void()> callback);
    void cancel_timer(TimerId id);  // unknown or fired ids are ignored

    // Waits for I/O at most max_wait (less when a timer is due sooner), then
    // runs the ready handlers and the due timers. Returns early on a signal.
    void run_once(std::chrono::milliseconds max_wait);

    std::size_t watched() const { return handlers_.size(); }
    std::size_t pending_timers() const { return timers_.size(); }

    // For a caller that sleeps elsewhere (PostgreSQL's WaitLatchOrSocket):
    // the epoll descriptor turns readable when any watched fd is ready, and
    // the loop wants run_once() again no later than the next timer.
    int fd() const { return epoll_fd_; }
    std::optional<Clock::time_point> next_timer_due() const;

  private:
    struct Registration {
        std::uint32_t generation;
        std::shared_ptr<IoHandler> handler;
    };
    int epoll_fd_ = -1;
    std::uint32_t next_generation_ = 1;
    std::unordered_map<int, Registration> handlers_;
    TimerId next_timer_ = 1;
    std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> timers_;
    std::unordered_map<TimerId, Clock::time_point> timer_due_;
};

}  // namespace ev::net
