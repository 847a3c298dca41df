// The workers' side of bulk jobs (extension/src/97_jobs.sql): claiming the
// addresses of open jobs, and writing what the probe found. The addresses of
// a job (email_verify_internal.job_addresses) are its queue; each function is
// one step of their life, a statement prepared once and kept. Each needs a
// transaction and an SPI connection.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg_prelude.h"
#include "verdict.h"
#include "verification_result.h"

namespace ev::pg {

struct JobItem {
    int64 job_id = 0;
    std::string address_key;  // what is probed
    ev::Level level = ev::Level::Smtp;
    int attempts = 0;
};

// Up to limit addresses of the open jobs for worker_id until now() +
// lease_seconds, shared out evenly between the jobs (oldest first), so that
// several jobs progress side by side. Before claiming: claims whose lease
// ran out are pending again, and the jobs whose owner may no longer probe at
// their level fail (bulk.failed). Jobs claimed from are running.
std::vector<JobItem> claim_job_items(int32 worker_id, int limit, int lease_seconds);

// The verdicts of claimed addresses: kept for every copy, counted per status
// and reason, and the jobs they finish completed (bulk.completed); the others
// send bulk.progress, at most once per email_verify.webhook_progress_interval.
// Returns the inputs (copies included) that got a verdict.
struct JobVerdict {
    const JobItem* item;
    const ev::VerificationResult* result;
};
int64 settle_job_items(const std::vector<JobVerdict>& verdicts);

// Pending again after delay_seconds: with one attempt more (a transient
// verdict, retried), or with none (deferred: the politeness budget or the
// prober's network, nothing the address did).
struct JobRetry {
    const JobItem* item;
    double delay_seconds = 0;
    bool count_attempt = true;
};
void retry_job_items(const std::vector<JobRetry>& retries);

// Everything worker_id holds is pending again (a worker starting again, or
// one whose batch failed).
void release_job_claims(int32 worker_id);

}  // namespace ev::pg
