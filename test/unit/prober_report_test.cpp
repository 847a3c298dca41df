#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "remote/report.h"

using ev::remote::build_report;
using ev::remote::ClaimedItem;

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

}  // namespace

TEST(ProberReport, FinalRetriedAndUnreachedItems) {
    ClaimedItem row;
    row.queue_id = 7;
    row.email = "a@x.test";
    row.level = ev::Level::Dns;
    ClaimedItem job;
    job.job = true;
    job.job_id = 3;
    job.address = 12;
    job.claim = 99;
    job.email = "b@x.test";
    ClaimedItem greylisted = job;
    greylisted.address = 13;
    greylisted.attempts = 1;
    ClaimedItem unreached = job;
    unreached.address = 14;
    std::vector<ClaimedItem> items{row, job, greylisted, unreached};
    std::vector<std::optional<ev::prober::Verdict>> outcomes{
        verdict(ev::Status::Valid, ev::Reason::DomainOk, true),
        verdict(ev::Status::Invalid, ev::Reason::NoDomain, true),
        verdict(ev::Status::Unknown, ev::Reason::Greylisted, false), std::nullopt};
    ev::queue::RetryPolicy policy{5, std::chrono::seconds(60)};
    std::mt19937 random(1);
    auto report = build_report(items, outcomes, policy, random, 0, std::nullopt);
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
    // A batch cut short keeps its claims for prober_goodbye to give back.
    EXPECT_FALSE(j.contains("claims"));
}

TEST(ProberReport, AFinishedBatchEndsItsClaims) {
    ClaimedItem job;
    job.job = true;
    job.claim = 5;
    job.email = "c@x.test";
    std::vector<std::optional<ev::prober::Verdict>> outcomes{verdict(ev::Status::Valid, ev::Reason::DomainOk, true)};
    std::mt19937 random(1);
    auto j = nlohmann::json::parse(build_report({job}, outcomes, {}, random, 3, std::string("boom")).json);
    EXPECT_EQ(j["claims"], nlohmann::json::array({5}));
    EXPECT_EQ(j["in_flight"], 3);
    EXPECT_EQ(j["error"], "boom");
}

TEST(ProberReport, IsoTimestamps) {
    EXPECT_EQ(ev::remote::iso_utc(0), "1970-01-01T00:00:00.000000+00:00");
    EXPECT_EQ(ev::remote::iso_utc(1.9999999), "1970-01-01T00:00:02.000000+00:00");
}
