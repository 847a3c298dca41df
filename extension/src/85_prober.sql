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

-- Which MX sites are probed is the probing roles' business.
REVOKE ALL ON email_verify.prober_sites FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION email_verify_internal.prober_sites() FROM PUBLIC;
GRANT SELECT ON email_verify.prober_sites TO email_verify_prober;

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

REVOKE EXECUTE ON FUNCTION email_verify_internal.prober_cache() FROM PUBLIC;
GRANT SELECT ON email_verify.prober_cache TO PUBLIC;

-- Emptying the server's cache changes every backend's answers: privileged.
REVOKE EXECUTE ON FUNCTION email_verify.clear_cache() FROM PUBLIC;
