#include "prober/engine.h"

#include <openssl/rand.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "net/event_loop.h"
#include "smtp/session.h"
#include "text.h"

namespace ev::prober {

using net::Clock;
using smtp::Meaning;
using smtp::Reply;
using smtp::SessionEnd;

namespace {

constexpr auto kTurn = std::chrono::milliseconds(50);  // upper bound between polls
constexpr auto kSweepEvery = std::chrono::milliseconds(200);
constexpr auto kQuitLinger = std::chrono::milliseconds(1000);
// Each route is an MX query and an A and AAAA query per MX target.
constexpr int kRoutesInFlight = 64;

// 16 random characters: a local part nobody has, and nobody can predict.
std::string random_local_part() {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    std::string local;
    for (unsigned char b : bytes) local += alphabet[b % 36];
    return local;
}

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

std::string message_of(const Reply& reply) {
    std::string text = text::printable_ascii(reply.text);
    if (!reply.enhanced) return text;
    const auto& e = *reply.enhanced;
    std::string code = std::to_string(e.klass) + "." + std::to_string(e.subject) + "." + std::to_string(e.detail);
    return text.empty() ? code : code + " " + text;
}

// "[192.0.2.1]" / "[IPv6:2001:db8::1]" -> the address inside.
std::string literal_ip(const std::string& domain) {
    std::string inside = domain.substr(1, domain.size() - 2);
    if (inside.size() > 5 && text::iequals_ascii(inside.substr(0, 5), "IPv6:")) inside = inside.substr(5);
    return inside;
}

}  // namespace

struct Engine::State {
    struct Domain;
    struct Host;

    // One distinct recipient (or a domain's catch-all probe) and its outcome.
    struct Task {
        std::uint64_t id = 0;
        Domain* domain = nullptr;
        std::string recipient;
        bool catch_all_probe = false;
        std::vector<std::size_t> items;
        std::size_t endpoint = 0;  // index into domain->endpoints
        int attempts = 0;
        bool first_sent_set = false;
        bool deferred = false;  // ended unprobed: the site's budget stayed spent
        Clock::time_point first_sent;
        bool done = false;
        // outcome
        std::optional<Meaning> meaning;  // set when the server answered
        Reason failure = Reason::TemporaryFailure;
        std::optional<Reply> reply;
        std::string mx_host;
        // Why the probe could not leave (a source address, the SOCKS5 proxy):
        // no server said anything, so this explains the verdict instead.
        std::string egress_problem;
    };

    struct Endpoint {
        net::Endpoint address;
        std::string host_name;
    };

    struct Domain {
        std::string name;
        std::vector<std::size_t> items;
        std::shared_ptr<const dns::MailRoute> route;
        std::vector<Endpoint> endpoints;
        std::unordered_map<std::string, Task*> by_recipient;
        std::optional<bool> catch_all;
        std::string site;  // the MX rollup whose politeness budget the domain's probes use
        Clock::time_point route_asked{};
        const Provider* provider = nullptr;  // of its most preferred MX host, at level smtp
        int open_tasks = 0;
        bool finalized = false;
    };

    // One MX address as one site reaches it: the unit of sessions and queues.
    struct Host : smtp::SessionOwner {
        State* state = nullptr;
        net::Endpoint address;
        std::string name;
        std::string site;
        std::deque<std::uint64_t> queue;
        std::vector<std::unique_ptr<smtp::Session>> sessions;
        bool failed = false;
        bool wanting = false;
        HostFacts facts;     // as learned by every prober (HostPermits::facts)
        int slots_held = 0;  // session slots taken from the permits
        // Politeness: the site's budget refused us; a timer asks again.
        bool session_timer = false;
        bool rcpt_held = false;
        std::optional<Clock::time_point> refused_since;
        smtp::ErrorBudgetFact error_budget;  // loaded from facts; `trying` is this run's own

        std::optional<smtp::RcptTask> next_task(bool may_fail_allowed) override {
            return state->next_task(*this, may_fail_allowed);
        }
        bool has_work() const override { return state->has_work(*this); }
        bool holding_back() const override { return rcpt_held; }
        void task_answered(const smtp::RcptTask& t, Meaning m, const Reply& r) override {
            state->task_answered(*this, t, m, r);
        }
        void task_returned(smtp::RcptTask t, SessionEnd why, const std::optional<Reply>& r, bool charged) override {
            state->task_returned(*this, t, why, r, charged);
        }
        void session_ended(smtp::Session* s, const smtp::SessionReport& report) override {
            state->session_ended(*this, s, report);
        }
    };

    State(const ProbeSettings& s, ProberCaches& c, RunStats& st)
        : settings(s),
          caches(c),
          permits(*c.permits),
          stats(st),
          resolver(loop, s.dns),
          routes(resolver, c.routes, s.routes) {}

    // Slots still held (a poll abandoned the run) go back to the server.
    ~State() {
        for (auto& [key, host] : hosts)
            for (; host->slots_held > 0; --host->slots_held) try {
                    permits.close_session(host->site);
                } catch (...) {
                    // Shared memory gone with the server: nothing to give back.
                }
    }

    const ProbeSettings& settings;
    ProberCaches& caches;
    HostPermits& permits;
    RunStats& stats;
    // Declaration order is destruction order in reverse: sessions and the
    // resolver go before the loop they are registered with.
    net::EventLoop loop;
    dns::Resolver resolver;
    dns::RouteResolver routes;
    std::vector<OfflineFindings>* items = nullptr;
    Settled settled;
    Level level = Level::Dns;
    Clock::time_point started;
    std::unordered_map<std::string, std::unique_ptr<Domain>> domains;
    std::unordered_map<std::uint64_t, std::unique_ptr<Task>> tasks;
    std::unordered_map<std::string, std::unique_ptr<Host>> hosts;
    std::deque<Host*> wanting;
    std::vector<Domain*> route_queue;
    std::size_t next_route = 0;
    int routes_in_flight = 0;
    std::vector<std::unique_ptr<smtp::Session>> graveyard;
    std::uint64_t next_task_id = 1;
    int open_domains = 0;
    int sessions_open = 0;
    bool pump_needed = false;

    // ---- setup -------------------------------------------------------

    void start(std::vector<OfflineFindings>& all, Level lvl) {
        items = &all;
        level = lvl;
        started = Clock::now();
        for (std::size_t i = 0; i < all.size(); ++i) {
            const ParsedAddress& a = all[i].address;
            if (!a.ok()) continue;
            auto& slot = domains[a.domain];
            if (!slot) {
                slot = std::make_unique<Domain>();
                slot->name = a.domain;
                ++open_domains;
            }
            slot->items.push_back(i);
        }
        for (auto& [name, domain] : domains) route_queue.push_back(domain.get());
        start_routes();
    }

    // Keeps at most kRoutesInFlight route lookups out at once: thousands of
    // simultaneous queries overflow the resolver's socket buffers, and the
    // retries that follow are slower than waiting (and end as dns_error).
    void start_routes() {
        while (routes_in_flight < kRoutesInFlight && next_route < route_queue.size()) {
            Domain* d = route_queue[next_route++];
            if (d->name.front() == '[') {
                on_route(*d, literal_route(d->name));
                continue;
            }
            ++routes_in_flight;
            d->route_asked = Clock::now();
            routes.resolve(d->name, [this, d](std::shared_ptr<const dns::MailRoute> r) {
                --routes_in_flight;
                stats.dns_ms.note(std::chrono::duration<double, std::milli>(Clock::now() - d->route_asked).count());
                if (r->outcome == dns::RouteOutcome::DnsError) ++stats.dns_failures;
                on_route(*d, std::move(r));
            });
        }
    }

    static std::shared_ptr<const dns::MailRoute> literal_route(const std::string& domain) {
        auto route = std::make_shared<dns::MailRoute>();
        route->outcome = dns::RouteOutcome::Ok;
        route->hosts.push_back({domain, 0, {literal_ip(domain)}});
        return route;
    }

    void on_route(Domain& d, std::shared_ptr<const dns::MailRoute> route) {
        d.route = std::move(route);
        if (level == Level::Dns || d.route->outcome != dns::RouteOutcome::Ok) return finalize(d);
        std::vector<std::string> mx_names;
        for (const auto& host : d.route->hosts) mx_names.push_back(host.name);
        d.site = site_of(std::move(mx_names));
        if (settings.providers) d.provider = settings.providers->for_route(*d.route);
        if (d.provider && !probes_mailboxes(*d.provider)) return finalize(d);
        for (const auto& host : d.route->hosts)
            for (const auto& ip : host.ips)
                if (auto e = net::make_endpoint(ip, settings.smtp_port)) d.endpoints.push_back({*e, host.name});
        if (d.endpoints.empty()) return finalize(d);
        if (d.provider) limit_rcpts(d, rcpt_limit_for(*d.provider));

        // A provider known to accept anything needs no probe to say so.
        if (d.provider && assumes_catch_all(*d.provider)) d.catch_all = true;
        else d.catch_all = caches.catch_all.find(d.name, Clock::now());
        if (!d.catch_all) {
            Task& probe = new_task(d, random_local_part() + "@" + d.name);
            probe.catch_all_probe = true;
            ++stats.catch_all_probes;
            enqueue(probe);
        }
        for (std::size_t i : d.items) {
            std::string recipient = (*items)[i].address.normalized();
            auto found = d.by_recipient.find(recipient);
            if (found != d.by_recipient.end()) {
                found->second->items.push_back(i);
                continue;
            }
            Task& t = new_task(d, recipient);
            t.items.push_back(i);
            d.by_recipient.emplace(recipient, &t);
            enqueue(t);
        }
    }

    Task& new_task(Domain& d, std::string recipient) {
        auto task = std::make_unique<Task>();
        task->id = next_task_id++;
        task->domain = &d;
        task->recipient = std::move(recipient);
        Task& ref = *task;
        tasks.emplace(ref.id, std::move(task));
        ++d.open_tasks;
        return ref;
    }

    // ---- hosts and sessions -------------------------------------------

    // What a provider is known to take per transaction, before a 452 teaches it.
    void limit_rcpts(const Domain& d, int limit) {
        if (limit <= 0) return;
        for (const auto& e : d.endpoints) {
            Host& h = host_for(d, e);
            if (h.facts.rcpt_limit == 0 || h.facts.rcpt_limit > limit) h.facts.rcpt_limit = limit;
        }
    }

    Host& host_for(const Domain& d, const Endpoint& e) {
        auto& slot = hosts[d.site + ' ' + e.address.text()];
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
        }
        return *slot;
    }

    // Puts the task on the queue of its current endpoint, skipping hosts
    // already known dead; out of endpoints, the task ends with `failure`.
    void enqueue(Task& t, bool front = false) {
        Domain& d = *t.domain;
        while (t.endpoint < d.endpoints.size()) {
            Host& h = host_for(d, d.endpoints[t.endpoint]);
            if (!h.failed) {
                if (front) h.queue.push_front(t.id);
                else h.queue.push_back(t.id);
                if (!h.wanting) {
                    h.wanting = true;
                    wanting.push_back(&h);
                }
                pump_needed = true;
                return;
            }
            ++t.endpoint;
        }
        complete(t);
    }

    void pump() {
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
                Admission admission = permits.open_session(h->site, settings.politeness, Clock::now());
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

    static void refused_at(Host& h) {
        if (!h.refused_since) h.refused_since = Clock::now();
    }

    // The site refused a session: its sessions are asked for again when the
    // budget may allow one (one timer per host at a time).
    void ask_again_at(Host& h, Clock::time_point when) {
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

    // The site's RCPT rate was spent: the host's sessions idle until then.
    void resume_at(Host& h, Clock::time_point when) {
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

    void open_session(Host& h) {
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

    bool has_work(const Host& h) const {
        for (std::uint64_t id : h.queue)
            if (!tasks.at(id)->done) return true;
        return false;
    }

    // A recipient can be refused unless its domain is known to take anything.
    static bool may_fail(const Task& t) { return t.catch_all_probe || t.domain->catch_all != true; }

    std::optional<smtp::RcptTask> next_task(Host& h, bool may_fail_allowed) {
        while (!h.queue.empty()) {
            Task& t = *tasks.at(h.queue.front());
            if (t.done) {
                h.queue.pop_front();
                continue;
            }
            bool fails = may_fail(t);
            if (fails && !may_fail_allowed) return std::nullopt;
            Admission admission = permits.send_rcpt(h.site, settings.politeness, Clock::now());
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

    // The MX name as the task's own domain published it (hosts are shared by
    // address, and two domains may name one address differently).
    static std::string host_name_of(const Task& t) {
        const auto& endpoints = t.domain->endpoints;
        return t.endpoint < endpoints.size() ? endpoints[t.endpoint].host_name : std::string();
    }

    void task_answered(Host&, const smtp::RcptTask& rt, Meaning meaning, const Reply& reply) {
        int klass = reply.klass();
        if (klass == 2) ++stats.rcpt_2xx;
        else if (klass == 4) ++stats.rcpt_4xx;
        else if (klass == 5) ++stats.rcpt_5xx;
        Task& t = *tasks.at(rt.id);
        if (t.done) return;
        t.meaning = meaning;
        t.reply = reply;
        t.mx_host = host_name_of(t);
        complete(t);
    }

    void task_returned(Host& h, const smtp::RcptTask& rt, SessionEnd why, const std::optional<Reply>& reply,
                       bool charged) {
        Task& t = *tasks.at(rt.id);
        if (t.done) return;
        t.egress_problem.clear();
        t.failure = reason_for_end(why);
        t.reply = reply;
        t.mx_host = host_name_of(t);
        if (charged && ++t.attempts >= settings.max_attempts) return complete(t);
        if (h.failed) ++t.endpoint;
        enqueue(t, /*front=*/true);
    }

    void session_ended(Host& h, smtp::Session* session, const smtp::SessionReport& report) {
        auto it = std::find_if(h.sessions.begin(), h.sessions.end(), [&](auto& s) { return s.get() == session; });
        if (it != h.sessions.end()) {
            graveyard.push_back(std::move(*it));
            h.sessions.erase(it);
            --sessions_open;
            --h.slots_held;
            permits.close_session(h.site);
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

    // What a session says of our own network (network_health.h).
    static SessionOutcome outcome_of(const smtp::SessionReport& report) {
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

    void count_session(const smtp::SessionReport& report) {
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

    // What the session taught about its server, for every prober's next sessions.
    void learn(Host& h, const smtp::SessionReport& report) {
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

    // The host could not be talked to: its recipients move on to the next
    // MX address of their domain, or end with this host's failure.
    void fail_host(Host& h, const smtp::SessionReport& report) {
        h.failed = true;
        std::deque<std::uint64_t> queued;
        queued.swap(h.queue);
        for (std::uint64_t id : queued) {
            Task& t = *tasks.at(id);
            if (t.done) continue;
            t.failure = reason_for_end(report.end);
            t.reply = report.reply;
            t.egress_problem = report.end == SessionEnd::EgressFailed ? report.detail : std::string();
            t.mx_host = host_name_of(t);
            ++t.endpoint;
            enqueue(t);
        }
    }

    // ---- verdicts -------------------------------------------------------

    void complete(Task& t) {
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

    void finalize(Domain& d) {
        if (d.finalized) return;
        d.finalized = true;
        --open_domains;
        for (std::size_t i : d.items) {
            finalize_item(d, (*items)[i]);
            if (settled) settled(i);
        }
    }

    Task* task_of(Domain& d, const OfflineFindings& item) {
        auto found = d.by_recipient.find(item.address.normalized());
        return found == d.by_recipient.end() ? nullptr : found->second;
    }

    void finalize_item(Domain& d, OfflineFindings& item) {
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

        Task* t = route.outcome == dns::RouteOutcome::Ok && level == Level::Smtp ? task_of(d, item) : nullptr;
        if (route.outcome == dns::RouteOutcome::Ok && level == Level::Dns) findings.add(Reason::DomainOk);
        bool skipped = d.provider && !probes_mailboxes(*d.provider);
        if (route.outcome == dns::RouteOutcome::Ok && level == Level::Smtp && !t && !skipped)
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
                r.smtp_message = "not probed: the politeness budget of " + d.site +
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
        r.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
        // A domain literal's route was never asked of DNS.
        bool dns_answered = route.outcome != dns::RouteOutcome::DnsError && d.name.front() != '[';
        bool smtp_answered = t && (t->meaning || t->reply);
        item.network_answered = dns_answered || smtp_answered;
        item.findings = findings;
    }

    // Addresses whose first RCPT went out longer ago than address_timeout end
    // as timeouts, wherever their recipient currently is.
    void sweep_deadlines() {
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
        for (auto& [id, task] : tasks) {
            Task& t = *task;
            if (t.done || !t.first_sent_set || now - t.first_sent < settings.address_timeout) continue;
            t.failure = Reason::Timeout;
            t.meaning.reset();
            complete(t);
        }
    }

    // The site's budget stayed spent past permit_wait, or will not reach the
    // queue's tail within it: what waits beyond the first `keep` recipients
    // ends unprobed, to be asked again later (sessions already open go on).
    void defer_queue(Host& h, std::size_t keep) {
        if (keep == 0) h.refused_since.reset();
        std::deque<std::uint64_t> queued;
        queued.swap(h.queue);
        for (std::uint64_t id : queued) {
            Task& t = *tasks.at(id);
            if (t.done) continue;
            if (keep > 0) {
                --keep;
                h.queue.push_back(id);
                continue;
            }
            t.failure = Reason::Timeout;
            t.deferred = true;
            t.mx_host = host_name_of(t);
            complete(t);
        }
    }

    void run(const Poll& poll) {
        auto next_sweep = Clock::now() + kSweepEvery;
        while (open_domains > 0) {
            if (poll) poll();
            start_routes();
            if (pump_needed) pump();
            loop.run_once(pump_needed ? std::chrono::milliseconds(0) : kTurn);
            graveyard.clear();
            if (Clock::now() >= next_sweep) {
                sweep_deadlines();
                next_sweep = Clock::now() + kSweepEvery;
            }
        }
        // Let sessions say QUIT and hear 221, briefly; then close what is left.
        auto linger_until = Clock::now() + kQuitLinger;
        while (sessions_open > 0 && Clock::now() < linger_until) {
            if (poll) poll();
            loop.run_once(kTurn);
            graveyard.clear();
        }
        for (auto& [name, host] : hosts) {
            auto open = std::move(host->sessions);
            for (auto& s : open) s->abort(SessionEnd::Finished);
        }
        graveyard.clear();
    }
};

Engine::Engine(const ProbeSettings& settings, ProberCaches& caches)
    : state_(std::make_unique<State>(settings, caches, stats_)) {}

Engine::~Engine() = default;

void Engine::run(std::vector<OfflineFindings>& items, Level level, const Poll& poll, Settled settled) {
    if (level == Level::Syntax) return;
    state_->settled = std::move(settled);
    state_->start(items, level);
    state_->run(poll);
}

}  // namespace ev::prober
