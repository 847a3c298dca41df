#include "dns/resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <sys/epoll.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "dns/answer_ttl.h"
#include "net/socket.h"

namespace ev::dns {

namespace {

DnsStatus status_from(int ares_status) {
    switch (ares_status) {
        case ARES_SUCCESS: return DnsStatus::Ok;
        case ARES_ENODATA: return DnsStatus::NoData;
        case ARES_ENOTFOUND: return DnsStatus::NxDomain;
        case ARES_ESERVFAIL: return DnsStatus::ServerFailure;
        case ARES_EREFUSED: return DnsStatus::Refused;
        case ARES_ETIMEOUT: return DnsStatus::Timeout;
        default: return DnsStatus::Error;
    }
}

void init_library_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
            throw std::runtime_error("c-ares library init failed");
    });
}

}  // namespace

const char* to_string(DnsStatus status) {
    switch (status) {
        case DnsStatus::Ok: return "ok";
        case DnsStatus::NoData: return "no data";
        case DnsStatus::NxDomain: return "NXDOMAIN";
        case DnsStatus::ServerFailure: return "SERVFAIL";
        case DnsStatus::Refused: return "REFUSED";
        case DnsStatus::Timeout: return "timeout";
        case DnsStatus::Error: return "error";
    }
    return "error";
}

std::string check_server_list(const std::string& servers, std::string* normalized) {
    std::string out;
    std::size_t start = 0;
    while (start <= servers.size()) {
        std::size_t comma = servers.find(',', start);
        std::string item = servers.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (item.empty()) return "empty entry in the server list";
        std::string host = item;
        std::string port_text;
        if (item.front() == '[') {
            auto close = item.find(']');
            if (close == std::string::npos) return "\"" + item + "\" lacks a closing ]";
            host = item.substr(1, close - 1);
            std::string rest = item.substr(close + 1);
            if (!rest.empty()) {
                if (rest[0] != ':') return "\"" + item + "\" is not [ipv6]:port";
                port_text = rest.substr(1);
                if (port_text.empty()) return "\"" + item + "\" has an empty port";
            }
        } else if (std::count(item.begin(), item.end(), ':') == 1) {
            auto colon = item.find(':');
            host = item.substr(0, colon);
            port_text = item.substr(colon + 1);
            if (port_text.empty()) return "\"" + item + "\" has an empty port";
        }
        int port = 53;
        if (!port_text.empty()) {
            if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
                return "\"" + item + "\" has no valid port";
            port = std::atoi(port_text.c_str());
            if (port <= 0 || port > 65535) return "\"" + item + "\" has no valid port (1-65535)";
        }
        auto endpoint = net::make_endpoint(host, port);
        if (!endpoint) return "\"" + host + "\" is not a numeric IP address";
        if (!out.empty()) out += ',';
        out += endpoint->text();
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (normalized) *normalized = out;
    return "";
}

struct Resolver::Query {
    Resolver* owner;
    int type;
    std::function<void(MxAnswer)> mx_done;
    std::function<void(AddressAnswer)> address_done;
};

Resolver::Resolver(net::EventLoop& loop, const ResolverConfig& config) : loop_(loop) {
    init_library_once();
    ares_options options{};
    options.sock_state_cb = &Resolver::on_socket_state;
    options.sock_state_cb_data = this;
    options.timeout = static_cast<int>(config.timeout.count());
    options.tries = std::max(1, config.tries);
    // Names are absolute: never try them against the host's search domains.
    options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    int rc = ares_init_options(&channel_, &options, mask);
    if (rc != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares init failed: ") + ares_strerror(rc));
    if (!config.servers.empty()) {
        std::string csv;
        std::string problem = check_server_list(config.servers, &csv);
        if (problem.empty()) {
            rc = ares_set_servers_ports_csv(channel_, csv.c_str());
            if (rc != ARES_SUCCESS) problem = ares_strerror(rc);
        }
        if (!problem.empty()) {
            ares_destroy(channel_);
            channel_ = nullptr;
            throw std::invalid_argument("invalid DNS server list \"" + config.servers + "\": " + problem);
        }
    }
}

Resolver::~Resolver() {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    if (channel_ != nullptr) {
        // Pending callbacks run with ARES_EDESTRUCTION; they only free their Query.
        ares_destroy(channel_);
    }
}

void Resolver::on_socket_state(void* self, ares_socket_t fd, int readable, int writable) {
    auto* resolver = static_cast<Resolver*>(self);
    if (!readable && !writable) {
        resolver->loop_.unwatch(fd);
        return;
    }
    std::uint32_t events = 0;
    if (readable) events |= EPOLLIN;
    if (writable) events |= EPOLLOUT;
    resolver->loop_.watch(fd, events, [resolver, fd](std::uint32_t ready) {
        bool in = ready & (EPOLLIN | EPOLLERR | EPOLLHUP);
        bool out = ready & (EPOLLOUT | EPOLLERR);
        resolver->process(in ? fd : ARES_SOCKET_BAD, out ? fd : ARES_SOCKET_BAD);
    });
}

void Resolver::process(ares_socket_t read_fd, ares_socket_t write_fd) {
    ares_process_fd(channel_, read_fd, write_fd);
    rearm_timer();
    if (pending_error_) {
        auto error = pending_error_;
        pending_error_ = nullptr;
        std::rethrow_exception(error);
    }
}

void Resolver::rearm_timer() {
    if (timer_ != 0) loop_.cancel_timer(timer_);
    timer_ = 0;
    if (in_flight_ == 0) return;
    timeval max{1, 0};
    timeval tv{};
    ares_timeout(channel_, &max, &tv);
    auto due = net::Clock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    timer_ = loop_.add_timer(due, [this] {
        timer_ = 0;
        process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    });
}

// c-ares may answer at once (no servers, bad name): its callback has run.
void Resolver::after_submit() {
    rearm_timer();
    if (pending_error_) {
        auto error = pending_error_;
        pending_error_ = nullptr;
        std::rethrow_exception(error);
    }
}

void Resolver::lookup_mx(const std::string& name, std::function<void(MxAnswer)> done) {
    auto* query = new Query{this, ns_t_mx, std::move(done), nullptr};
    ++in_flight_;
    ares_query(channel_, name.c_str(), ns_c_in, ns_t_mx, &Resolver::on_answer, query);
    after_submit();
}

void Resolver::lookup_addresses(const std::string& name, int family, std::function<void(AddressAnswer)> done) {
    int type = family == AF_INET6 ? ns_t_aaaa : ns_t_a;
    auto* query = new Query{this, type, nullptr, std::move(done)};
    ++in_flight_;
    ares_query(channel_, name.c_str(), ns_c_in, type, &Resolver::on_answer, query);
    after_submit();
}

// Runs inside c-ares: nothing may propagate out of here.
void Resolver::on_answer(void* arg, int status, int, unsigned char* abuf, int alen) {
    std::unique_ptr<Query> query(static_cast<Query*>(arg));
    Resolver* self = query->owner;
    --self->in_flight_;
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
    try {
        DnsStatus outcome = status_from(status);
        std::uint32_t ttl = smallest_ttl(abuf, alen);
        std::string error = status == ARES_SUCCESS ? "" : ares_strerror(status);
        if (query->type == ns_t_mx) {
            MxAnswer answer{outcome, {}, ttl, error};
            if (status == ARES_SUCCESS) {
                ares_mx_reply* replies = nullptr;
                int rc = ares_parse_mx_reply(abuf, alen, &replies);
                if (rc == ARES_SUCCESS) {
                    for (ares_mx_reply* r = replies; r != nullptr; r = r->next) {
                        std::string exchange = r->host ? r->host : "";
                        if (exchange == ".") exchange.clear();
                        answer.records.push_back({r->priority, exchange});
                    }
                    ares_free_data(replies);
                } else {
                    answer.status = rc == ARES_ENODATA ? DnsStatus::NoData : DnsStatus::Error;
                    answer.error = ares_strerror(rc);
                }
            }
            query->mx_done(std::move(answer));
        } else {
            AddressAnswer answer{outcome, {}, ttl, error};
            if (status == ARES_SUCCESS) {
                char text[INET6_ADDRSTRLEN];
                if (query->type == ns_t_a) {
                    ares_addrttl records[32];
                    int count = 32;
                    hostent* host = nullptr;
                    int rc = ares_parse_a_reply(abuf, alen, &host, records, &count);
                    if (host) ares_free_hostent(host);
                    if (rc == ARES_SUCCESS)
                        for (int i = 0; i < count; ++i)
                            answer.ips.push_back(inet_ntop(AF_INET, &records[i].ipaddr, text, sizeof text));
                } else {
                    ares_addr6ttl records[32];
                    int count = 32;
                    hostent* host = nullptr;
                    int rc = ares_parse_aaaa_reply(abuf, alen, &host, records, &count);
                    if (host) ares_free_hostent(host);
                    if (rc == ARES_SUCCESS)
                        for (int i = 0; i < count; ++i)
                            answer.ips.push_back(inet_ntop(AF_INET6, &records[i].ip6addr, text, sizeof text));
                }
                // A CNAME chain without the final record parses as success with no address.
                if (answer.ips.empty()) answer.status = DnsStatus::NoData;
            }
            query->address_done(std::move(answer));
        }
    } catch (...) {
        if (!self->pending_error_) self->pending_error_ = std::current_exception();
    }
}

}  // namespace ev::dns
