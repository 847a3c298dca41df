// The workers' side of bulk jobs (extension/src/97_jobs.sql): writing what
// the probe found for the addresses claimed (job_claims.h). Each function is
// one step of their life, statements prepared once and kept; each needs a
// transaction and an SPI connection.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "jobs/verdict_slots.h"
#include "pg_prelude.h"
#include "verdict.h"
#include "verification_result.h"

namespace ev::pg {

struct JobItem {
    int64 job_id = 0;
    int32 address = 0;        // its ordinal in the job (job_address_chunks)
    std::string address_key;  // what is probed
    ev::Level level = ev::Level::Smtp;
    int attempts = 0;
    bool from_retry = false;  // claimed from job_retries, whose row its verdict ends
};

// The verdicts of claimed addresses: kept for every copy, counted per status
// and reason, and the jobs they finish completed (bulk.completed); the others
// send bulk.progress, at most once per email_verify.webhook_progress_interval.
// Returns the inputs (copies included) that got a verdict.
struct JobVerdict {
    const JobItem* item;
    const ev::VerificationResult* result;
};
int64 settle_job_items(const std::vector<JobVerdict>& verdicts);

// Due again after delay_seconds (job_retries): with one attempt more (a
// transient verdict, retried), or with none (deferred: the politeness budget
// or the prober's network, nothing the address did).
struct JobRetry {
    const JobItem* item;
    double delay_seconds = 0;
    bool count_attempt = true;
};
void retry_job_items(const std::vector<JobRetry>& retries);

// Sends event_type for each job (emit_event: NOTIFY and the outbox), in job order.
void emit_job_events(const std::vector<int64>& jobs, const char* event_type);

// Runs body with the planner set to reach job chunks one by one through
// their indexes, whatever the statistics say (a batch touches a few of a
// job's thousands, never a scan or a hash of them), in generic plans made
// once.
void with_index_lookups(const std::function<void()>& body);

// A row of job_address_chunks in the last result: its chunk number (column
// 1) and its verdicts (verdicts_column, a bytea; as many slots as
// size_column says). Verdicts this build cannot read count as none.
struct AddressChunk {
    int32 chunk = 0;
    ev::jobs::VerdictSlots slots;
    bool readable = true;
};
AddressChunk address_chunk_of_row(uint64 row, int verdicts_column, int size_column);

// A text cell, and the elements of a text[] cell, of the last result, as UTF-8.
std::string utf8_cell(uint64 row, int column);
std::vector<std::string> utf8_array_cell(uint64 row, int column);

// The ids of the last result's first column; a bigint[] of values.
std::vector<int64> bigints_of_result(uint64 rows);
Datum bigint_array(const std::vector<int64>& values);

}  // namespace ev::pg
