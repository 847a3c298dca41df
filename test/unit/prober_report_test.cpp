// The external prober's reports (report.h) and its rolling window
// (claim_window.h): what settled goes out once, a job claim ends with its
// last item, a domain lease with its domain's last item at level smtp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "remote/claim_window.h"
#include "remote/report.h"

using ev::remote::build_report;
using ev::remote::ClaimedItem;
using ev::remote::ClaimWindow;

namespace {

ev::prober::Verdict verdict(ev::Status status, ev::Reason reason, bool final) {
    ev::prober::Verdict v;
    v.result.status = status;
    v.result.reason = reason;
    v.result.level = ev::Level::Dns;
    v.result.checked_at_unix = 1764936000.25;  // 2025-12-05 12:00:00.25 UTC
    v.final = final;
    return v;
}

ClaimedItem job_item(std::int32_t address, std::optional<std::int64_t> claim, std::string email) {
    ClaimedItem job;
    job.job = true;
    job.job_id = 3;
    job.address = address;
    job.claim = claim;
    job.email = std::move(email);
    return job;
}

const ev::prober::Verdict kValid = verdict(ev::Status::Valid, ev::Reason::DomainOk, true);

}  // namespace

TEST(ProberReport, FinalAndRetriedItems) {
    ClaimedItem row;
    row.queue_id = 7;
    row.email = "a@x.test";
    row.level = ev::Level::Dns;
    ClaimedItem greylisted = job_item(13, 99, "b@x.test");
    greylisted.attempts = 1;
    std::vector<ev::remote::SettledItem> settled{
        {row, kValid},
        {job_item(12, 99, "b@x.test"), verdict(ev::Status::Invalid, ev::Reason::NoDomain, true)},
        {greylisted, verdict(ev::Status::Unknown, ev::Reason::Greylisted, false)}};
    ev::queue::RetryPolicy policy{5, std::chrono::seconds(60)};
    std::mt19937 random(1);
    auto report = build_report(settled, {}, policy, random);
    EXPECT_EQ(report.verdicts, 2);
    EXPECT_EQ(report.retries, 1);
    auto j = nlohmann::json::parse(report.json);
    ASSERT_EQ(j["rows"].size(), 1u);
    EXPECT_EQ(j["rows"][0]["queue_id"], 7);
    EXPECT_EQ(j["rows"][0]["status"], "valid");
    EXPECT_EQ(j["rows"][0]["checked_at"], "2025-12-05T12:00:00.250000+00:00");
    ASSERT_EQ(j["jobs"].size(), 1u);
    EXPECT_EQ(j["jobs"][0]["address"], 12);
    EXPECT_EQ(j["jobs"][0]["from_retry"], false);
    EXPECT_EQ(j["jobs"][0]["result"]["email"], "b@x.test");
    EXPECT_EQ(j["jobs"][0]["result"]["reason"], "no_domain");
    EXPECT_TRUE(j["jobs"][0]["result"]["mx_host"].is_null());
    ASSERT_EQ(j["job_retries"].size(), 1u);
    EXPECT_EQ(j["job_retries"][0]["attempts"], 2);
    EXPECT_GE(j["job_retries"][0]["delay"].get<double>(), 60.0);  // 60 s x 2^1 x [0.5, 1.5)
    EXPECT_EQ(j["claims"], nlohmann::json::array());
    EXPECT_EQ(j["domains_done"], nlohmann::json::array());
}

TEST(ClaimWindow, AClaimEndsWithItsLastItem) {
    ClaimWindow window;
    auto tickets =
        window.add({job_item(1, 5, "a@x.test"), job_item(2, 5, "b@y.test"), job_item(3, std::nullopt, "c@x.test")});
    ASSERT_EQ(tickets.size(), 3u);
    EXPECT_EQ(window.in_flight(), 3u);
    ASSERT_NE(window.find(tickets[1]), nullptr);
    EXPECT_EQ(window.find(tickets[1])->address, 2);
    std::mt19937 random(1);
    window.settle(tickets[0], kValid);
    window.settle(tickets[0], kValid);  // twice: once only
    auto first = nlohmann::json::parse(window.take_report({}, random, std::string("boom")).json);
    EXPECT_EQ(first["jobs"].size(), 1u);
    EXPECT_EQ(first["claims"], nlohmann::json::array());
    EXPECT_EQ(first["domains_done"], nlohmann::json::array());  // c@x.test is still out
    EXPECT_EQ(first["in_flight"], 2);
    EXPECT_EQ(first["error"], "boom");
    window.release(tickets[0]);
    window.settle(tickets[1], kValid);
    window.settle(tickets[2], kValid);
    window.release(tickets[1]);
    EXPECT_TRUE(window.has_news());
    auto second = nlohmann::json::parse(window.take_report({}, random, std::nullopt).json);
    EXPECT_EQ(second["jobs"].size(), 2u);
    EXPECT_EQ(second["claims"], nlohmann::json::array({5}));
    // x.test waits for c@x.test to be released (its sessions closed).
    EXPECT_EQ(second["domains_done"], nlohmann::json::array({"y.test"}));
    EXPECT_FALSE(window.has_news());
    window.release(tickets[2]);
    window.release(tickets[2]);  // twice: once only
    EXPECT_TRUE(window.has_news());
    auto third = nlohmann::json::parse(window.take_report({}, random, std::nullopt).json);
    EXPECT_EQ(third["jobs"].size(), 0u);
    EXPECT_EQ(third["domains_done"], nlohmann::json::array({"x.test"}));
    EXPECT_EQ(second["in_flight"], 0);
    EXPECT_FALSE(second.contains("error"));
    EXPECT_EQ(window.find(tickets[1]), nullptr);
    // Nothing new: an empty report.
    EXPECT_EQ(nlohmann::json::parse(window.take_report({}, random, std::nullopt).json)["jobs"].size(), 0u);
}

// A domain done, then claimed again before the report: its lease stays.
TEST(ClaimWindow, ADomainClaimedAgainIsNotDone) {
    ClaimWindow window;
    std::mt19937 random(1);
    auto first = window.add({job_item(1, std::nullopt, "a@x.test")});
    window.settle(first[0], kValid);
    window.release(first[0]);
    auto second = window.add({job_item(2, std::nullopt, "b@x.test")});
    auto j = nlohmann::json::parse(window.take_report({}, random, std::nullopt).json);
    EXPECT_EQ(j["domains_done"], nlohmann::json::array());
    window.settle(second[0], kValid);
    window.release(second[0]);
    j = nlohmann::json::parse(window.take_report({}, random, std::nullopt).json);
    EXPECT_EQ(j["domains_done"], nlohmann::json::array({"x.test"}));
}

TEST(ClaimWindow, OnlySmtpItemsHoldDomainLeases) {
    ClaimWindow window;
    ClaimedItem dns = job_item(1, std::nullopt, "a@x.test");
    dns.level = ev::Level::Dns;
    auto tickets = window.add({dns});
    window.settle(tickets[0], kValid);
    window.release(tickets[0]);
    std::mt19937 random(1);
    EXPECT_EQ(nlohmann::json::parse(window.take_report({}, random, std::nullopt).json)["domains_done"],
              nlohmann::json::array());
}

TEST(ProberReport, IsoTimestamps) {
    EXPECT_EQ(ev::remote::iso_utc(0), "1970-01-01T00:00:00.000000+00:00");
    EXPECT_EQ(ev::remote::iso_utc(1.9999999), "1970-01-01T00:00:02.000000+00:00");
}
