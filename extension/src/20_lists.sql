-- Risk lists: the shipped lists (compiled in from data/) and the user's own
-- entries on top of them. Their C side: src/pg/list_functions.cpp and
-- src/pg/list_cache.cpp.

CREATE FUNCTION email_verify_internal.list_entry_is_valid(list text, entry text)
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
    CONSTRAINT list_entry_is_valid CHECK (email_verify_internal.list_entry_is_valid(list, entry))
);

COMMENT ON TABLE email_verify.list_entries IS
'user additions (listed) and removals (not listed) on top of the shipped risk lists';

-- Kept by pg_dump: the rows are the user's, not the extension's.
SELECT pg_catalog.pg_extension_config_dump('email_verify.list_entries', '');

CREATE FUNCTION email_verify_internal.list_entries_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'list_entries_changed'
LANGUAGE C;

CREATE TRIGGER list_entries_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON email_verify.list_entries
FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.list_entries_changed();
