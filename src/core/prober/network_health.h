// The prober's own network health: when outbound port 25 is blocked, or the
// egress IP is refused everywhere, every probe fails the same way, and the
// verdicts would say "unknown" by the thousand about addresses that are fine.
// Sessions report how they went; when ten or more distinct MX hosts of
// distinct sites failed to connect (refused, timed out) or greeted with a
// blocklist 554, with no session getting through in between, the network is
// judged blocked (three: degraded). One session that gets through makes it ok.
//
// The record is plain data so that the PostgreSQL layer can keep it in
// shared memory, for every backend and worker together.
#pragma once

#include <cstdint>
#include <string>

namespace ev::prober {

enum class NetworkState : std::uint8_t { Ok, Degraded, Blocked };
const char* to_string(NetworkState state);

enum class SessionOutcome : std::uint8_t {
    GotThrough,      // a banner other than a refusal: the network works
    ConnectRefused,  // refused or unreachable
    ConnectTimeout,
    Blocklisted,  // 554 banner or 5.7.x: this IP is refused
    Other,        // says nothing about our network
};

struct HealthRecord {
    static constexpr int kRemembered = 16;
    static constexpr int kDegradedAt = 3;
    static constexpr int kBlockedAt = 10;
    struct Failure {
        std::uint64_t site;  // hashes: only distinctness matters
        std::uint64_t host;
        SessionOutcome outcome;
        std::int64_t at_ns;
    };
    Failure failures[kRemembered];
    int failing = 0;  // distinct failures since the last session that got through
    std::int64_t last_success_ns = 0;
    std::int64_t first_failure_ns = 0;
    std::uint64_t sessions_failed = 0;  // since the last success, all of them
    NetworkState state = NetworkState::Ok;
    std::int64_t state_since_ns = 0;
    bool warning_due = false;  // entered Blocked; the first to see it says so, once
};

// Takes one session's outcome; returns the state afterwards.
NetworkState note_session(HealthRecord& record, std::uint64_t site, std::uint64_t host, SessionOutcome outcome,
                          std::int64_t now_ns);

// Why the record says what it says, in a sentence for the view, the log
// and the verdicts.
std::string health_evidence(const HealthRecord& record, std::int64_t now_ns);

// Where sessions report (the server's shared record, in the PostgreSQL layer).
class HealthSink {
  public:
    virtual ~HealthSink() = default;
    virtual void session_outcome(const std::string& site, const std::string& host, SessionOutcome outcome) = 0;
};

}  // namespace ev::prober
