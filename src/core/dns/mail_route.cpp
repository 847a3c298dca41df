#include "dns/mail_route.h"

#include "dns/route_codec.h"

#include <sys/socket.h>

#include <algorithm>

namespace ev::dns {

using std::chrono::steady_clock;

std::shared_ptr<const MailRoute> RouteCache::find(const std::string& domain, steady_clock::time_point now) {
    if (store_) {
        auto bytes = store_->get(prefix_ + "m " + domain, now);
        auto route = bytes ? decode_route(*bytes) : std::nullopt;
        if (!route) return nullptr;
        // The store keeps the expiry; this copy only serves the lookup at hand.
        route->expires = now + std::chrono::seconds(60);
        return std::make_shared<const MailRoute>(std::move(*route));
    }
    auto it = routes_.find(domain);
    if (it == routes_.end()) return nullptr;
    if (it->second->expires <= now) {
        routes_.erase(it);
        return nullptr;
    }
    return it->second;
}

void RouteCache::store(const std::string& domain, std::shared_ptr<const MailRoute> route) {
    if (store_) return store_->put(prefix_ + "m " + domain, encode_route(*route), route->expires);
    // A crude bound: a cache this full is mostly stale entries anyway.
    if (routes_.size() >= kMaxEntries) routes_.clear();
    routes_[domain] = std::move(route);
}

struct RouteResolver::Lookup {
    std::string domain;
    std::vector<Done> waiters;
    MailRoute route;
    std::uint32_t ttl = UINT32_MAX;
    int pending = 0;             // address lookups still out
    bool lookup_failed = false;  // some address lookup failed (not NXDOMAIN/no data)
    std::string failure;

    void note_ttl(std::uint32_t t) { ttl = std::min(ttl, t); }
};

void RouteResolver::resolve(const std::string& domain, Done done) {
    if (auto cached = cache_.find(domain, steady_clock::now())) {
        done(cached);
        return;
    }
    auto existing = in_flight_.find(domain);
    if (existing != in_flight_.end()) {
        existing->second->waiters.push_back(std::move(done));
        return;
    }
    auto lookup = std::make_shared<Lookup>();
    lookup->domain = domain;
    lookup->waiters.push_back(std::move(done));
    in_flight_.emplace(domain, lookup);
    resolver_.lookup_mx(domain, [this, lookup](MxAnswer answer) { on_mx(lookup, std::move(answer)); });
}

void RouteResolver::on_mx(const std::shared_ptr<Lookup>& lookup, MxAnswer answer) {
    MailRoute& route = lookup->route;
    lookup->note_ttl(answer.ttl);
    switch (answer.status) {
        case DnsStatus::NxDomain:
            // The domain does not exist: no address under it can receive mail.
            route.outcome = RouteOutcome::NoDomain;
            return finish(lookup);
        case DnsStatus::NoData:
            // No MX: the domain itself is the implicit MX (RFC 5321 5.1).
            route.implicit_mx = true;
            route.hosts.push_back({lookup->domain, 0, {}});
            return resolve_hosts(lookup);
        case DnsStatus::Ok: break;
        default:
            route.outcome = RouteOutcome::DnsError;
            route.detail = std::string("MX lookup: ") + to_string(answer.status);
            return finish(lookup);
    }
    auto& records = answer.records;
    bool has_null = std::any_of(records.begin(), records.end(), [](const MxRecord& r) { return r.exchange.empty(); });
    records.erase(std::remove_if(records.begin(), records.end(), [](const MxRecord& r) { return r.exchange.empty(); }),
                  records.end());
    if (records.empty()) {
        route.outcome = has_null ? RouteOutcome::NullMx : RouteOutcome::NoMailServer;
        return finish(lookup);
    }
    std::stable_sort(records.begin(), records.end(),
                     [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
    for (const auto& r : records) {
        std::string name = r.exchange;
        if (!name.empty() && name.back() == '.') name.pop_back();
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        bool seen =
            std::any_of(route.hosts.begin(), route.hosts.end(), [&](const MailHost& h) { return h.name == name; });
        if (!seen) route.hosts.push_back({name, r.preference, {}});
    }
    resolve_hosts(lookup);
}

void RouteResolver::resolve_hosts(const std::shared_ptr<Lookup>& lookup) {
    std::vector<int> families{AF_INET};
    if (options_.use_ipv6) families.push_back(AF_INET6);
    lookup->pending = static_cast<int>(lookup->route.hosts.size() * families.size());
    // Index-based: hosts is not resized while lookups are out.
    for (std::size_t i = 0; i < lookup->route.hosts.size(); ++i) {
        for (int family : families) {
            resolver_.lookup_addresses(lookup->route.hosts[i].name, family, [this, lookup, i, family](AddressAnswer a) {
                MailHost& host = lookup->route.hosts[i];
                if (a.status == DnsStatus::Ok) {
                    lookup->note_ttl(a.ttl);
                    // IPv4 first: keeps the order stable whichever answer lands first.
                    auto at = family == AF_INET ? host.ips.begin() : host.ips.end();
                    host.ips.insert(at, a.ips.begin(), a.ips.end());
                } else if (a.status != DnsStatus::NxDomain && a.status != DnsStatus::NoData) {
                    lookup->lookup_failed = true;
                    lookup->failure = host.name + ": " + to_string(a.status);
                } else {
                    lookup->note_ttl(a.ttl);
                }
                if (--lookup->pending == 0) {
                    auto& hosts = lookup->route.hosts;
                    hosts.erase(
                        std::remove_if(hosts.begin(), hosts.end(), [](const MailHost& h) { return h.ips.empty(); }),
                        hosts.end());
                    MailRoute& route = lookup->route;
                    if (!hosts.empty()) {
                        route.outcome = RouteOutcome::Ok;
                    } else if (lookup->lookup_failed) {
                        route.outcome = RouteOutcome::DnsError;
                        route.detail = "address lookup: " + lookup->failure;
                    } else {
                        route.outcome = RouteOutcome::NoMailServer;
                    }
                    finish(lookup);
                }
            });
        }
    }
}

void RouteResolver::finish(const std::shared_ptr<Lookup>& lookup) {
    MailRoute& route = lookup->route;
    auto now = steady_clock::now();
    std::chrono::seconds ttl(lookup->ttl == UINT32_MAX ? 60 : lookup->ttl);
    ttl = std::clamp(ttl, std::chrono::seconds(1), options_.max_ttl);
    if (route.outcome == RouteOutcome::DnsError) ttl = options_.error_ttl;
    route.expires = now + ttl;
    auto shared = std::make_shared<const MailRoute>(std::move(route));
    if (ttl.count() > 0) cache_.store(lookup->domain, shared);
    in_flight_.erase(lookup->domain);
    for (auto& waiter : lookup->waiters) waiter(shared);
}

}  // namespace ev::dns
