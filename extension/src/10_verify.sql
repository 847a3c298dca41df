-- Verification: the result type, verify_email/verify_emails, the syntax and
-- list helpers, and the prober's diagnostics. Their C side:
-- src/pg/verify_functions.cpp, src/pg/address_functions.cpp and
-- src/pg/prober_functions.cpp.

-- Two schemas. email_verify (made by CREATE EXTENSION, see email_verify.control)
-- holds what users call: `\df email_verify.*` is the API. email_verify_internal
-- holds what the triggers, the views, the event triggers and the background
-- workers call, most of it executable by no one but the extension's owner and
-- the workers' role (90_privileges.sql, 95_worker_role.sql).
CREATE SCHEMA email_verify_internal;
COMMENT ON SCHEMA email_verify_internal IS
    'email_verify: functions of the triggers, views and background workers; not an API';

-- One verdict. Column order is part of the contract (README.md, "The result").
CREATE TYPE email_verify.result AS (
    email         text,
    normalized    text,
    status        text,
    reason        text,
    level         text,
    suggestion    text,
    is_disposable boolean,
    is_role       boolean,
    is_free       boolean,
    is_catch_all  boolean,
    mx_found      boolean,
    mx_host       text,
    smtp_code     integer,
    smtp_message  text,
    score         integer,
    checked_at    timestamptz,
    duration_ms   double precision,
    from_cache    boolean
);

-- Verification ---------------------------------------------------------------

CREATE FUNCTION email_verify.verify_email(address text, level text DEFAULT NULL)
RETURNS email_verify.result
AS 'MODULE_PATHNAME', 'verify_email'
LANGUAGE C VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION email_verify.verify_email(text, text) IS
    'verifies one address at level syntax, dns or smtp (NULL: email_verify.default_level); dns and smtp need membership in email_verify_prober';

CREATE FUNCTION email_verify.verify_emails(addresses text[], level text DEFAULT NULL)
RETURNS SETOF email_verify.result
AS 'MODULE_PATHNAME', 'verify_emails'
LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;

COMMENT ON FUNCTION email_verify.verify_emails(text[], text) IS
'verify many addresses, one row per input in input order';

-- Both are callable unqualified with the default search_path (README.md,
-- "Using it"): copies in public.
CREATE FUNCTION public.verify_email(address text, level text DEFAULT NULL)
RETURNS email_verify.result
AS 'MODULE_PATHNAME', 'verify_email'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION public.verify_emails(addresses text[], level text DEFAULT NULL)
RETURNS SETOF email_verify.result
AS 'MODULE_PATHNAME', 'verify_emails'
LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;

-- Syntax helpers: options are arguments, not GUCs, so these are IMMUTABLE and
-- fit CHECK constraints and expression indexes.

CREATE FUNCTION email_verify.is_valid_syntax(address text,
        allow_quoted_local boolean DEFAULT false, allow_domain_literal boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'is_valid_syntax'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.normalize_email(address text,
        allow_quoted_local boolean DEFAULT false, allow_domain_literal boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'normalize_email'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.email_domain(address text,
        allow_quoted_local boolean DEFAULT false, allow_domain_literal boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'email_domain'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.syntax_error(address text,
        allow_quoted_local boolean DEFAULT false, allow_domain_literal boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'syntax_error'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- List helpers read email_verify.list_entries (and the GUC syntax options):
-- STABLE.

CREATE FUNCTION email_verify.suggest_email(address text)
RETURNS text
AS 'MODULE_PATHNAME', 'suggest_email'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.is_disposable(address_or_domain text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'is_disposable'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.is_free(address_or_domain text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'is_free'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.is_role(address_or_local_part text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'is_role'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Levels dns and smtp: the native prober ------------------------------------

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
    'forgets the cached verdicts, MX routes and catch-all answers of the whole server (and this backend''s counters); superuser only unless granted';
