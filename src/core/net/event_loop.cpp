#include "net/event_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace ev::net {

namespace {

// epoll data carries fd and a generation, so an event queued for a closed fd
// is not delivered to whatever later reuses the number.
std::uint64_t pack(int fd, std::uint32_t generation) {
    return (static_cast<std::uint64_t>(generation) << 32) | static_cast<std::uint32_t>(fd);
}

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string(what) + ": " + std::strerror(errno)); }

}  // namespace

EventLoop::EventLoop() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) fail("epoll_create1");
}

EventLoop::~EventLoop() {
    if (epoll_fd_ >= 0) close(epoll_fd_);
}

void EventLoop::watch(int fd, std::uint32_t events, IoHandler handler) {
    auto it = handlers_.find(fd);
    std::uint32_t generation = next_generation_++;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = pack(fd, generation);
    int op = it == handlers_.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int rc = epoll_ctl(epoll_fd_, op, fd, &ev);
    // The number was closed (leaving epoll) without an unwatch, and is now a
    // new descriptor: register that one.
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT) rc = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0) fail("epoll_ctl");
    handlers_[fd] = Registration{generation, std::make_shared<IoHandler>(std::move(handler))};
}

void EventLoop::set_interest(int fd, std::uint32_t events) {
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = pack(fd, it->second.generation);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) fail("epoll_ctl");
}

void EventLoop::unwatch(int fd) {
    auto it = handlers_.find(fd);
    if (it == handlers_.end()) return;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    handlers_.erase(it);
}

EventLoop::TimerId EventLoop::add_timer(Clock::time_point when, std::function<void()> callback) {
    TimerId id = next_timer_++;
    timers_.emplace(std::make_pair(when, id), std::move(callback));
    timer_due_.emplace(id, when);
    return id;
}

void EventLoop::cancel_timer(TimerId id) {
    auto it = timer_due_.find(id);
    if (it == timer_due_.end()) return;
    timers_.erase(std::make_pair(it->second, id));
    timer_due_.erase(it);
}

std::optional<Clock::time_point> EventLoop::next_timer_due() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first.first;
}

void EventLoop::run_once(std::chrono::milliseconds max_wait) {
    auto now = Clock::now();
    auto wait = max_wait;
    if (!timers_.empty()) {
        auto until_due = std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first.first - now);
        if (until_due < wait) wait = until_due;
    }
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);

    epoll_event events[256];
    int n = epoll_wait(epoll_fd_, events, 256, static_cast<int>(wait.count()));
    if (n < 0 && errno != EINTR) fail("epoll_wait");
    for (int i = 0; i < n; ++i) {
        int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
        auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
        auto it = handlers_.find(fd);
        if (it == handlers_.end() || it->second.generation != generation) continue;
        // Keeps the handler alive even if it unwatches itself.
        std::shared_ptr<IoHandler> handler = it->second.handler;
        (*handler)(events[i].events);
    }

    now = Clock::now();
    while (!timers_.empty() && timers_.begin()->first.first <= now) {
        auto node = timers_.extract(timers_.begin());
        timer_due_.erase(node.key().second);
        node.mapped()();
    }
}

}  // namespace ev::net
