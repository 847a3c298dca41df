-- The prober as the whole server sees it (shared memory; empty without
-- shared_preload_libraries): the MX sites being probed, with their session
-- slots and rate budgets.

CREATE FUNCTION email_verify_internal.prober_sites(
    OUT site text, OUT sessions_open int, OUT next_session_in_ms double precision,
    OUT next_rcpt_in_ms double precision)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_sites';

CREATE VIEW email_verify.prober_sites AS
SELECT site, sessions_open, next_session_in_ms, next_rcpt_in_ms
FROM email_verify_internal.prober_sites();

COMMENT ON VIEW email_verify.prober_sites IS
    'MX sites (a domain''s MX host names, sorted) with open sessions or a spent rate budget, for the whole server: sessions open, and how long until the next session and the next RCPT may go';

-- Which MX sites are probed is the probing roles' business. (A view's
-- functions are called with its reader's privileges: both are granted.)
REVOKE ALL ON email_verify.prober_sites FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION email_verify_internal.prober_sites() FROM PUBLIC;
GRANT SELECT ON email_verify.prober_sites TO email_verify_prober;
GRANT EXECUTE ON FUNCTION email_verify_internal.prober_sites() TO email_verify_prober;

-- The server's cache of verdicts, catch-all answers and routes (shared
-- memory, email_verify.shared_cache_size): its size and what it served.
CREATE FUNCTION email_verify_internal.prober_cache(
    OUT capacity bigint, OUT entries bigint, OUT hits bigint, OUT misses bigint,
    OUT stores bigint, OUT evictions bigint, OUT too_large bigint)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_cache';

CREATE VIEW email_verify.prober_cache AS
SELECT * FROM email_verify_internal.prober_cache();

COMMENT ON VIEW email_verify.prober_cache IS
    'the server''s shared prober cache since start: capacity and live entries, hits, misses, stores, evictions of live entries, entries too large to keep (NULLs without shared_preload_libraries)';

-- Counters only: everyone may read them (the function too, as the view's
-- reader calls it).
GRANT SELECT ON email_verify.prober_cache TO PUBLIC;

-- Emptying the server's cache changes every backend's answers: privileged.
REVOKE EXECUTE ON FUNCTION email_verify.clear_cache() FROM PUBLIC;

-- The prober's counters for the whole server since it started (every run of
-- every backend and worker; empty without shared_preload_libraries), one row
-- a counter so that a scraper needs no change when one is added; the server
-- cache's own counters are among them.
CREATE FUNCTION email_verify_internal.prober_counters(OUT counter text, OUT value bigint)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_counters';

CREATE VIEW email_verify.prober_counters AS
SELECT counter, value FROM email_verify_internal.prober_counters()
UNION ALL
SELECT 'cache_' || c.counter, c.value
FROM email_verify.prober_cache p
CROSS JOIN LATERAL (VALUES ('hits', p.hits), ('misses', p.misses), ('stores', p.stores),
                           ('evictions', p.evictions), ('entries', p.entries)) AS c(counter, value)
WHERE p.capacity IS NOT NULL;

COMMENT ON VIEW email_verify.prober_counters IS
    'the prober''s counters for the whole server since start: sessions, RCPTs, RCPT replies by class, errors by cause, server cache hits, misses, stores, evictions and entries';

-- Latency per phase of a probe, from power-of-two histograms: a quantile is
-- the upper bound of the bucket it falls in (at most twice the true value).
CREATE FUNCTION email_verify_internal.prober_latency(
    OUT phase text, OUT samples bigint, OUT p50_ms double precision, OUT p90_ms double precision,
    OUT p99_ms double precision)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_latency';

CREATE VIEW email_verify.prober_latency AS
SELECT phase, samples, p50_ms, p90_ms, p99_ms FROM email_verify_internal.prober_latency();

COMMENT ON VIEW email_verify.prober_latency IS
    'latency per probe phase (dns: a domain''s route; connect; banner; rcpt: one RCPT''s reply) for the whole server since start: samples and p50/p90/p99 (bucket upper bounds)';

GRANT SELECT ON email_verify.prober_counters, email_verify.prober_latency TO PUBLIC;

-- The prober's own network, as its sessions saw it (shared memory; 'ok' and
-- NULLs without shared_preload_libraries): 'blocked' when ten or more MX
-- hosts of distinct domains failed to connect or greeted with a blocklist
-- refusal with no session getting through in between, 'degraded' from three.
CREATE FUNCTION email_verify_internal.prober_health(
    OUT state text, OUT since timestamptz, OUT failing_hosts int, OUT seconds_since_success double precision,
    OUT evidence text)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_health';

CREATE VIEW email_verify.prober_health AS
SELECT state, since, failing_hosts, seconds_since_success, evidence FROM email_verify_internal.prober_health();

COMMENT ON VIEW email_verify.prober_health IS
    'whether the prober''s own network works (ok, degraded, blocked: outbound port 25 blocked or this IP refused everywhere), since when, and the evidence';

GRANT SELECT ON email_verify.prober_health TO PUBLIC;
