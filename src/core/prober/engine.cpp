#include "prober/engine.h"

#include <openssl/rand.h>

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

void Engine::State::start(std::vector<OfflineFindings>& all, Level lvl) {
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

void Engine::State::start_routes() {
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

std::shared_ptr<const dns::MailRoute> Engine::State::literal_route(const std::string& domain) {
    auto route = std::make_shared<dns::MailRoute>();
    route->outcome = dns::RouteOutcome::Ok;
    route->hosts.push_back({domain, 0, {literal_ip(domain)}});
    return route;
}

void Engine::State::on_route(Domain& d, std::shared_ptr<const dns::MailRoute> route) {
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

Engine::State::Task& Engine::State::new_task(Domain& d, std::string recipient) {
    auto task = std::make_unique<Task>();
    task->id = next_task_id++;
    task->domain = &d;
    task->recipient = std::move(recipient);
    Task& ref = *task;
    tasks.emplace(ref.id, std::move(task));
    ++d.open_tasks;
    return ref;
}

void Engine::State::run(const Poll& poll) {
    auto next_sweep = Clock::now() + kSweepEvery;
    while (open_domains > 0) {
        if (poll) poll();
        start_routes();
        if (pump_needed) pump();
        loop.run_once(pump_needed ? std::chrono::milliseconds(0) : settings.turn);
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
        loop.run_once(settings.turn);
        graveyard.clear();
    }
    for (auto& [name, host] : hosts) {
        auto open = std::move(host->sessions);
        for (auto& s : open) s->abort(SessionEnd::Finished);
    }
    graveyard.clear();
}
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
