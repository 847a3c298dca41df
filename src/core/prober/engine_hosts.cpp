// The engine's MX hosts: their queues, sessions, politeness budget (slots
// and rates from HostPermits) and what their sessions teach.
#include <algorithm>

#include "prober/engine_state.h"

namespace ev::prober {

namespace {

Reason reason_for_end(SessionEnd end) {
    switch (end) {
        case SessionEnd::ConnectFailed:
        case SessionEnd::EgressFailed: return Reason::ConnectionFailed;
        case SessionEnd::ConnectTimeout:
        case SessionEnd::ReplyTimeout:
        case SessionEnd::SessionTimeout: return Reason::Timeout;
        case SessionEnd::Blocked:
        case SessionEnd::Refused: return Reason::SmtpBlocked;
        default: return Reason::TemporaryFailure;
    }
}

}  // namespace

void Engine::State::limit_rcpts(const Domain& d, int limit) {
    if (limit <= 0) return;
    for (const auto& e : d.endpoints) {
        Host& h = host_for(d, e);
        if (h.facts.rcpt_limit == 0 || h.facts.rcpt_limit > limit) h.facts.rcpt_limit = limit;
    }
}

Engine::State::Host& Engine::State::host_for(const Domain& d, const Endpoint& e) {
    auto& slot = hosts[e.address.text()];
    if (!slot) {
        slot = std::make_unique<Host>();
        slot->state = this;
        slot->address = e.address;
        slot->name = e.host_name;
        slot->site = d.site;
        slot->facts = permits.facts(e.address.text());
        slot->error_budget.budget = slot->facts.error_budget;
        slot->error_budget.pipelined = slot->facts.error_budget_pipelined;
        slot->error_budget.limit_seen = slot->facts.error_limit_seen;
        if (silent(*slot)) {  // another prober's session timed out there just now
            slot->failed = true;
            slot->failed_at = Clock::now();
            slot->failed_with = Reason::Timeout;
        }
    }
    return *slot;
}

void Engine::State::enqueue(Task& t, bool front) {
    Domain& d = *t.domain;
    while (t.endpoint < d.endpoints.size()) {
        Host& h = host_for(d, d.endpoints[t.endpoint]);
        // A host that failed before this domain's items came is tried
        // again (a new batch would have): it may be back. Not while it is
        // known to be silent (HostFacts::silent_until_ns).
        if (h.failed && h.failed_at < d.created && !silent(h)) h.failed = false;
        if (!h.failed) {
            names[d.name].hosts.insert(&h);
            if (front) h.queue.push_front(t.id);
            else h.queue.push_back(t.id);
            if (!h.wanting) {
                h.wanting = true;
                wanting.push_back(&h);
            }
            pump_needed = true;
            return;
        }
        // Skipped: the host failed since the task's domain came. The task
        // ends as the host's failure says, unless a later host answers.
        if (!t.meaning) {
            t.failure = h.failed_with;
            t.reply = h.failed_reply;
            t.mx_host = d.endpoints[t.endpoint].host_name;
        }
        ++t.endpoint;
    }
    complete(t);
}

void Engine::State::pump() {
    pump_needed = false;
    std::size_t rounds = wanting.size();
    while (rounds-- > 0 && !wanting.empty()) {
        Host* h = wanting.front();
        wanting.pop_front();
        int live = static_cast<int>(h->queue.size());
        int per = std::max(1, settings.recipients_per_extra_session);
        int most = std::min(settings.politeness.max_connections_per_host, std::max(1, (live + per - 1) / per));
        // A session trying a larger error budget works alone: others
        // would only spend the smaller one, a session each.
        auto desired = [h, most] { return h->error_budget.trying ? 1 : most; };
        bool refused = false;
        while (!h->failed && !h->queue.empty() && static_cast<int>(h->sessions.size()) < desired() &&
               sessions_open < settings.politeness.max_connections) {
            Admission admission = permits.open_session(h->target(), settings.politeness, Clock::now());
            if (!admission.granted) {
                refused = true;
                refused_at(*h);
                ask_again_at(*h, admission.retry_at);
                break;
            }
            h->refused_since.reset();
            open_session(*h);
        }
        bool still_wanting =
            !refused && !h->failed && !h->queue.empty() && static_cast<int>(h->sessions.size()) < desired();
        if (still_wanting) wanting.push_back(h);
        else h->wanting = false;
    }
}

void Engine::State::free_held_slots() {
    auto now = Clock::now();
    for (auto& [key, host] : hosts) {
        Host& h = *host;
        if (h.held_until.empty()) continue;
        auto due = std::remove_if(h.held_until.begin(), h.held_until.end(), [&](Clock::time_point t) {
            if (t > now) return false;
            --h.slots_held;
            permits.close_session(h.target());
            return true;
        });
        if (due == h.held_until.end()) continue;
        h.held_until.erase(due, h.held_until.end());
        pump_needed = true;
        if (!h.queue.empty() && !h.wanting) {
            h.wanting = true;
            wanting.push_back(&h);
        }
    }
}

void Engine::State::refused_at(Host& h) {
    if (!h.refused_since) h.refused_since = Clock::now();
}

void Engine::State::ask_again_at(Host& h, Clock::time_point when) {
    if (h.session_timer) return;
    h.session_timer = true;
    loop.add_timer(when, [this, &h] {
        h.session_timer = false;
        if (h.failed || h.queue.empty() || h.wanting) return;
        h.wanting = true;
        wanting.push_back(&h);
        pump_needed = true;
    });
}

void Engine::State::resume_at(Host& h, Clock::time_point when) {
    if (h.rcpt_held) return;
    h.rcpt_held = true;
    loop.add_timer(when, [&h] {
        h.rcpt_held = false;
        // A copy: a resumed session may end and leave the list.
        std::vector<smtp::Session*> open;
        for (auto& s : h.sessions) open.push_back(s.get());
        for (smtp::Session* s : open) s->resume();
    });
}

void Engine::State::open_session(Host& h) {
    smtp::SessionConfig config = settings.session;
    if (h.facts.starttls_broken) config.starttls = false;
    smtp::take_error_budget(h.error_budget, config);
    ++h.slots_held;
    h.sessions.push_back(std::make_unique<smtp::Session>(loop, h, config, h.address, h.name, h.facts.rcpt_limit));
    ++sessions_open;
    ++stats.sessions_opened;
    stats.max_sessions_per_host = std::max(stats.max_sessions_per_host, static_cast<int>(h.sessions.size()));
    h.sessions.back()->start();
}

bool Engine::State::has_work(const Host& h) const {
    for (std::uint64_t id : h.queue) {
        const Task* t = find_task(id);
        if (t && !t->done) return true;
    }
    return false;
}

std::optional<smtp::RcptTask> Engine::State::next_task(Host& h, bool may_fail_allowed) {
    while (!h.queue.empty()) {
        Task* found = find_task(h.queue.front());
        if (!found || found->done) {
            h.queue.pop_front();
            continue;
        }
        Task& t = *found;
        bool fails = may_fail(t);
        if (fails && !may_fail_allowed) return std::nullopt;
        // The recipient's own site: an address several sites lead to spends
        // each one's RCPT budget for its own recipients.
        Admission admission = permits.send_rcpt(t.domain->site, settings.politeness, Clock::now());
        if (!admission.granted) {
            refused_at(h);
            resume_at(h, admission.retry_at);
            return std::nullopt;
        }
        h.refused_since.reset();
        h.queue.pop_front();
        if (!t.first_sent_set) {
            t.first_sent_set = true;
            t.first_sent = Clock::now();
        }
        ++stats.rcpts_sent;
        return smtp::RcptTask{t.id, t.recipient, fails};
    }
    return std::nullopt;
}

std::string Engine::State::host_name_of(const Task& t) {
    const auto& endpoints = t.domain->endpoints;
    return t.endpoint < endpoints.size() ? endpoints[t.endpoint].host_name : std::string();
}

void Engine::State::task_answered(Host&, const smtp::RcptTask& rt, Meaning meaning, const Reply& reply) {
    int klass = reply.klass();
    if (klass == 2) ++stats.rcpt_2xx;
    else if (klass == 4) ++stats.rcpt_4xx;
    else if (klass == 5) ++stats.rcpt_5xx;
    Task* found = find_task(rt.id);
    if (!found || found->done) return;
    Task& t = *found;
    t.meaning = meaning;
    t.reply = reply;
    t.mx_host = host_name_of(t);
    complete(t);
}

void Engine::State::task_returned(Host& h, const smtp::RcptTask& rt, SessionEnd why, const std::optional<Reply>& reply,
                                  bool charged) {
    Task* found = find_task(rt.id);
    if (!found || found->done) return;
    Task& t = *found;
    t.egress_problem.clear();
    t.failure = reason_for_end(why);
    t.reply = reply;
    t.mx_host = host_name_of(t);
    if (charged && ++t.attempts >= settings.max_attempts) return complete(t);
    if (h.failed) ++t.endpoint;
    enqueue(t, /*front=*/true);
}

void Engine::State::session_ended(Host& h, smtp::Session* session, const smtp::SessionReport& report) {
    auto it = std::find_if(h.sessions.begin(), h.sessions.end(), [&](auto& s) { return s.get() == session; });
    if (it != h.sessions.end()) {
        graveyard.push_back(std::move(*it));
        h.sessions.erase(it);
        --sessions_open;
        if (report.notice_ms > 0) {
            h.held_until.push_back(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double, std::milli>(report.notice_ms)));
        } else {
            --h.slots_held;
            permits.close_session(h.target());
        }
    }
    count_session(report);
    if (caches.health) caches.health->session_outcome(h.site, h.address.text(), outcome_of(report));
    if (report.used_tls) {
        ++stats.tls_sessions;
        if (!report.certificate_problem.empty()) ++stats.tls_unverified;
    }
    smtp::learn_error_budget(h.error_budget, report.errors, settings.session);
    learn(h, report);
    pump_needed = true;
    if (report.end == SessionEnd::Finished || report.rcpts_answered > 0) {
        // Progress: reconnect for whatever is left (error budget spent, replies slowed, 421 too many errors).
        if (!h.queue.empty() && !h.wanting) {
            h.wanting = true;
            wanting.push_back(&h);
        }
        return;
    }
    if (report.end == SessionEnd::LocalResources) {
        // This process is out of sockets: nothing the host did. Its
        // recipients go back for later, no attempt counted.
        defer_queue(h, 0, "not probed: no socket could be opened here (" + report.detail + ")");
        return;
    }
    if (report.end == SessionEnd::TlsFailed && !h.facts.starttls_broken) {
        h.facts.starttls_broken = true;  // try again in the clear
        permits.learn(h.address.text(), h.facts);
        if (!h.wanting && !h.queue.empty()) {
            h.wanting = true;
            wanting.push_back(&h);
        }
        return;
    }
    fail_host(h, report);
}

SessionOutcome Engine::State::outcome_of(const smtp::SessionReport& report) {
    switch (report.end) {
        case SessionEnd::ConnectFailed: return SessionOutcome::ConnectRefused;
        case SessionEnd::ConnectTimeout: return SessionOutcome::ConnectTimeout;
        case SessionEnd::Blocked:
            if (report.rcpts_answered == 0) return SessionOutcome::Blocklisted;
            break;
        default: break;
    }
    return report.banner_ms >= 0 ? SessionOutcome::GotThrough : SessionOutcome::Other;
}

void Engine::State::count_session(const smtp::SessionReport& report) {
    if (report.connect_ms >= 0) stats.connect_ms.note(report.connect_ms);
    if (report.banner_ms >= 0) stats.banner_ms.note(report.banner_ms);
    for (double ms : report.rcpt_ms) stats.rcpt_ms.note(ms);
    switch (report.end) {
        case SessionEnd::ConnectFailed: ++stats.connect_refused; break;
        case SessionEnd::ConnectTimeout: ++stats.connect_timeouts; break;
        case SessionEnd::ReplyTimeout: ++stats.reply_timeouts; break;
        case SessionEnd::TlsFailed: ++stats.tls_failures; break;
        case SessionEnd::Blocked: ++stats.blocked; break;
        case SessionEnd::Dropped:
        case SessionEnd::ServiceClosing: ++stats.dropped; break;
        default: break;
    }
}

void Engine::State::learn(Host& h, const smtp::SessionReport& report) {
    HostFacts learned = h.facts;
    if (report.learned_rcpt_limit > 0) learned.rcpt_limit = report.learned_rcpt_limit;
    if (report.rcpts_answered > 0) learned.pipelining = report.pipelining;
    learned.error_budget = h.error_budget.budget;
    learned.error_budget_pipelined = h.error_budget.pipelined;
    learned.error_limit_seen = h.error_budget.limit_seen;
    if (learned == h.facts) return;
    h.facts = learned;
    permits.learn(h.address.text(), learned);
}

bool Engine::State::silent(const Host& h) const {
    return to_ns(Clock::now()) < h.facts.silent_until_ns &&
           settings.session.reply_timeout.count() <= h.facts.silent_after_ms;
}

void Engine::State::fail_host(Host& h, const smtp::SessionReport& report) {
    h.failed = true;
    h.failed_at = Clock::now();
    bool timed_out = report.end == SessionEnd::ReplyTimeout || report.end == SessionEnd::SessionTimeout;
    if (timed_out && report.rcpts_answered == 0) {
        h.facts.silent_until_ns = to_ns(h.failed_at + 2 * settings.session.reply_timeout);
        h.facts.silent_after_ms = settings.session.reply_timeout.count();
        permits.learn(h.address.text(), h.facts);
    }
    h.failed_with = reason_for_end(report.end);
    h.failed_reply = report.reply;
    std::deque<std::uint64_t> queued;
    queued.swap(h.queue);
    for (std::uint64_t id : queued) {
        Task* found = find_task(id);
        if (!found || found->done) continue;
        Task& t = *found;
        t.failure = reason_for_end(report.end);
        t.reply = report.reply;
        t.egress_problem = report.end == SessionEnd::EgressFailed ? report.detail : std::string();
        t.mx_host = host_name_of(t);
        ++t.endpoint;
        enqueue(t);
    }
}

}  // namespace ev::prober
