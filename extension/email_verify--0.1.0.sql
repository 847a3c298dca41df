-- email_verify 0.1.0: syntax level, risk lists and typo suggestions.
\echo Use "CREATE EXTENSION email_verify" to load this file. \quit

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
'verify one address at level syntax, dns or smtp (NULL: email_verify.default_level)';

CREATE FUNCTION email_verify.verify_emails(addresses text[], level text DEFAULT NULL)
RETURNS SETOF email_verify.result
AS 'MODULE_PATHNAME', 'verify_emails'
LANGUAGE C VOLATILE PARALLEL SAFE ROWS 100;

COMMENT ON FUNCTION email_verify.verify_emails(text[], text) IS
'verify many addresses, one row per input in input order';

-- Both are callable unqualified with the default search_path (README.md).
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

-- Risk lists -------------------------------------------------------------------

CREATE FUNCTION email_verify.list_entry_is_valid(list text, entry text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'list_entry_is_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION email_verify.shipped_list(list text)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'shipped_list'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 5000;

COMMENT ON FUNCTION email_verify.shipped_list(text) IS
'entries of a risk list as shipped with this build (disposable, free, role)';

-- The user's own entries, on top of the shipped lists: listed = true adds an
-- entry, listed = false hides a shipped one. A domain entry also covers its
-- subdomains for the disposable list; the most specific entry decides.
CREATE TABLE email_verify.list_entries (
    list       text NOT NULL CHECK (list IN ('disposable', 'free', 'role')),
    entry      text NOT NULL,
    listed     boolean NOT NULL DEFAULT true,
    note       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list, entry),
    CONSTRAINT list_entry_is_valid CHECK (email_verify.list_entry_is_valid(list, entry))
);

COMMENT ON TABLE email_verify.list_entries IS
'user additions (listed) and removals (not listed) on top of the shipped risk lists';

-- Kept by pg_dump: the rows are the user's, not the extension's.
SELECT pg_catalog.pg_extension_config_dump('email_verify.list_entries', '');

CREATE FUNCTION email_verify.list_entries_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'list_entries_changed'
LANGUAGE C;

CREATE TRIGGER list_entries_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON email_verify.list_entries
FOR EACH STATEMENT EXECUTE FUNCTION email_verify.list_entries_changed();

-- Privileges -------------------------------------------------------------------

GRANT USAGE ON SCHEMA email_verify TO PUBLIC;
-- Every backend reads the table to build its list cache.
GRANT SELECT ON email_verify.list_entries TO PUBLIC;
