#include "prober/engine.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "prober/engine_state.h"
#include "text.h"

namespace ev::prober {

namespace {

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

// "[192.0.2.1]" / "[IPv6:2001:db8::1]" -> the address inside.
std::string literal_ip(const std::string& domain) {
    std::string inside = domain.substr(1, domain.size() - 2);
    if (inside.size() > 5 && text::iequals_ascii(inside.substr(0, 5), "IPv6:")) inside = inside.substr(5);
    return inside;
}

}  // namespace

void Engine::State::add(std::uint64_t ticket, OfflineFindings item, Level level) {
    const std::string name = item.address.domain;
    std::string key = std::string(to_string(level)) + ' ' + name;
    Domain*& gathered = gathering[key];
    if (!gathered) {
        auto fresh = std::make_unique<Domain>();
        fresh->id = next_domain_id++;
        fresh->name = name;
        fresh->level = level;
        fresh->created = Clock::now();
        gathered = fresh.get();
        route_queue.push_back(fresh.get());
        domains.emplace(fresh->id, std::move(fresh));
    }
    ++names[name].open_items;
    gathered->items.push_back({ticket, std::move(item)});
    ++open_items;
}

void Engine::State::start_routes() {
    while (routes_in_flight < kRoutesInFlight && !route_queue.empty()) {
        Domain* d = route_queue.front();
        route_queue.pop_front();
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

std::shared_ptr<const dns::MailRoute> Engine::State::literal_route(const std::string& domain) {
    auto route = std::make_shared<dns::MailRoute>();
    route->outcome = dns::RouteOutcome::Ok;
    route->hosts.push_back({domain, 0, {literal_ip(domain)}});
    return route;
}

void Engine::State::on_route(Domain& d, std::shared_ptr<const dns::MailRoute> route) {
    auto gathered = gathering.find(std::string(to_string(d.level)) + ' ' + d.name);
    if (gathered != gathering.end() && gathered->second == &d) gathering.erase(gathered);
    d.route = std::move(route);
    if (d.level == Level::Dns || d.route->outcome != dns::RouteOutcome::Ok) return finalize(d);
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
    // A task can end as it is enqueued (its hosts failed since the domain's
    // items came): the domain must not settle before all its tasks exist.
    ++d.open_tasks;
    if (!d.catch_all) {
        Task& probe = new_task(d, random_local_part() + "@" + d.name);
        probe.catch_all_probe = true;
        ++stats.catch_all_probes;
        enqueue(probe);
    }
    for (std::size_t k = 0; k < d.items.size(); ++k) add_task(d, k);
    if (--d.open_tasks == 0) finalize(d);
}

void Engine::State::add_task(Domain& d, std::size_t k) {
    std::string recipient = d.items[k].item.address.normalized();
    if (d.by_recipient.count(recipient) > 0) return;
    Task& t = new_task(d, recipient);
    d.by_recipient.emplace(std::move(recipient), &t);
    enqueue(t);
}

Engine::State::Task& Engine::State::new_task(Domain& d, std::string recipient) {
    auto task = std::make_unique<Task>();
    task->id = next_task_id++;
    task->domain = &d;
    task->recipient = std::move(recipient);
    Task& ref = *task;
    tasks.emplace(ref.id, std::move(task));
    d.task_ids.push_back(ref.id);
    ++d.open_tasks;
    return ref;
}

Engine::State::Task* Engine::State::find_task(std::uint64_t id) const {
    auto found = tasks.find(id);
    return found == tasks.end() ? nullptr : found->second.get();
}

void Engine::State::free_finished() {
    for (std::uint64_t id : finished_domains) {
        auto found = domains.find(id);
        if (found == domains.end()) continue;
        for (std::uint64_t task : found->second->task_ids) tasks.erase(task);
        domains.erase(found);
    }
    finished_domains.clear();
}

void Engine::State::release_quiet_names() {
    if (closing.empty()) return;
    std::vector<std::string> waiting;
    waiting.swap(closing);
    for (std::string& name : waiting) {
        auto found = names.find(name);
        // Gone (released already), or items of it came again: a later settle puts it back.
        if (found == names.end() || found->second.open_items > 0) continue;
        NameState& n = found->second;
        bool busy = std::any_of(n.hosts.begin(), n.hosts.end(),
                                [](const Host* h) { return !h->sessions.empty() || !h->held_until.empty(); });
        if (busy) {
            closing.push_back(std::move(name));
            continue;
        }
        std::vector<std::uint64_t> settled = std::move(n.settled);
        names.erase(found);
        if (released)
            for (std::uint64_t ticket : settled) released(ticket);
    }
}

void Engine::State::turn_until(Clock::time_point until, const Poll& poll, bool until_settled) {
    while (open_items > 0 || (!until_settled && (sessions_open > 0 || !closing.empty()))) {
        if (poll) poll();
        start_routes();
        if (pump_needed) pump();
        auto now = Clock::now();
        if (now >= until) break;
        auto wait = std::min<std::chrono::milliseconds>(settings.turn,
                                                        std::chrono::ceil<std::chrono::milliseconds>(until - now));
        loop.run_once(pump_needed ? std::chrono::milliseconds(0) : wait);
        graveyard.clear();
        free_finished();
        release_quiet_names();
        if (Clock::now() >= next_sweep) {
            free_held_slots();
            sweep_deadlines();
            next_sweep = Clock::now() + kSweepEvery;
        }
    }
}

void Engine::State::close_all(const Poll& poll) {
    auto linger_until = Clock::now() + kQuitLinger;
    while (sessions_open > 0 && Clock::now() < linger_until) {
        if (poll) poll();
        loop.run_once(settings.turn);
        graveyard.clear();
    }
    for (auto& [name, host] : hosts) {
        auto open = std::move(host->sessions);
        for (auto& s : open) s->abort(SessionEnd::Finished);
    }
    graveyard.clear();
    release_quiet_names();
}

Engine::Engine(const ProbeSettings& settings, ProberCaches& caches)
    : state_(std::make_unique<State>(settings, caches, stats_)) {}

Engine::~Engine() = default;

void Engine::run(std::vector<OfflineFindings>& items, Level level, const Poll& poll, Settled settled,
                 Settled released) {
    if (level == Level::Syntax) return;
    state_->released = [&released](std::uint64_t ticket) {
        if (released) released(ticket);
    };
    state_->done = [&items, &settled](std::uint64_t ticket, OfflineFindings& item) {
        items[ticket] = std::move(item);
        if (settled) settled(ticket);
    };
    for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].address.ok()) state_->add(i, std::move(items[i]), level);
    // A batch: until every item has settled, then the sessions' QUITs.
    while (state_->open_items > 0) state_->turn_until(Clock::now() + std::chrono::seconds(1), poll, true);
    state_->close_all(poll);
    state_->done = nullptr;
    state_->released = nullptr;
}

void Engine::set_done(Done done) { state_->done = std::move(done); }

void Engine::set_released(Released released) { state_->released = std::move(released); }

void Engine::add(std::uint64_t ticket, OfflineFindings item, Level level) {
    state_->add(ticket, std::move(item), level);
}

void Engine::run_for(std::chrono::milliseconds slice, const Poll& poll) {
    state_->turn_until(Clock::now() + slice, poll, false);
}

std::size_t Engine::open_items() const { return state_->open_items; }

bool Engine::busy() const { return state_->open_items > 0 || state_->sessions_open > 0 || !state_->closing.empty(); }

void Engine::close(const Poll& poll) { state_->close_all(poll); }

}  // namespace ev::prober
