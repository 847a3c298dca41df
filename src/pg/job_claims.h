// Claiming the addresses of bulk jobs for a worker's batch (97_jobs.sql):
// new addresses a range of ordinals at a time (job_claims), read by their
// chunks; addresses put back one by one (job_retries). Claims hold a lease; the addresses of a
// claim whose worker died come back as retries when it runs out. Each needs
// a transaction and an SPI connection.
#pragma once

#include <vector>

#include "job_items.h"
#include "pg_prelude.h"

namespace ev::pg {

// A job_claims row: a range of one job's addresses.
struct JobRange {
    int64 id = 0;
    int64 job_id = 0;
};

struct JobClaim {
    std::vector<JobItem> items;
    std::vector<JobRange> ranges;  // ended with end_job_claims
    // A job had more than was claimed. Claims of a job follow one another
    // (its row is locked while one is made): a worker that found it locked
    // went idle, and is woken once this claim commits.
    bool more = false;
};

// Up to limit addresses of the open jobs for worker_id until now() +
// lease_seconds, shared out evenly between the jobs (the 64 oldest), so that
// several jobs progress side by side: each job's due retries first, then its
// new addresses in input order. A job at level syntax or dns takes several
// times its share (its checks cost less than the claim's round trips). Jobs claimed from are running. Every so often
// first: jobs whose owner may no longer probe at their level fail
// (bulk.failed), and claims whose lease ran out give their addresses back.
JobClaim claim_job_items(int32 worker_id, int limit, int lease_seconds);

// The batch of these ranges (job_claims ids) of worker_id has been written
// back: they are no longer held.
void end_job_claims(const std::vector<int64>& ranges, int32 worker_id);
void end_job_claims(const std::vector<JobRange>& ranges, int32 worker_id);

// Everything worker_id holds comes back as retries, due now (a worker
// starting again, or one whose batch failed).
void release_job_claims(int32 worker_id);

}  // namespace ev::pg
