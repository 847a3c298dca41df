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
