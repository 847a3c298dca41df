#include "prober/host_permits.h"

#include <algorithm>
#include <cmath>

namespace ev::prober {

namespace {

constexpr std::int64_t kNsPerMinute = 60LL * 1000 * 1000 * 1000;
// A slot held by another prober frees without telling anyone: look again
// this often (a timer, not a spin; the process sleeps in between).
constexpr auto kSlotRecheck = std::chrono::milliseconds(50);

}  // namespace

std::int64_t to_ns(SteadyTime t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

SteadyTime from_ns(std::int64_t ns) {
    return SteadyTime(std::chrono::duration_cast<SteadyTime::duration>(std::chrono::nanoseconds(ns)));
}

int rate_burst(int per_minute) { return std::max(1, per_minute / 60); }

std::int64_t take_rate_token(RateCell& cell, std::int64_t now_ns, int per_minute, bool burst) {
    if (per_minute <= 0) return 0;
    // "per_minute" is a promise about any 60 s, bursts included: a burst of
    // B back to back and then one an interval leaves room for 60 s /
    // interval more, so the interval is 60 s / (per_minute - B + 1) (the
    // same as 60 s / per_minute when B is 1, below 120 a minute).
    const std::int64_t interval = kNsPerMinute / (per_minute - rate_burst(per_minute) + 1);
    // The cell may be `burst` intervals ahead of now, no more.
    const std::int64_t tolerance = interval * (rate_burst(per_minute) - 1);
    // Without a burst the cell is never behind now + tolerance: one an interval.
    const std::int64_t tat = std::max(cell.theoretical_arrival_ns, burst ? now_ns : now_ns + tolerance);
    const std::int64_t earliest = tat - tolerance;
    if (now_ns < earliest) return earliest - now_ns;
    cell.theoretical_arrival_ns = tat + interval;
    return 0;
}

std::string site_of(std::vector<std::string> mx_names) {
    for (auto& name : mx_names) {
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (!name.empty() && name.back() == '.') name.pop_back();
    }
    std::sort(mx_names.begin(), mx_names.end());
    mx_names.erase(std::unique(mx_names.begin(), mx_names.end()), mx_names.end());
    std::string site;
    for (const auto& name : mx_names) {
        if (!site.empty()) site += ',';
        site += name;
    }
    return site;
}

Admission admit_session(int& site_sessions, int& address_sessions, int& all_sessions, RateCell& session_rate,
                        const PolitenessLimits& limits, SteadyTime now) {
    if (site_sessions >= limits.max_connections_per_host || address_sessions >= limits.max_connections_per_host ||
        all_sessions >= limits.max_connections)
        return {false, now + kSlotRecheck};
    std::int64_t wait = take_rate_token(session_rate, to_ns(now), limits.host_session_rate);
    if (wait > 0) return {false, now + std::chrono::nanoseconds(wait)};
    ++site_sessions;
    ++address_sessions;
    ++all_sessions;
    return {true, now};
}

Admission admit_rcpt(RateCell& rcpt_rate, const PolitenessLimits& limits, SteadyTime now, bool burst) {
    std::int64_t wait = take_rate_token(rcpt_rate, to_ns(now), limits.host_rcpt_rate, burst);
    if (wait > 0) return {false, now + std::chrono::nanoseconds(wait)};
    return {true, now};
}

Admission LocalHostPermits::open_session(const SessionTarget& target, const PolitenessLimits& limits, SteadyTime now) {
    Site& s = sites_[target.site];
    return admit_session(s.sessions_open, address_sessions_[target.address], sessions_open_, s.session_rate, limits,
                         now);
}

void LocalHostPermits::close_session(const SessionTarget& target) {
    auto it = sites_.find(target.site);
    if (it == sites_.end() || it->second.sessions_open == 0) return;
    --it->second.sessions_open;
    --address_sessions_[target.address];
    --sessions_open_;
}

Admission LocalHostPermits::send_rcpt(const std::string& site, const PolitenessLimits& limits, SteadyTime now) {
    return admit_rcpt(sites_[site].rcpt_rate, limits, now, bursts_);
}

HostFacts LocalHostPermits::facts(const std::string& server) {
    auto it = facts_.find(server);
    return it == facts_.end() ? HostFacts{} : it->second;
}

void LocalHostPermits::learn(const std::string& server, const HostFacts& facts) { facts_[server] = facts; }

int LocalHostPermits::open_sessions(const std::string& site_or_address) const {
    auto site = sites_.find(site_or_address);
    if (site != sites_.end()) return site->second.sessions_open;
    auto address = address_sessions_.find(site_or_address);
    return address == address_sessions_.end() ? 0 : address->second;
}

void LocalHostPermits::clear() {
    // Open sessions keep their slots: only what was learned is forgotten.
    for (auto& [name, s] : sites_) s.session_rate = s.rcpt_rate = RateCell{};
    facts_.clear();
}

}  // namespace ev::prober
