// Domain leases: see domain_leases.h. Statements prepared once and kept.
#include "domain_leases.h"

#include <algorithm>
#include <map>

#include "guard.h"
#include "queue/domain_tally.h"
#include "spi_plans.h"

namespace ev::pg {

namespace {

// The in-server workers (slots below 1000, the first prober id) share their
// politeness through shared memory: they hold leases together, as one
// claimer, so that two workers never defer each other's items.
constexpr int32 kFirstProberId = 1000;
constexpr int32 kServerHolder = -1;

// The transaction-level advisory lock that serializes the claims' leasing
// ("ev_lease"; README, "Probers on other machines").
constexpr int64 kLeaseLockKey = 0x65765f6c65617365;

int32 holder_of(int32 claimer) { return claimer < kFirstProberId ? kServerHolder : claimer; }

Datum domain_array(const std::vector<std::string>& domains) {
    std::vector<Datum> values;
    values.reserve(domains.size());
    for (const std::string& d : domains) values.push_back(text_value(d));
    return make_array(values, {}, TEXTOID);
}

// An installation not yet updated to 0.7.0 has no leases: everything is granted.
bool leases_table_exists() {
    bool exists = false;
    pg_call([&] {
        Oid schema = get_namespace_oid("email_verify_internal", true);
        exists = OidIsValid(schema) && OidIsValid(get_relname_relid("domain_leases", schema));
    });
    return exists;
}

}  // namespace

LeaseOutcome lease_domains(int32 holder, const std::vector<std::string>& domains, int lease_seconds) {
    LeaseOutcome out;
    out.granted.assign(domains.size(), false);
    out.other_until.assign(domains.size(), 0);
    if (domains.empty()) return out;
    if (!leases_table_exists()) {
        out.granted.assign(domains.size(), true);
        return out;
    }
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[4] = {INT4OID, TEXTARRAYOID, INT4OID, INT4ARRAYOID};
        // In domain order, and one claim transaction at a time (the lock
        // below): a claim leases twice (its rows, then its job addresses),
        // and two claims would otherwise wait on each other in a cycle. The
        // workers' lease keeps the set of worker slots whose batches hold it
        // (a slot once, however often its claim leases the domain). The row
        // of a domain another holds is left as it is; its items are due
        // again when its lease ends, or in 5 seconds when that is sooner (a
        // holder frees a domain as soon as it is done with it, long before
        // its lease runs out).
        plan = keep_plan(
            "WITH wanted AS (SELECT DISTINCT d FROM unnest($2) AS d WHERE d <> '' ORDER BY d), "
            "taken AS ("
            "    INSERT INTO email_verify_internal.domain_leases AS l (domain, holder, lease_until, workers)"
            "    SELECT d, $1, now() + make_interval(secs => $3), $4 FROM wanted ORDER BY d"
            "    ON CONFLICT (domain) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until,"
            "        workers = CASE WHEN l.lease_until >= now()"
            "                       THEN ARRAY(SELECT DISTINCT w FROM unnest(l.workers || excluded.workers) AS w ORDER "
            "BY w)"
            "                       ELSE excluded.workers END"
            "    WHERE l.holder = excluded.holder OR l.lease_until < now()"
            "    RETURNING l.domain"
            ") "
            "SELECT w.d, t.domain IS NOT NULL, least(l.lease_until, now() + interval '5 seconds') "
            "FROM wanted w LEFT JOIN taken t ON t.domain = w.d "
            "LEFT JOIN email_verify_internal.domain_leases l ON l.domain = w.d AND t.domain IS NULL",
            4, types);
    }
    static SPIPlanPtr one_at_a_time = nullptr;
    if (!one_at_a_time) {
        Oid types[1] = {INT8OID};
        one_at_a_time = keep_plan("SELECT pg_advisory_xact_lock($1)", 1, types);
    }
    Datum key[1] = {Int64GetDatum(kLeaseLockKey)};
    run_kept_plan(one_at_a_time, key);
    std::vector<Datum> slot;
    if (holder_of(holder) == kServerHolder) slot.push_back(Int32GetDatum(holder));
    Datum args[4] = {Int32GetDatum(holder_of(holder)), domain_array(domains), Int32GetDatum(lease_seconds),
                     make_array(slot, {}, INT4OID)};
    uint64 rows = run_kept_plan(plan, args);
    std::map<std::string, std::pair<bool, Datum>> by_domain;
    for (uint64 r = 0; r < rows; ++r) {
        std::string domain = cell_text(SPI_tuptable, r, 1).value_or("");
        bool granted = cell_text(SPI_tuptable, r, 2).value_or("f") == "t";
        Datum until = 0;
        pg_call([&] {
            bool isnull = true;
            until = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull);
            if (isnull) until = TimestampTzGetDatum(GetCurrentTimestamp());
        });
        by_domain[domain] = {granted, until};
    }
    for (std::size_t k = 0; k < domains.size(); ++k) {
        if (domains[k].empty()) {
            out.granted[k] = true;  // nothing to lease: the address has no domain
            continue;
        }
        auto it = by_domain.find(domains[k]);
        if (it == by_domain.end()) continue;
        out.granted[k] = it->second.first;
        out.other_until[k] = it->second.second;
    }
    return out;
}

void release_domains(int32 worker_slot, const std::vector<std::string>& domains) {
    if (domains.empty() || !leases_table_exists()) return;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[3] = {INT4OID, TEXTARRAYOID, INT4OID};
        // The workers' batches overlap: a domain two of them hold is free
        // when the second is done with it. A lease this slot holds alone
        // goes; the others lose the slot (disjoint rows, one snapshot).
        plan = keep_plan(
            "WITH done AS (SELECT DISTINCT d FROM unnest($2) AS d), "
            "dropped AS ("
            "    DELETE FROM email_verify_internal.domain_leases l USING done"
            "    WHERE l.domain = done.d AND l.holder = $3 AND l.workers <@ ARRAY[$1] RETURNING l.domain"
            ") "
            "UPDATE email_verify_internal.domain_leases l SET workers = array_remove(l.workers, $1) FROM done "
            "WHERE l.domain = done.d AND l.holder = $3 AND NOT l.workers <@ ARRAY[$1]",
            3, types);
    }
    Datum args[3] = {Int32GetDatum(worker_slot), domain_array(domains), Int32GetDatum(kServerHolder)};
    run_kept_plan(plan, args);
}

}  // namespace ev::pg

namespace ev::pg {

namespace {

// The domains of the items at level smtp; which of them holder may probe.
template <typename Item, typename Address>
std::vector<bool> leased(int32 holder, const std::vector<Item>& items, int lease_seconds, Address address,
                         std::vector<Datum>& until) {
    std::vector<std::string> domains;
    std::vector<std::size_t> of_item;
    for (std::size_t k = 0; k < items.size(); ++k)
        if (items[k].level == ev::Level::Smtp) {
            domains.push_back(ev::queue::lease_domain(address(items[k])));
            of_item.push_back(k);
        }
    std::vector<bool> keep(items.size(), true);
    until.assign(items.size(), 0);
    if (domains.empty()) return keep;
    LeaseOutcome outcome = lease_domains(holder, domains, lease_seconds);
    for (std::size_t j = 0; j < domains.size(); ++j)
        if (!outcome.granted[j]) {
            keep[of_item[j]] = false;
            until[of_item[j]] = outcome.other_until[j];
        }
    return keep;
}

}  // namespace

std::vector<ClaimedItem> keep_leased_rows(int32 holder, std::vector<ClaimedItem> items, int lease_seconds) {
    std::vector<Datum> until;
    std::vector<bool> keep = leased(
        holder, items, lease_seconds, [](const ClaimedItem& i) -> const std::string& { return i.email; }, until);
    std::vector<ClaimedItem> kept;
    std::vector<Datum> ids, untils;
    for (std::size_t k = 0; k < items.size(); ++k) {
        if (keep[k]) {
            kept.push_back(std::move(items[k]));
        } else {
            ids.push_back(Int64GetDatum(items[k].queue_id));
            untils.push_back(until[k]);
        }
    }
    if (ids.empty()) return kept;
    static SPIPlanPtr plan = nullptr;
    if (!plan) {
        Oid types[2] = {INT8ARRAYOID, TIMESTAMPTZARRAYOID};
        plan = keep_plan(
            "UPDATE email_verify.queue q SET state = 'pending', claimed_by = NULL, lease_until = NULL,"
            " not_before = u.until "
            "FROM ROWS FROM (unnest($1), unnest($2)) AS u(id, until) WHERE q.id = u.id AND q.state = 'claimed'",
            2, types);
    }
    Datum values[2] = {make_array(ids, {}, INT8OID), make_array(untils, {}, TIMESTAMPTZOID)};
    run_kept_plan(plan, values);
    return kept;
}

std::vector<JobItem> keep_leased_job_items(int32 holder, std::vector<JobItem> items, int lease_seconds) {
    std::vector<Datum> until;
    std::vector<bool> keep = leased(
        holder, items, lease_seconds, [](const JobItem& i) -> const std::string& { return i.address_key; }, until);
    std::vector<JobItem> kept, deferred;
    std::vector<double> delays;
    TimestampTz now = 0;
    pg_call([&] { now = GetCurrentTimestamp(); });
    for (std::size_t k = 0; k < items.size(); ++k) {
        if (keep[k]) {
            kept.push_back(std::move(items[k]));
        } else {
            delays.push_back(static_cast<double>(DatumGetTimestampTz(until[k]) - now) / 1e6);
            deferred.push_back(std::move(items[k]));
        }
    }
    std::vector<JobRetry> retries;
    retries.reserve(deferred.size());
    for (std::size_t k = 0; k < deferred.size(); ++k)
        retries.push_back({&deferred[k], std::max(delays[k], 0.0), false});
    retry_job_items(retries);
    return kept;
}

}  // namespace ev::pg
