// Drives one smtp::Session against a FakeSmtpServer: a SessionOwner that
// hands out recipients from a queue (returned ones go back to its front, as
// the engine's host queue does) and records every answer, return and the
// session's report.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fake_smtp_server.h"
#include "net/event_loop.h"
#include "smtp/session.h"

namespace ev::test {

struct RecordingOwner : smtp::SessionOwner {
    struct Answer {
        smtp::RcptTask task;
        smtp::Meaning meaning;
        smtp::Reply reply;
    };
    struct Returned {
        smtp::RcptTask task;
        smtp::SessionEnd why;
        std::optional<smtp::Reply> reply;
        bool charged;
    };

    std::deque<smtp::RcptTask> queue;
    std::vector<Answer> answered;
    std::vector<Returned> returned;
    std::optional<smtp::SessionReport> report;
    bool requeue_returned = true;

    std::optional<smtp::RcptTask> next_task(bool may_fail_allowed) override {
        if (queue.empty() || (queue.front().may_fail && !may_fail_allowed)) return std::nullopt;
        smtp::RcptTask task = queue.front();
        queue.pop_front();
        return task;
    }
    bool has_work() const override { return !queue.empty(); }
    void task_answered(const smtp::RcptTask& task, smtp::Meaning meaning, const smtp::Reply& reply) override {
        answered.push_back({task, meaning, reply});
    }
    void task_returned(smtp::RcptTask task, smtp::SessionEnd why, const std::optional<smtp::Reply>& reply,
                       bool charged) override {
        returned.push_back({task, why, reply, charged});
        // Only a transaction that was full hands its recipient back for another
        // try within the same session; any other failure ends the session.
        if (requeue_returned && !charged && why == smtp::SessionEnd::TemporaryFailure) queue.push_front(task);
    }
    void session_ended(smtp::Session*, const smtp::SessionReport& r) override { report = r; }

    const Answer* answer_for(const std::string& recipient) const {
        for (const auto& a : answered)
            if (a.task.recipient == recipient) return &a;
        return nullptr;
    }
};

class SessionHarness {
  public:
    SessionHarness() {
        config.helo_name = "probe.test";
        config.connect_timeout = std::chrono::milliseconds(2000);
        config.reply_timeout = std::chrono::milliseconds(2000);
    }

    void add(const std::string& recipient, bool may_fail = true) {
        owner.queue.push_back({next_id_++, recipient, may_fail});
    }

    // Runs a session to `server` until it reports (or `limit` passes: the
    // test then fails on the missing report). Returns the time it took.
    std::chrono::milliseconds run(const net::Endpoint& server,
                                  std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
        auto started = std::chrono::steady_clock::now();
        session = std::make_unique<smtp::Session>(loop, owner, config, server, "mx.fake.test", 0);
        session->start();
        while (!owner.report && std::chrono::steady_clock::now() - started < limit)
            loop.run_once(std::chrono::milliseconds(20));
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    }

    smtp::SessionEnd end() const { return owner.report ? owner.report->end : smtp::SessionEnd::Finished; }

    net::EventLoop loop;
    RecordingOwner owner;
    smtp::SessionConfig config;
    std::unique_ptr<smtp::Session> session;

  private:
    std::uint64_t next_id_ = 1;
};

// An endpoint on 127.0.0.1 where nothing listens.
inline net::Endpoint closed_endpoint() { return *net::make_endpoint("127.0.0.1", closed_port()); }

}  // namespace ev::test
