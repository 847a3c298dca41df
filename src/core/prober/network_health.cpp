#include "prober/network_health.h"

namespace ev::prober {

namespace {

const char* cause_text(SessionOutcome outcome) {
    switch (outcome) {
        case SessionOutcome::ConnectRefused: return "connection refused or unreachable";
        case SessionOutcome::ConnectTimeout: return "connect timed out (is outbound port 25 blocked?)";
        case SessionOutcome::Blocklisted: return "refused at the greeting (is this IP on a blocklist?)";
        default: return "failed";
    }
}

NetworkState state_for(int failing) {
    if (failing >= HealthRecord::kBlockedAt) return NetworkState::Blocked;
    if (failing >= HealthRecord::kDegradedAt) return NetworkState::Degraded;
    return NetworkState::Ok;
}

}  // namespace

const char* to_string(NetworkState state) {
    switch (state) {
        case NetworkState::Degraded: return "degraded";
        case NetworkState::Blocked: return "blocked";
        default: return "ok";
    }
}

NetworkState note_session(HealthRecord& r, std::uint64_t site, std::uint64_t host, SessionOutcome outcome,
                          std::int64_t now_ns) {
    NetworkState before = r.state;
    if (outcome == SessionOutcome::GotThrough) {
        r.failing = 0;
        r.sessions_failed = 0;
        r.first_failure_ns = 0;
        r.last_success_ns = now_ns;
    } else if (outcome != SessionOutcome::Other) {
        ++r.sessions_failed;
        if (r.failing == 0) r.first_failure_ns = now_ns;
        // Distinct hosts of distinct sites: one dead server, or one domain's
        // hosts, are that server's problem, not ours.
        bool seen = false;
        for (int i = 0; i < r.failing; ++i) seen = seen || r.failures[i].site == site || r.failures[i].host == host;
        if (!seen && r.failing < HealthRecord::kRemembered) r.failures[r.failing++] = {site, host, outcome, now_ns};
    }
    r.state = state_for(r.failing);
    if (r.state != before) {
        r.state_since_ns = now_ns;
        if (r.state == NetworkState::Blocked) r.warning_due = true;
    }
    return r.state;
}

std::string health_evidence(const HealthRecord& r, std::int64_t now_ns) {
    if (r.failing == 0) return "SMTP sessions get through";
    int causes[5] = {};
    for (int i = 0; i < r.failing; ++i) ++causes[static_cast<int>(r.failures[i].outcome)];
    auto main_cause = SessionOutcome::ConnectRefused;
    for (auto c : {SessionOutcome::ConnectTimeout, SessionOutcome::Blocklisted})
        if (causes[static_cast<int>(c)] > causes[static_cast<int>(main_cause)]) main_cause = c;
    std::string text = std::to_string(r.failing) + (r.failing >= HealthRecord::kRemembered ? "+" : "") +
                       " MX hosts of distinct domains failed (" + std::to_string(r.sessions_failed) +
                       " sessions), mostly " + cause_text(main_cause) + ", over the last " +
                       std::to_string((now_ns - r.first_failure_ns) / 1000000000) + " s";
    text += r.last_success_ns == 0 ? ", and no session has got through yet" : ", and none got through since";
    return text;
}

}  // namespace ev::prober
