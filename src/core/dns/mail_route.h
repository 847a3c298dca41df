// Where mail for a domain goes: the MX hosts in preference order with their
// addresses, or why there is nowhere (NXDOMAIN, null MX, no usable host, a
// DNS failure). Routes are cached for the TTL of the answers they came from.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache_store.h"
#include "dns/resolver.h"

namespace ev::dns {

enum class RouteOutcome {
    Ok,
    NoDomain,      // NXDOMAIN
    NullMx,        // RFC 7505
    NoMailServer,  // no MX and no A/AAAA, or no MX target resolves
    DnsError,      // SERVFAIL, REFUSED, timeout
};

struct MailHost {
    std::string name;  // the MX target (or the domain itself for the A/AAAA fallback)
    int preference = 0;
    std::vector<std::string> ips;  // IPv4 first, then IPv6
};

struct MailRoute {
    RouteOutcome outcome = RouteOutcome::DnsError;
    std::vector<MailHost> hosts;  // outcome Ok: at least one, each with an address
    bool implicit_mx = false;     // no MX: the domain's own A/AAAA (RFC 5321 5.1)
    std::string detail;           // for DnsError: what failed
    std::chrono::steady_clock::time_point expires;
};

struct RouteOptions {
    bool use_ipv6 = true;
    std::chrono::seconds max_ttl{86400};
    std::chrono::seconds error_ttl{0};  // failures are not cached by default
};

// Caches routes across lookups (and across calls, when kept alive).
class RouteCache {
  public:
    std::shared_ptr<const MailRoute> find(const std::string& domain, std::chrono::steady_clock::time_point now);
    void store(const std::string& domain, std::shared_ptr<const MailRoute> route);
    void clear() { routes_.clear(); }
    std::size_t size() const { return routes_.size(); }
    // From now on routes live in `store` (nullptr: in this object), under
    // keys that start with `prefix`.
    void share(CacheStore* store, std::string prefix) {
        store_ = store;
        prefix_ = std::move(prefix);
    }

  private:
    static constexpr std::size_t kMaxEntries = 100000;
    std::unordered_map<std::string, std::shared_ptr<const MailRoute>> routes_;
    CacheStore* store_ = nullptr;
    std::string prefix_;
};

// Looks routes up through a Resolver; concurrent requests for one domain
// share one lookup.
class RouteResolver {
  public:
    using Done = std::function<void(std::shared_ptr<const MailRoute>)>;

    RouteResolver(Resolver& resolver, RouteCache& cache, RouteOptions options)
        : resolver_(resolver), cache_(cache), options_(options) {}

    // domain: ASCII (A-label), lower case, no trailing dot. `done` may run
    // before resolve() returns (cache hit).
    void resolve(const std::string& domain, Done done);

  private:
    struct Lookup;
    void on_mx(const std::shared_ptr<Lookup>& lookup, MxAnswer answer);
    void resolve_hosts(const std::shared_ptr<Lookup>& lookup);
    void finish(const std::shared_ptr<Lookup>& lookup);

    Resolver& resolver_;
    RouteCache& cache_;
    RouteOptions options_;
    std::unordered_map<std::string, std::shared_ptr<Lookup>> in_flight_;
};

}  // namespace ev::dns
