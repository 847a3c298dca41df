#include "net/event_loop.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <vector>

using ev::net::Clock;
using ev::net::EventLoop;
using namespace std::chrono_literals;

TEST(EventLoop, TimersFireInOrderAndCancelledOnesDoNot) {
    EventLoop loop;
    std::vector<int> fired;
    auto now = Clock::now();
    loop.add_timer(now + 20ms, [&] { fired.push_back(2); });
    loop.add_timer(now + 10ms, [&] { fired.push_back(1); });
    auto cancelled = loop.add_timer(now + 15ms, [&] { fired.push_back(99); });
    loop.cancel_timer(cancelled);
    loop.cancel_timer(12345);  // unknown ids are ignored
    auto deadline = Clock::now() + 2s;
    while (fired.size() < 2 && Clock::now() < deadline) loop.run_once(50ms);
    EXPECT_EQ(fired, (std::vector<int>{1, 2}));
    EXPECT_EQ(loop.pending_timers(), 0u);
}

TEST(EventLoop, ReadinessReachesTheHandlerWhichMayUnwatchItself) {
    EventLoop loop;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    int calls = 0;
    loop.watch(fds[0], EPOLLIN, [&](std::uint32_t events) {
        ++calls;
        EXPECT_TRUE(events & EPOLLIN);
        loop.unwatch(fds[0]);
    });
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    loop.run_once(100ms);
    loop.run_once(10ms);  // unwatched: no second call although data is still there
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(loop.watched(), 0u);
    close(fds[0]);
    close(fds[1]);
}

TEST(EventLoop, WaitIsBoundedByTheNextTimer) {
    EventLoop loop;
    bool fired = false;
    loop.add_timer(Clock::now() + 5ms, [&] { fired = true; });
    auto started = Clock::now();
    loop.run_once(1000ms);
    EXPECT_TRUE(fired);
    EXPECT_LT(Clock::now() - started, 500ms);
}

TEST(EventLoop, ExposesItsDescriptorAndNextTimerForAnOuterWait) {
    EventLoop loop;
    EXPECT_FALSE(loop.next_timer_due().has_value());
    auto due = Clock::now() + 50ms;
    auto later = loop.add_timer(due + 1s, [] {});
    loop.add_timer(due, [] {});
    ASSERT_TRUE(loop.next_timer_due().has_value());
    EXPECT_EQ(*loop.next_timer_due(), due);
    loop.cancel_timer(later);
    EXPECT_EQ(*loop.next_timer_due(), due);

    // The epoll descriptor polls readable once a watched fd is ready.
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    loop.watch(fds[0], EPOLLIN, [](std::uint32_t) {});
    pollfd outer{loop.fd(), POLLIN, 0};
    EXPECT_EQ(poll(&outer, 1, 0), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    EXPECT_EQ(poll(&outer, 1, 1000), 1);
    loop.unwatch(fds[0]);
    close(fds[0]);
    close(fds[1]);
}
