#include "remote/report.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace ev::remote {

namespace {

using nlohmann::json;

template <typename T>
json nullable(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

json result_json(const ClaimedItem& item, const VerificationResult& r) {
    return json{{"email", item.email},
                {"normalized", nullable(r.normalized)},
                {"status", std::string(to_string(r.status))},
                {"reason", std::string(to_string(r.reason))},
                {"level", std::string(to_string(r.level))},
                {"suggestion", nullable(r.suggestion)},
                {"is_disposable", nullable(r.is_disposable)},
                {"is_role", nullable(r.is_role)},
                {"is_free", nullable(r.is_free)},
                {"is_catch_all", nullable(r.is_catch_all)},
                {"mx_found", nullable(r.mx_found)},
                {"mx_host", nullable(r.mx_host)},
                {"smtp_code", nullable(r.smtp_code)},
                {"smtp_message", nullable(r.smtp_message)},
                {"score", r.score},
                {"checked_at", iso_utc(r.checked_at_unix)},
                {"duration_ms", r.duration_ms},
                {"from_cache", r.from_cache}};
}

}  // namespace

std::string iso_utc(double seconds) {
    double whole = std::floor(seconds);
    auto t = static_cast<std::time_t>(whole);
    auto micros = static_cast<long>(std::lround((seconds - whole) * 1e6));
    if (micros >= 1000000) {
        ++t;
        micros -= 1000000;
    }
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[96];
    std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return out;
}

BatchReport build_report(const std::vector<SettledItem>& settled, const ReportEnds& ends,
                         const queue::RetryPolicy& policy, std::mt19937& random) {
    BatchReport out;
    json rows = json::array(), row_retries = json::array(), jobs = json::array(), job_retries = json::array();
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    for (const SettledItem& one : settled) {
        const ClaimedItem& item = one.item;
        const prober::Verdict& v = one.verdict;
        const VerificationResult& r = v.result;
        bool retry = v.deferred || policy.retries(v.final, item.attempts);
        if (retry) {
            // Deferred: nothing the address did; no attempt counted where the
            // protocol can say so (job addresses), the retry delay as is.
            double delay = v.deferred ? static_cast<double>(policy.retry_delay.count())
                                      : static_cast<double>(policy.backoff(item.attempts, jitter(random)).count());
            if (item.job)
                job_retries.push_back({{"job_id", item.job_id},
                                       {"address", item.address},
                                       {"attempts", item.attempts + (v.deferred ? 0 : 1)},
                                       {"delay", delay}});
            else
                row_retries.push_back({{"queue_id", item.queue_id},
                                       {"reason", std::string(to_string(r.reason))},
                                       {"delay", delay},
                                       {"deferred", v.deferred}});
            ++out.retries;
        } else {
            if (item.job)
                jobs.push_back({{"job_id", item.job_id},
                                {"address", item.address},
                                {"from_retry", !item.claim.has_value()},
                                {"result", result_json(item, r)}});
            else
                rows.push_back({{"queue_id", item.queue_id},
                                {"status", std::string(to_string(r.status))},
                                {"reason", std::string(to_string(r.reason))},
                                {"catch_all", nullable(r.is_catch_all)},
                                {"checked_at", iso_utc(r.checked_at_unix)},
                                {"level", std::string(to_string(item.level))}});
            ++out.verdicts;
        }
    }
    json report = {{"rows", rows},
                   {"row_retries", row_retries},
                   {"jobs", jobs},
                   {"job_retries", job_retries},
                   {"claims", ends.claims},
                   {"domains_done", ends.domains},
                   {"in_flight", ends.in_flight}};
    if (ends.error) report["error"] = *ends.error;
    out.json = report.dump();
    return out;
}

}  // namespace ev::remote
