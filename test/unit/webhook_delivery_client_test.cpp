#include "webhook/delivery_client.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>

#include "fake_dns_server.h"
#include "fake_http_server.h"
#include "webhook/retry_schedule.h"
#include "webhook/signature.h"

using ev::net::Clock;
using ev::net::EventLoop;
using ev::test::FakeDnsServer;
using ev::test::FakeHttpServer;
using ev::test::HttpRequest;
using ev::test::HttpResponse;
using namespace ev::webhook;
using namespace std::chrono_literals;

namespace {

HttpResponse ok(const HttpRequest&) { return {}; }

// A client on its own loop, with the test's DNS server, and the outcomes by tag.
struct Harness {
    explicit Harness(bool allow_private = true, long max_per_host = 16) {
        ClientOptions options;
        options.allow_private = allow_private;
        options.max_per_host = max_per_host;
        options.user_agent = "email_verify/test";
        options.dns.servers = dns.servers();
        options.dns.timeout = 500ms;
        options.dns.tries = 1;
        client = std::make_unique<DeliveryClient>(loop, options);
    }

    void submit(std::uint64_t tag, const std::string& url, std::chrono::milliseconds timeout = 5000ms,
                std::string body = R"({"event_type":"bulk.completed"})") {
        DeliveryRequest request;
        request.tag = tag;
        request.url = url;
        request.body = std::move(body);
        request.headers = delivery_headers("evt_" + std::to_string(tag), "bulk.completed", request.body, 1700000000,
                                           {"whsec_AAEC"}, "email_verify/test");
        request.timeout = timeout;
        client->submit(std::move(request), [this](std::uint64_t t, Outcome o) { outcomes[t] = std::move(o); });
    }

    // Runs the loop until `count` outcomes are in (bounded).
    bool run_until(std::size_t count, std::chrono::milliseconds limit = 10000ms) {
        auto deadline = Clock::now() + limit;
        while (outcomes.size() < count && Clock::now() < deadline) loop.run_once(50ms);
        return outcomes.size() >= count;
    }

    Outcome one(const std::string& url, std::chrono::milliseconds timeout = 5000ms) {
        outcomes.clear();
        submit(1, url, timeout);
        EXPECT_TRUE(run_until(1));
        return outcomes.count(1) ? outcomes[1] : Outcome{};
    }

    FakeDnsServer dns;
    EventLoop loop;
    std::unique_ptr<DeliveryClient> client;
    std::map<std::uint64_t, Outcome> outcomes;
};

std::string local_url(const FakeHttpServer& server, const std::string& path = "/hook") {
    return "http://127.0.0.1:" + std::to_string(server.port()) + path;
}

}  // namespace

TEST(WebhookDelivery, PostsTheSignedBodyAndReports200) {
    FakeHttpServer server(ok);
    Harness h;
    Outcome o = h.one(local_url(server));
    EXPECT_TRUE(o.delivered()) << o.error;
    EXPECT_EQ(o.http_status, 200);
    EXPECT_EQ(o.cause, Cause::None);
    EXPECT_TRUE(o.error.empty());
    EXPECT_GE(o.latency_ms, 0);
    auto received = server.received();
    ASSERT_EQ(received.size(), 1u);
    const HttpRequest& r = received[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hook");
    EXPECT_EQ(r.body, R"({"event_type":"bulk.completed"})");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("user-agent"), "email_verify/test");
    EXPECT_EQ(r.headers.at("x-email-verify-event"), "bulk.completed");
    EXPECT_EQ(r.headers.at("x-email-verify-event-id"), "evt_1");
    EXPECT_EQ(r.headers.at("x-email-verify-signature"), our_signature_header(1700000000, r.body, {"whsec_AAEC"}));
    EXPECT_EQ(r.headers.at("webhook-id"), "evt_1");
    EXPECT_EQ(r.headers.count("expect"), 0u);
    EXPECT_EQ(h.client->in_flight(), 0u);
}

TEST(WebhookDelivery, ErrorStatusesCarryAnExcerptAndRetryAfter) {
    FakeHttpServer server([](const HttpRequest& r) {
        HttpResponse response;
        if (r.target == "/500") {
            response.status = 500;
            response.body = "database\x01 down\xff" + std::string(2000, 'x');
        } else if (r.target == "/429") {
            response.status = 429;
            response.headers = {"Retry-After: 7"};
        } else if (r.target == "/410") {
            response.status = 410;
        } else if (r.target == "/302") {
            response.status = 302;
            response.headers = {"Location: /elsewhere"};
        }
        return response;
    });
    Harness h;
    Outcome o = h.one(local_url(server, "/500"));
    EXPECT_EQ(o.cause, Cause::HttpStatus);
    EXPECT_EQ(o.http_status, 500);
    EXPECT_EQ(o.error.rfind("HTTP 500: database? down?xxx", 0), 0u) << "[" << o.error << "]";
    EXPECT_LE(o.error.size(), 600u);

    o = h.one(local_url(server, "/429"));
    EXPECT_EQ(o.http_status, 429);
    EXPECT_EQ(o.retry_after, 7s);

    o = h.one(local_url(server, "/410"));
    EXPECT_EQ(o.http_status, 410);
    EXPECT_EQ(decide(o, 1, RetrySchedule{}, 1.0, WallClock::now()).kind, Decision::Kind::EndpointGone);

    o = h.one(local_url(server, "/302"));  // not followed
    EXPECT_EQ(o.http_status, 302);
    EXPECT_EQ(o.cause, Cause::HttpStatus);
    EXPECT_EQ(server.requests(), 4);
}

TEST(WebhookDelivery, AHangingReceiverTimesOut) {
    FakeHttpServer server([](const HttpRequest&) {
        HttpResponse response;
        response.hang = true;
        return response;
    });
    Harness h;
    auto started = Clock::now();
    Outcome o = h.one(local_url(server), 300ms);
    EXPECT_EQ(o.cause, Cause::Timeout) << o.error;
    EXPECT_EQ(o.http_status, 0);
    EXPECT_GE(o.latency_ms, 250);
    EXPECT_LT(Clock::now() - started, 3s);
}

TEST(WebhookDelivery, KeepAliveReusesConnections) {
    FakeHttpServer server(ok);
    Harness h;
    for (int i = 0; i < 50; ++i) {
        Outcome o = h.one(local_url(server));
        ASSERT_TRUE(o.delivered()) << i << ": " << o.error;
    }
    EXPECT_EQ(server.requests(), 50);
    EXPECT_LE(server.connections(), 2);
}

TEST(WebhookDelivery, ManyConcurrentDeliveriesRespectThePerHostLimit) {
    FakeHttpServer server([](const HttpRequest&) {
        HttpResponse response;
        response.delay = 20ms;
        return response;
    });
    Harness h(true, 8);
    constexpr int kCount = 200;
    for (int i = 0; i < kCount; ++i) h.submit(static_cast<std::uint64_t>(i), local_url(server));
    EXPECT_EQ(h.client->in_flight(), static_cast<std::size_t>(kCount));
    ASSERT_TRUE(h.run_until(kCount, 20000ms));
    for (const auto& [tag, o] : h.outcomes) EXPECT_TRUE(o.delivered()) << tag << ": " << o.error;
    EXPECT_EQ(h.client->in_flight(), 0u);
    EXPECT_LE(server.max_concurrent(), 8);
    EXPECT_LE(server.connections(), 16);
}

TEST(WebhookDelivery, PrivateAddressesAreRefusedUnlessAllowed) {
    FakeHttpServer server(ok);
    Harness h(false);
    h.dns.set("receiver.test", ev::test::kTypeA, ev::test::address_answer({"127.0.0.1"}));
    h.dns.set("receiver.test", ev::test::kTypeAaaa, ev::test::negative_answer(ev::test::kNoError));
    std::string port = std::to_string(server.port());

    Outcome o = h.one("http://receiver.test:" + port + "/hook");
    EXPECT_EQ(o.cause, Cause::RefusedAddress);
    EXPECT_EQ(o.error,
              "refused: receiver.test resolves to 127.0.0.1 (loopback); set email_verify.webhook_allow_private to "
              "allow it");
    EXPECT_EQ(decide(o, 1, RetrySchedule{}, 1.0, WallClock::now()).kind, Decision::Kind::Dead);

    o = h.one("http://127.0.0.1:" + port + "/hook");  // an IP literal, checked the same way
    EXPECT_EQ(o.cause, Cause::RefusedAddress);
    EXPECT_EQ(o.error, "refused: 127.0.0.1 (loopback); set email_verify.webhook_allow_private to allow it");
    o = h.one("http://[::ffff:10.1.2.3]:" + port + "/hook");
    EXPECT_EQ(o.cause, Cause::RefusedAddress);
    EXPECT_EQ(server.connections(), 0);

    Harness allowed(true);
    allowed.dns.set("receiver.test", ev::test::kTypeA, ev::test::address_answer({"127.0.0.1"}));
    o = allowed.one("http://receiver.test:" + port + "/hook");
    EXPECT_TRUE(o.delivered()) << o.error;
    ASSERT_EQ(server.received().size(), 1u);
    EXPECT_EQ(server.received()[0].headers.at("host"), "receiver.test:" + port);
}

TEST(WebhookDelivery, TheFirstAllowedAddressIsPinned) {
    FakeHttpServer server(ok);
    Harness h(true);
    // The A answer has two addresses: the first one listens.
    h.dns.set("two.test", ev::test::kTypeA, ev::test::address_answer({"127.0.0.1", "127.0.0.2"}));
    Outcome o = h.one("http://two.test:" + std::to_string(server.port()) + "/");
    EXPECT_TRUE(o.delivered()) << o.error;
}

TEST(WebhookDelivery, IpLiteralsIncludingIpv6) {
    FakeHttpServer server(ok);
    Harness h(true);
    EXPECT_TRUE(h.one(local_url(server)).delivered());
    std::unique_ptr<FakeHttpServer> v6;
    try {
        v6 = std::make_unique<FakeHttpServer>(ok, "::1");
    } catch (const std::exception&) {
        GTEST_SKIP() << "no IPv6 loopback here";
    }
    Outcome o = h.one("http://[::1]:" + std::to_string(v6->port()) + "/");
    EXPECT_TRUE(o.delivered()) << o.error;
}

TEST(WebhookDelivery, FailuresAreClassified) {
    Harness h(true);
    // Nothing listens: the port of a server just gone.
    int closed_port = 0;
    {
        FakeHttpServer gone(ok);
        closed_port = gone.port();
    }
    Outcome o = h.one("http://127.0.0.1:" + std::to_string(closed_port) + "/");
    EXPECT_EQ(o.cause, Cause::Connect) << o.error;

    o = h.one("http://nowhere.test/");  // the fake DNS answers NXDOMAIN
    EXPECT_EQ(o.cause, Cause::Dns);
    EXPECT_EQ(o.error.rfind("could not resolve nowhere.test", 0), 0u) << o.error;

    FakeHttpServer plain(ok);  // TLS to a plain HTTP server
    o = h.one("https://127.0.0.1:" + std::to_string(plain.port()) + "/");
    EXPECT_EQ(o.cause, Cause::Tls) << o.error;

    o = h.one("ftp://127.0.0.1/");
    EXPECT_EQ(o.cause, Cause::InvalidUrl);
    EXPECT_EQ(o.error, "webhook_url must use http or https: ftp://127.0.0.1/");
}

TEST(WebhookDelivery, CallbacksRunFromTheLoopAndMaySubmitAgain) {
    FakeHttpServer server(ok);
    Harness h(true);
    bool called = false;
    int chained = 0;
    DeliveryRequest bad;
    bad.url = "not a url";
    h.client->submit(std::move(bad), [&](std::uint64_t, const Outcome&) { called = true; });
    EXPECT_FALSE(called);  // never inside submit
    std::function<void(std::uint64_t, Outcome)> next = [&](std::uint64_t, const Outcome& o) {
        EXPECT_TRUE(o.delivered()) << o.error;
        if (++chained < 5) {
            DeliveryRequest r;
            r.url = local_url(server);
            h.client->submit(std::move(r), next);
        }
    };
    DeliveryRequest first;
    first.url = local_url(server);
    h.client->submit(std::move(first), next);
    auto deadline = Clock::now() + 10s;
    while ((chained < 5 || !called) && Clock::now() < deadline) h.loop.run_once(50ms);
    EXPECT_TRUE(called);
    EXPECT_EQ(chained, 5);
    EXPECT_EQ(h.client->in_flight(), 0u);
}

TEST(WebhookDelivery, DestroyingTheClientAbandonsDeliveriesCleanly) {
    FakeHttpServer server([](const HttpRequest&) {
        HttpResponse response;
        response.hang = true;
        return response;
    });
    Harness h(true);
    for (int i = 0; i < 5; ++i) h.submit(static_cast<std::uint64_t>(i), local_url(server));
    h.dns.set("slow.test", ev::test::kTypeA, ev::test::silent_answer());
    h.submit(99, "http://slow.test/");
    for (int i = 0; i < 10; ++i) h.loop.run_once(10ms);
    EXPECT_EQ(h.client->in_flight(), 6u);
    h.client.reset();
    EXPECT_TRUE(h.outcomes.empty());
    EXPECT_EQ(h.loop.watched(), 0u);
    EXPECT_EQ(h.loop.pending_timers(), 0u);
}
