// The engine's verdicts: a task's outcome, a domain's items decided from its
// route and probes, and the deadlines that end what waits too long.
#include <limits>

#include "prober/engine_state.h"
#include "text.h"

namespace ev::prober {

namespace {

std::string message_of(const Reply& reply) {
    std::string text = text::printable_ascii(reply.text);
    if (!reply.enhanced) return text;
    const auto& e = *reply.enhanced;
    std::string code = std::to_string(e.klass) + "." + std::to_string(e.subject) + "." + std::to_string(e.detail);
    return text.empty() ? code : code + " " + text;
}

}  // namespace

void Engine::State::complete(Task& t) {
    if (t.done) return;
    t.done = true;
    Domain& d = *t.domain;
    if (t.catch_all_probe) {
        if (t.meaning == Meaning::Accepted) d.catch_all = true;
        else if (t.meaning == Meaning::MailboxNotFound) d.catch_all = false;
        if (d.catch_all) caches.catch_all.store(d.name, *d.catch_all, Clock::now() + settings.catch_all_ttl);
    }
    if (--d.open_tasks == 0) finalize(d);
}

void Engine::State::finalize(Domain& d) {
    if (d.finalized) return;
    d.finalized = true;
    open_items -= d.items.size();
    NameState& name = names[d.name];
    name.open_items -= d.items.size();
    for (Held& held : d.items) {
        finalize_item(d, held.item);
        name.settled.push_back(held.ticket);
        if (done) done(held.ticket, held.item);
    }
    if (name.open_items == 0) closing.push_back(d.name);
    finished_domains.push_back(d.id);
}

Engine::State::Task* Engine::State::task_of(Domain& d, const OfflineFindings& item) {
    auto found = d.by_recipient.find(item.address.normalized());
    return found == d.by_recipient.end() ? nullptr : found->second;
}

void Engine::State::finalize_item(Domain& d, OfflineFindings& item) const {
    VerificationResult& r = item.result;
    Findings findings = item.findings;
    const dns::MailRoute& route = *d.route;
    r.level = Level::Dns;
    switch (route.outcome) {
        case dns::RouteOutcome::NoDomain: findings.add(Reason::NoDomain); break;
        case dns::RouteOutcome::NullMx: findings.add(Reason::NullMx); break;
        case dns::RouteOutcome::NoMailServer: findings.add(Reason::NoMailServer); break;
        case dns::RouteOutcome::DnsError: findings.add(Reason::DnsError); break;
        case dns::RouteOutcome::Ok: break;
    }
    if (route.outcome == dns::RouteOutcome::DnsError) r.mx_found.reset();
    else r.mx_found = route.outcome == dns::RouteOutcome::Ok;
    if (!route.hosts.empty()) r.mx_host = route.hosts.front().name;

    Task* t = route.outcome == dns::RouteOutcome::Ok && d.level == Level::Smtp ? task_of(d, item) : nullptr;
    if (route.outcome == dns::RouteOutcome::Ok && d.level == Level::Dns) findings.add(Reason::DomainOk);
    bool skipped = d.provider && !probes_mailboxes(*d.provider);
    if (route.outcome == dns::RouteOutcome::Ok && d.level == Level::Smtp && !t && !skipped)
        findings.add(Reason::NoMailServer);
    if (t) {
        r.level = Level::Smtp;
        r.is_catch_all = d.catch_all;
        if (!t->mx_host.empty()) r.mx_host = t->mx_host;
        if (t->reply) {
            r.smtp_code = t->reply->code;
            r.smtp_message = message_of(*t->reply);
        } else if (!t->egress_problem.empty()) {
            r.smtp_message = t->egress_problem;
        }
        if (t->deferred) {
            item.deferred = true;
            r.smtp_message = !t->deferred_why.empty()
                                 ? t->deferred_why
                                 : "not probed: the politeness budget of " + d.site +
                                       " (sessions and rates per MX site, for the whole server) stayed spent";
        }
        if (!t->meaning) {
            findings.add(t->failure);
        } else if (*t->meaning == Meaning::Accepted) {
            findings.add(d.catch_all.value_or(false) ? Reason::CatchAll : Reason::Accepted);
        } else {
            findings.add(smtp::reason_for(*t->meaning).value_or(Reason::TemporaryFailure));
        }
    }
    if (d.provider) apply_provider(*d.provider, t != nullptr, &findings, &r);
    decide(findings, &r);
    r.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - d.created).count();
    // A domain literal's route was never asked of DNS.
    bool dns_answered = route.outcome != dns::RouteOutcome::DnsError && d.name.front() != '[';
    bool smtp_answered = t && (t->meaning || t->reply);
    item.network_answered = dns_answered || smtp_answered;
    item.findings = findings;
}

void Engine::State::sweep_deadlines() {
    auto now = Clock::now();
    const int rate = settings.politeness.host_rcpt_rate;
    // What the RCPT rate lets through within permit_wait; the rest would
    // only wait out its deadline here.
    const std::size_t sendable =
        rate > 0 ? static_cast<std::size_t>(rate_burst(rate) + rate * settings.permit_wait.count() / 60000)
                 : std::numeric_limits<std::size_t>::max();
    for (auto& [key, host] : hosts) {
        if (host->refused_since && now - *host->refused_since >= settings.permit_wait) defer_queue(*host, 0);
        else if (host->queue.size() > sendable) defer_queue(*host, sendable);
    }
    // complete() may settle a domain: its tasks are freed only between turns.
    for (auto& [id, task] : tasks) {
        Task& t = *task;
        if (t.done || !t.first_sent_set || now - t.first_sent < settings.address_timeout) continue;
        t.failure = Reason::Timeout;
        t.meaning.reset();
        complete(t);
    }
}

void Engine::State::defer_queue(Host& h, std::size_t keep, const std::string& why) {
    if (keep == 0) h.refused_since.reset();
    std::deque<std::uint64_t> queued;
    queued.swap(h.queue);
    for (std::uint64_t id : queued) {
        Task* found = find_task(id);
        if (!found || found->done) continue;
        Task& t = *found;
        if (keep > 0) {
            --keep;
            h.queue.push_back(id);
            continue;
        }
        t.failure = Reason::Timeout;
        t.deferred = true;
        t.deferred_why = why;
        t.mx_host = host_name_of(t);
        complete(t);
    }
}

}  // namespace ev::prober
