#include "webhook/delivery_client.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "text.h"
#include "webhook/retry_schedule.h"
#include "webhook/url_policy.h"

namespace ev::webhook {

namespace {

constexpr std::size_t kResponseExcerpt = 512;

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
    });
}

Cause cause_of(CURLcode code) {
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT: return Cause::Timeout;
        case CURLE_COULDNT_CONNECT: return Cause::Connect;
        case CURLE_COULDNT_RESOLVE_HOST: return Cause::Dns;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_USE_SSL_FAILED: return Cause::Tls;
        default: return Cause::Other;
    }
}

std::string ip_text(const sockaddr* address) {
    char text[INET6_ADDRSTRLEN] = "?";
    if (address->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
    else if (address->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text, sizeof text);
    return text;
}

}  // namespace

struct DeliveryClient::Transfer {
    DeliveryClient* owner = nullptr;
    std::uint64_t id = 0;
    DeliveryRequest request;
    Done done;
    UrlCheck url;
    net::Clock::time_point started;
    net::EventLoop::TimerId timer = 0;  // the DNS stage's deadline, or a deferred finish
    int lookups_pending = 0;
    std::vector<std::string> ipv4, ipv6;
    std::vector<std::string> dns_problems;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    curl_slist* resolve = nullptr;
    std::string response_excerpt;
    std::string refused;  // set when the connect-time check refused the address
    char curl_error[CURL_ERROR_SIZE] = {};

    ~Transfer() {
        if (easy != nullptr) {
            curl_multi_remove_handle(owner->multi_, easy);
            curl_easy_cleanup(easy);
        }
        curl_slist_free_all(headers);
        curl_slist_free_all(resolve);
        if (timer != 0) owner->loop_.cancel_timer(timer);
    }

    long elapsed_ms() const {
        return static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(net::Clock::now() - started).count());
    }
};

DeliveryClient::DeliveryClient(net::EventLoop& loop, ClientOptions options)
    : loop_(loop), options_(std::move(options)), resolver_(loop, options_.dns) {
    init_curl_once();
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &DeliveryClient::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &DeliveryClient::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS, std::max(options_.max_total_connections, 1L));
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, std::max(options_.max_per_host, 1L));
    // The idle connections kept for reuse.
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, std::max(options_.max_total_connections, 1L));
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
}

DeliveryClient::~DeliveryClient() {
    closing_ = true;
    transfers_.clear();
    curl_multi_cleanup(multi_);  // closes the kept connections; their sockets leave the loop
    if (curl_timer_ != 0) loop_.cancel_timer(curl_timer_);
}

std::string DeliveryClient::refusal(const std::string& host, const std::string& ip, const char* address_class) const {
    std::string subject = host == ip ? ip : host + " resolves to " + ip;
    return "refused: " + subject + " (" + address_class + "); set email_verify.webhook_allow_private to allow it";
}

void DeliveryClient::submit(DeliveryRequest request, Done done) {
    auto owned = std::make_unique<Transfer>();
    Transfer& t = *owned;
    t.owner = this;
    t.id = next_id_++;
    t.request = std::move(request);
    t.done = std::move(done);
    t.started = net::Clock::now();
    t.url = check_webhook_url(t.request.url);
    transfers_.emplace(t.id, std::move(owned));
    if (!t.url.ok) {
        Outcome o;
        o.cause = Cause::InvalidUrl;
        o.error = t.url.error;
        finish_later(t, std::move(o));
        return;
    }
    if (t.url.host_is_ip) {
        auto c = classify_address(std::string_view(t.url.host)).value_or(AddressClass::Reserved);
        if (c != AddressClass::Public && !options_.allow_private) {
            Outcome o;
            o.cause = Cause::RefusedAddress;
            o.error = refusal(t.url.host, t.url.host, to_string(c));
            finish_later(t, std::move(o));
            return;
        }
        start_curl(t, "");
        return;
    }
    start_lookup(t);
}

void DeliveryClient::start_lookup(Transfer& t) {
    std::uint64_t id = t.id;
    t.timer = loop_.add_timer(t.started + t.request.timeout, [this, id] {
        auto it = transfers_.find(id);
        if (it == transfers_.end()) return;
        it->second->timer = 0;
        Outcome o;
        o.cause = Cause::Timeout;
        o.error = "timed out resolving " + it->second->url.host;
        finish(id, std::move(o));
    });
    t.lookups_pending = 2;
    std::string host = t.url.host;
    // Both families at once; either answer may come first, even at once.
    for (int family : {AF_INET, AF_INET6}) {
        resolver_.lookup_addresses(
            host, family, [this, id, family](const dns::AddressAnswer& answer) { on_addresses(id, family, answer); });
        if (transfers_.find(id) == transfers_.end()) return;
    }
}

void DeliveryClient::on_addresses(std::uint64_t id, int family, const dns::AddressAnswer& answer) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;  // timed out meanwhile
    Transfer& t = *it->second;
    (family == AF_INET ? t.ipv4 : t.ipv6) = answer.ips;
    if (answer.status != dns::DnsStatus::Ok && answer.status != dns::DnsStatus::NoData)
        t.dns_problems.push_back(std::string(family == AF_INET ? "A: " : "AAAA: ") + dns::to_string(answer.status));
    if (--t.lookups_pending > 0) return;
    loop_.cancel_timer(t.timer);
    t.timer = 0;

    std::vector<std::string> ips = t.ipv4;
    ips.insert(ips.end(), t.ipv6.begin(), t.ipv6.end());
    if (ips.empty()) {
        Outcome o;
        o.cause = Cause::Dns;
        o.error = "could not resolve " + t.url.host;
        for (std::size_t i = 0; i < t.dns_problems.size(); ++i) o.error += (i == 0 ? ": " : ", ") + t.dns_problems[i];
        if (t.dns_problems.empty()) o.error += ": no address";
        finish_later(t, std::move(o));
        return;
    }
    for (const auto& ip : ips) {
        auto c = classify_address(std::string_view(ip)).value_or(AddressClass::Reserved);
        if (c == AddressClass::Public || options_.allow_private) {
            start_curl(t, ip);
            return;
        }
    }
    Outcome o;
    o.cause = Cause::RefusedAddress;
    o.error = refusal(t.url.host, ips.front(),
                      to_string(classify_address(std::string_view(ips.front())).value_or(AddressClass::Reserved)));
    finish_later(t, std::move(o));
}

void DeliveryClient::start_curl(Transfer& t, const std::string& pinned_ip) {
    auto remaining = t.request.timeout - std::chrono::milliseconds(t.elapsed_ms());
    long timeout_ms = std::max<long>(static_cast<long>(remaining.count()), 1);
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
        Outcome o;
        o.error = "curl_easy_init failed";
        finish_later(t, std::move(o));
        return;
    }
    t.easy = easy;
    for (const auto& header : t.request.headers) t.headers = curl_slist_append(t.headers, header.c_str());
    // No "Expect: 100-continue" round trip before larger bodies.
    t.headers = curl_slist_append(t.headers, "Expect:");
    if (!pinned_ip.empty()) {
        std::string ip = pinned_ip.find(':') != std::string::npos ? "[" + pinned_ip + "]" : pinned_ip;
        std::string entry = t.url.host + ":" + std::to_string(t.url.port) + ":" + ip;
        t.resolve = curl_slist_append(nullptr, entry.c_str());
    }
    CURLcode rc = CURLE_OK;
    auto set = [&rc, easy](CURLoption option, auto value) {
        if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
    };
    set(CURLOPT_URL, t.url.url.c_str());
    set(CURLOPT_PRIVATE, static_cast<void*>(&t));
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.request.body.size()));
    set(CURLOPT_POSTFIELDS, t.request.body.data());
    set(CURLOPT_HTTPHEADER, t.headers);
    if (t.resolve != nullptr) set(CURLOPT_RESOLVE, t.resolve);
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_PROXY, "");  // never the environment's http_proxy
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
    set(CURLOPT_TIMEOUT_MS, timeout_ms);
    set(CURLOPT_NOSIGNAL, 1L);
    if (!options_.user_agent.empty()) set(CURLOPT_USERAGENT, options_.user_agent.c_str());
    set(CURLOPT_WRITEFUNCTION, &DeliveryClient::on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
    set(CURLOPT_OPENSOCKETFUNCTION, &DeliveryClient::on_open_socket);
    set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(&t));
    set(CURLOPT_ERRORBUFFER, t.curl_error);
    if (rc != CURLE_OK) {
        Outcome o;
        o.error = std::string("curl refused an option: ") + curl_easy_strerror(rc);
        curl_easy_cleanup(easy);
        t.easy = nullptr;
        finish_later(t, std::move(o));
        return;
    }
    CURLMcode added = curl_multi_add_handle(multi_, easy);
    if (added != CURLM_OK) {
        curl_easy_cleanup(easy);
        t.easy = nullptr;
        Outcome o;
        o.error = std::string("curl_multi_add_handle: ") + curl_multi_strerror(added);
        finish_later(t, std::move(o));
    }
    rethrow_pending();
}

// A result known before any I/O, handed over from the loop, so that a
// callback never runs inside submit().
void DeliveryClient::finish_later(Transfer& t, Outcome outcome) {
    if (t.timer != 0) loop_.cancel_timer(t.timer);
    std::uint64_t id = t.id;
    t.timer = loop_.add_timer(net::Clock::now(), [this, id, outcome = std::move(outcome)]() mutable {
        auto it = transfers_.find(id);
        if (it == transfers_.end()) return;
        it->second->timer = 0;
        finish(id, std::move(outcome));
    });
}

void DeliveryClient::finish(std::uint64_t id, Outcome outcome) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers_.erase(it);
    outcome.latency_ms = t->elapsed_ms();
    Done done = std::move(t->done);
    std::uint64_t tag = t->request.tag;
    t.reset();  // the handle leaves curl before the callback may submit more
    done(tag, std::move(outcome));
}

void DeliveryClient::drive(curl_socket_t fd, int events) {
    int running = 0;
    curl_multi_socket_action(multi_, fd, events, &running);
    collect_done();
    rethrow_pending();
}

void DeliveryClient::collect_done() {
    std::vector<std::pair<std::uint64_t, Outcome>> finished;
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        void* data = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &data);
        auto* t = static_cast<Transfer*>(data);
        CURLcode result = message->data.result;
        Outcome o;
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_header* retry_after = nullptr;
        if (curl_easy_header(t->easy, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK &&
            retry_after != nullptr && retry_after->value != nullptr)
            o.retry_after = parse_retry_after(retry_after->value, WallClock::now());
        if (result == CURLE_OK) {
            o.http_status = status;
            o.cause = status >= 200 && status <= 299 ? Cause::None : Cause::HttpStatus;
            if (o.cause == Cause::HttpStatus) {
                o.error = "HTTP " + std::to_string(status);
                std::string excerpt = ev::text::printable_ascii(t->response_excerpt);
                if (!excerpt.empty()) o.error += ": " + excerpt;
            }
        } else if (!t->refused.empty()) {
            o.cause = Cause::RefusedAddress;
            o.error = t->refused;
        } else {
            o.cause = cause_of(result);
            o.error = curl_easy_strerror(result);
            if (t->curl_error[0] != '\0') o.error += std::string(": ") + ev::text::printable_ascii(t->curl_error);
        }
        finished.emplace_back(t->id, std::move(o));
    }
    // Callbacks after the reading: one that throws leaves the others to run.
    for (auto& [id, outcome] : finished) {
        try {
            finish(id, std::move(outcome));
        } catch (...) {
            if (!pending_error_) pending_error_ = std::current_exception();
        }
    }
}

void DeliveryClient::rethrow_pending() {
    if (!pending_error_) return;
    auto error = pending_error_;
    pending_error_ = nullptr;
    std::rethrow_exception(error);
}

// The callbacks below run inside curl: nothing may propagate out of them.

int DeliveryClient::on_socket(CURL*, curl_socket_t fd, int what, void* self_ptr, void*) {
    auto* self = static_cast<DeliveryClient*>(self_ptr);
    try {
        if (what == CURL_POLL_REMOVE) {
            self->loop_.unwatch(fd);
            return 0;
        }
        std::uint32_t events = 0;
        if (what & CURL_POLL_IN) events |= EPOLLIN;
        if (what & CURL_POLL_OUT) events |= EPOLLOUT;
        self->loop_.watch(fd, events, [self, fd](std::uint32_t ready) {
            int flags = 0;
            if (ready & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
            if (ready & EPOLLOUT) flags |= CURL_CSELECT_OUT;
            if (ready & EPOLLERR) flags |= CURL_CSELECT_ERR;
            self->drive(fd, flags);
        });
        return 0;
    } catch (...) {
        if (!self->pending_error_) self->pending_error_ = std::current_exception();
        return -1;
    }
}

int DeliveryClient::on_timer(CURLM*, long timeout_ms, void* self_ptr) {
    auto* self = static_cast<DeliveryClient*>(self_ptr);
    try {
        if (self->curl_timer_ != 0) self->loop_.cancel_timer(self->curl_timer_);
        self->curl_timer_ = 0;
        if (timeout_ms < 0 || self->closing_) return 0;
        self->curl_timer_ = self->loop_.add_timer(net::Clock::now() + std::chrono::milliseconds(timeout_ms), [self] {
            self->curl_timer_ = 0;
            self->drive(CURL_SOCKET_TIMEOUT, 0);
        });
        return 0;
    } catch (...) {
        if (!self->pending_error_) self->pending_error_ = std::current_exception();
        return -1;
    }
}

curl_socket_t DeliveryClient::on_open_socket(void* transfer, curlsocktype purpose, curl_sockaddr* address) {
    auto* t = static_cast<Transfer*>(transfer);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    try {
        AddressClass c = classify_address(&address->addr);
        if (c != AddressClass::Public && !t->owner->options_.allow_private) {
            t->refused = t->owner->refusal(t->url.host, ip_text(&address->addr), to_string(c));
            return CURL_SOCKET_BAD;
        }
    } catch (...) {
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

std::size_t DeliveryClient::on_body(char* data, std::size_t size, std::size_t count, void* transfer) {
    auto* t = static_cast<Transfer*>(transfer);
    std::size_t length = size * count;
    // Read to the end (the connection stays reusable), keep the start only.
    if (t->response_excerpt.size() < kResponseExcerpt) {
        try {
            t->response_excerpt.append(data, std::min(length, kResponseExcerpt - t->response_excerpt.size()));
        } catch (...) {
            return 0;
        }
    }
    return length;
}

}  // namespace ev::webhook
