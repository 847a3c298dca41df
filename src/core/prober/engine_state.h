// The engine's working state, private to its three files: engine.cpp (setup,
// routes and the event loop), engine_hosts.cpp (MX hosts, sessions and
// politeness) and engine_verdicts.cpp (verdicts and deadlines).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/event_loop.h"
#include "prober/engine.h"
#include "smtp/error_budget.h"
#include "smtp/session.h"

namespace ev::prober {

using net::Clock;
using smtp::Meaning;
using smtp::Reply;
using smtp::SessionEnd;

struct Engine::State {
    struct Domain;
    struct Host;

    // One distinct recipient (or a domain's catch-all probe) and its outcome.
    struct Task {
        std::uint64_t id = 0;
        Domain* domain = nullptr;
        std::string recipient;
        bool catch_all_probe = false;
        std::size_t endpoint = 0;  // index into domain->endpoints
        int attempts = 0;
        bool first_sent_set = false;
        bool deferred = false;     // ended unprobed: the site's budget stayed spent, or no socket here
        std::string deferred_why;  // when not the site's budget
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

    // An item in the engine's hands, and the caller's ticket for it.
    struct Held {
        std::uint64_t ticket = 0;
        OfflineFindings item;
    };

    // A domain's items added together (or while its route was still being
    // looked up): one route, one catch-all probe, settled together. Items
    // of the same domain added later make a new Domain, so that a busy
    // domain does not hold its first items back until the stream ends.
    struct Domain {
        std::uint64_t id = 0;
        std::string name;
        Level level = Level::Dns;
        Clock::time_point created{};
        std::vector<Held> items;
        std::vector<std::uint64_t> task_ids;
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

    // One MX address: the unit of sessions and queues. Its sessions serve
    // every domain whose route leads to it, and count against the budget of
    // the site of the first such domain (and of the address itself).
    struct Host : smtp::SessionOwner {
        State* state = nullptr;
        net::Endpoint address;
        std::string name;
        std::string site;
        std::deque<std::uint64_t> queue;
        std::vector<std::unique_ptr<smtp::Session>> sessions;
        bool failed = false;
        Clock::time_point failed_at{};                  // a domain newer than this tries the host again
        Reason failed_with = Reason::TemporaryFailure;  // what its failure means for a recipient
        std::optional<Reply> failed_reply;
        bool wanting = false;
        HostFacts facts;     // as learned by every prober (HostPermits::facts)
        int slots_held = 0;  // session slots taken from the permits
        // Slots kept after a session the server did not see end: one that
        // timed out waiting for a reply (a tarpit asleep on our
        // connection notices we left only when it wakes), or one we closed
        // before the server did (SessionReport::notice_ms). Until then
        // the server still counts it: freed at these times.
        std::vector<Clock::time_point> held_until;
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
        SessionTarget target() const { return {site, address.text()}; }
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
                    permits.close_session(host->target());
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
    Done done;
    Released released;
    // Per domain name (all levels): its items in the engine, those settled
    // and not yet released, and the hosts its tasks were queued at.
    struct NameState {
        std::size_t open_items = 0;
        std::vector<std::uint64_t> settled;
        std::unordered_set<Host*> hosts;
    };
    std::unordered_map<std::string, NameState> names;
    // Names with no open item left, waiting for their hosts' sessions to end.
    std::vector<std::string> closing;
    std::unordered_map<std::uint64_t, std::unique_ptr<Domain>> domains;
    // Domains whose route is still being looked up, by level and name: an
    // item added meanwhile joins them.
    std::unordered_map<std::string, Domain*> gathering;
    std::unordered_map<std::uint64_t, std::unique_ptr<Task>> tasks;
    std::unordered_map<std::string, std::unique_ptr<Host>> hosts;
    std::deque<Host*> wanting;
    std::deque<Domain*> route_queue;
    int routes_in_flight = 0;
    std::vector<std::unique_ptr<smtp::Session>> graveyard;
    // Settled domains, freed with their tasks between loop turns (a
    // session's callback may still be on the stack when one settles).
    std::vector<std::uint64_t> finished_domains;
    std::uint64_t next_task_id = 1;
    std::uint64_t next_domain_id = 1;
    std::size_t open_items = 0;
    Clock::time_point next_sweep{};
    int sessions_open = 0;
    bool pump_needed = false;

    // ---- setup, routes and the loop (engine.cpp) ------------------------

    void add(std::uint64_t ticket, OfflineFindings item, Level level);

    // The task for d.items[k] (one per distinct recipient).
    void add_task(Domain& d, std::size_t k);

    // The task of this id, or null once its domain was freed.
    Task* find_task(std::uint64_t id) const;

    // Frees the settled domains and their tasks.
    void free_finished();

    // Releases the settled items of names none of whose hosts has a session open.
    void release_quiet_names();

    // Frees the slots held after timed-out sessions whose time has come.
    void free_held_slots();

    // Turns the loop until `until`, or until every item has settled and
    // (unless until_settled) every session has ended.
    void turn_until(Clock::time_point until, const Poll& poll, bool until_settled);

    // Lets open sessions say QUIT, briefly; then closes every socket.
    void close_all(const Poll& poll);

    // Keeps at most kRoutesInFlight route lookups out at once: thousands of
    // simultaneous queries overflow the resolver's socket buffers, and the
    // retries that follow are slower than waiting (and end as dns_error).
    void start_routes();

    static std::shared_ptr<const dns::MailRoute> literal_route(const std::string& domain);

    void on_route(Domain& d, std::shared_ptr<const dns::MailRoute> route);

    Task& new_task(Domain& d, std::string recipient);

    // ---- hosts, sessions and politeness (engine_hosts.cpp) --------------

    // What a provider is known to take per transaction, before a 452 teaches it.
    void limit_rcpts(const Domain& d, int limit);

    Host& host_for(const Domain& d, const Endpoint& e);

    // Puts the task on the queue of its current endpoint, skipping hosts
    // already known dead; out of endpoints, the task ends with `failure`.
    void enqueue(Task& t, bool front = false);

    void pump();

    static void refused_at(Host& h);

    // The site refused a session: its sessions are asked for again when the
    // budget may allow one (one timer per host at a time).
    void ask_again_at(Host& h, Clock::time_point when);

    // The site's RCPT rate was spent: the host's sessions idle until then.
    void resume_at(Host& h, Clock::time_point when);

    void open_session(Host& h);

    bool has_work(const Host& h) const;

    // A recipient can be refused unless its domain is known to take anything.
    static bool may_fail(const Task& t) { return t.catch_all_probe || t.domain->catch_all != true; }

    std::optional<smtp::RcptTask> next_task(Host& h, bool may_fail_allowed);

    // The MX name as the task's own domain published it (hosts are shared by
    // address, and two domains may name one address differently).
    static std::string host_name_of(const Task& t);

    void task_answered(Host&, const smtp::RcptTask& rt, Meaning meaning, const Reply& reply);

    void task_returned(Host& h, const smtp::RcptTask& rt, SessionEnd why, const std::optional<Reply>& reply,
                       bool charged);

    void session_ended(Host& h, smtp::Session* session, const smtp::SessionReport& report);

    // What a session says of our own network (network_health.h).
    static SessionOutcome outcome_of(const smtp::SessionReport& report);

    void count_session(const smtp::SessionReport& report);

    // What the session taught about its server, for every prober's next sessions.
    void learn(Host& h, const smtp::SessionReport& report);
    // Known silent (HostFacts::silent_until_ns) to a prober of these settings.
    bool silent(const Host& h) const;

    // The host could not be talked to: its recipients move on to the next
    // MX address of their domain, or end with this host's failure.
    void fail_host(Host& h, const smtp::SessionReport& report);

    // ---- verdicts and deadlines (engine_verdicts.cpp) -------------------

    void complete(Task& t);

    void finalize(Domain& d);

    static Task* task_of(Domain& d, const OfflineFindings& item);

    void finalize_item(Domain& d, OfflineFindings& item) const;

    // Addresses whose first RCPT went out longer ago than address_timeout end
    // as timeouts, wherever their recipient currently is.
    void sweep_deadlines();

    // The site's budget stayed spent past permit_wait, or will not reach the
    // queue's tail within it: what waits beyond the first `keep` recipients
    // ends unprobed, to be asked again later (sessions already open go on).
    void defer_queue(Host& h, std::size_t keep, const std::string& why = "");
};

}  // namespace ev::prober
