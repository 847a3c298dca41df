-- email_verify 0.2.0: levels dns and smtp (the native prober).
\echo Use "ALTER EXTENSION email_verify UPDATE" to load this file. \quit

-- Probing sends traffic to other hosts on the server's behalf, so levels dns
-- and smtp are a privilege, in the way pg_read_server_files guards COPY from
-- files: verify_email stays callable by everyone at level 'syntax', and
-- answers the network levels only to superusers and members of this role.
-- Roles are cluster-wide: the role outlives DROP EXTENSION and is shared by
-- every database that installs the extension.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'email_verify_prober') THEN
        CREATE ROLE email_verify_prober NOLOGIN;
        COMMENT ON ROLE email_verify_prober IS
            'members may call email_verify functions at levels dns and smtp (network probes)';
    END IF;
END
$$;

-- What this backend's prober has cached and seen; for diagnosis and tests.
CREATE FUNCTION email_verify.prober_stats(
    OUT cached_results bigint, OUT cached_routes bigint,
    OUT sessions_opened bigint, OUT max_sessions_per_host int, OUT rcpts_sent bigint,
    OUT catch_all_probes bigint, OUT tls_sessions bigint, OUT tls_unverified bigint)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_stats';
COMMENT ON FUNCTION email_verify.prober_stats() IS
    'counters of this backend''s prober since it started (or since clear_cache): sessions, RCPTs, catch-all probes, TLS';

CREATE FUNCTION email_verify.clear_cache()
RETURNS void
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'clear_cache';
COMMENT ON FUNCTION email_verify.clear_cache() IS
    'forgets this backend''s cached verdicts, MX routes and catch-all answers';

COMMENT ON FUNCTION email_verify.verify_email(text, text) IS
    'verifies one address at level syntax, dns or smtp (NULL: email_verify.default_level); dns and smtp need membership in email_verify_prober';
