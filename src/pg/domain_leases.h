// Politeness across machines: a domain is probed at level smtp by one
// claimer at a time (the server's workers together, holder -1, or a prober
// on another machine, its id), which holds a lease on it
// (email_verify_internal.domain_leases) from its claim until it holds no item
// of the domain any more (a worker's batch has settled them all; a prober
// says so in its report), or until the claim's lease runs out (a claimer
// that died). Within its lease the holder applies the per-MX-host limits as
// it always does (the server's shared memory, a prober's own), so the limits
// hold for every prober and worker together, domain by domain. Items of a
// domain another claimer holds are put back, no attempt counted, until its
// lease ends. See the README, "Probers on other machines", for the trade-off
// (domains that share MX hosts are leased apart).
#pragma once

#include <string>
#include <vector>

#include "job_items.h"
#include "pg_prelude.h"
#include "queue_items.h"

namespace ev::pg {

// Leases the domains for holder until now() + lease_seconds (taking over a
// lease that ran out, extending its own). Returns, for each domain, whether
// holder now holds it; other_until[k] (when not) is when to ask again: the
// other's lease end, at most 5 seconds away (a timestamptz Datum). Needs a transaction and an SPI connection.
struct LeaseOutcome {
    std::vector<bool> granted;
    std::vector<Datum> other_until;  // for refused domains: when to ask again
};
LeaseOutcome lease_domains(int32 holder, const std::vector<std::string>& domains, int lease_seconds);

// The in-server worker of this slot holds no item of these domains any
// more: their leases end, or go on for the other workers whose batches hold
// them too. (A prober's leases end by its report: prober_report.) Needs a
// transaction and an SPI connection.
void release_domains(int32 worker_slot, const std::vector<std::string>& domains);

}  // namespace ev::pg

namespace ev::pg {

// The claim filters: of the items just claimed, those at level smtp whose
// domain another claimer holds are put back until its lease ends (rows:
// pending again; job addresses: retries), no attempt counted; the rest is
// returned, their domains leased to holder.
std::vector<ClaimedItem> keep_leased_rows(int32 holder, std::vector<ClaimedItem> items, int lease_seconds);
std::vector<JobItem> keep_leased_job_items(int32 holder, std::vector<JobItem> items, int lease_seconds);

}  // namespace ev::pg
