-- The signup moment: a decision an application can act on (accept, warn,
-- block) under a named policy, within a time budget, and per-role limits on
-- network-level checks. The decision itself is the module's
-- (src/core/signup/policy.h, src/pg/signup_functions.cpp).

-- Policies -------------------------------------------------------------------------

-- Whether a decision and an unknown rule are among the words the policies take.
CREATE FUNCTION email_verify_internal.is_decision(decision text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT decision IN ('accept', 'warn', 'block') $$;

-- A reasons map of a policy: every key a reason of the result's vocabulary,
-- every value a decision.
CREATE FUNCTION email_verify_internal.is_reason_map(reasons jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_typeof(reasons) = 'object'
       AND NOT EXISTS (
           SELECT FROM jsonb_each(reasons) e
           WHERE e.key NOT IN ('accepted', 'syntax_ok', 'domain_ok', 'syntax', 'no_domain', 'null_mx',
                               'no_mail_server', 'mailbox_not_found', 'mailbox_disabled', 'disposable',
                               'mailbox_full', 'catch_all', 'role_account', 'greylisted', 'temporary_failure',
                               'smtp_blocked', 'timeout', 'connection_failed', 'dns_error')
              OR jsonb_typeof(e.value) <> 'string'
              OR NOT email_verify_internal.is_decision(e.value #>> '{}'))
$$;

-- Named policies. The decision for a verdict is the most severe (block >
-- warn > accept) of its status's decision (or its reason's, when the reason
-- is in `reasons`) and the decisions of the flags it has. `unknown` says what
-- an unknown verdict does: accept, accept_and_recheck (accept, and leave the
-- address to be checked again later) or block.
CREATE TABLE email_verify.signup_policies (
    name          text PRIMARY KEY,
    valid         text NOT NULL DEFAULT 'accept' CHECK (email_verify_internal.is_decision(valid)),
    risky         text NOT NULL DEFAULT 'warn' CHECK (email_verify_internal.is_decision(risky)),
    invalid       text NOT NULL DEFAULT 'block' CHECK (email_verify_internal.is_decision(invalid)),
    unknown       text NOT NULL DEFAULT 'accept_and_recheck'
                  CHECK (unknown IN ('accept', 'accept_and_recheck', 'block')),
    reasons       jsonb NOT NULL DEFAULT '{}'
                  CONSTRAINT signup_policies_reasons_check CHECK (email_verify_internal.is_reason_map(reasons)),
    disposable    text CHECK (email_verify_internal.is_decision(disposable)),
    role_account  text CHECK (email_verify_internal.is_decision(role_account)),
    free_provider text CHECK (email_verify_internal.is_decision(free_provider)),
    catch_all     text CHECK (email_verify_internal.is_decision(catch_all)),
    suggestion    text CHECK (email_verify_internal.is_decision(suggestion)),
    description   text
);
COMMENT ON TABLE email_verify.signup_policies IS
    'named signup policies for email_verify.check_signup and sync watches: accept, warn or block per status, reason and flag';

INSERT INTO email_verify.signup_policies (name, suggestion, description)
VALUES ('default', 'warn', 'shipped: blocks invalid addresses, warns on risky ones and typos, lets unknown ones in to be checked again');

-- The shipped 'default' row is there before a restore loads pg_dump's copy of
-- it: an INSERT of an existing 'default' replaces it instead of failing.
CREATE FUNCTION email_verify_internal.replace_default_policy()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.name = 'default' AND EXISTS (SELECT FROM email_verify.signup_policies WHERE name = 'default') THEN
        UPDATE email_verify.signup_policies
        SET valid = NEW.valid, risky = NEW.risky, invalid = NEW.invalid, unknown = NEW.unknown,
            reasons = NEW.reasons, disposable = NEW.disposable, role_account = NEW.role_account,
            free_provider = NEW.free_provider, catch_all = NEW.catch_all, suggestion = NEW.suggestion,
            description = NEW.description
        WHERE name = 'default';
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER replace_default_policy BEFORE INSERT ON email_verify.signup_policies
FOR EACH ROW EXECUTE FUNCTION email_verify_internal.replace_default_policy();

-- A policy a watch uses cannot go away under it. SECURITY DEFINER: members
-- of email_verify_admin edit policies but may not read the watches.
CREATE FUNCTION email_verify_internal.keep_policies_in_use()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_table regclass;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.name = NEW.name THEN
        RETURN NEW;
    END IF;
    IF OLD.name = 'default' THEN
        RAISE EXCEPTION 'the shipped signup policy "default" cannot be renamed or deleted'
            USING ERRCODE = 'object_in_use', HINT = 'Edit its columns instead.';
    END IF;
    SELECT w.relid INTO user_table FROM email_verify.watches w WHERE w.policy = OLD.name LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'signup policy "%" is used by the watch of table %', OLD.name, user_table
            USING ERRCODE = 'object_in_use', HINT = 'Watch the table with another policy first.';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER keep_policies_in_use BEFORE UPDATE OR DELETE ON email_verify.signup_policies
FOR EACH ROW EXECUTE FUNCTION email_verify_internal.keep_policies_in_use();

-- Consumer limits --------------------------------------------------------------------

-- Network-level checks (levels dns and smtp) a role's own calls may make:
-- verify_email, verify_emails, check_signup and the inline checks of sync
-- watches it writes to. NULL or 0: no limit of that kind. Roles without a row
-- have email_verify.consumer_checks_per_minute / _per_day; superusers none.
CREATE TABLE email_verify.consumer_limits (
    role_name  name PRIMARY KEY,
    per_minute int CHECK (per_minute >= 0),
    per_day    int CHECK (per_day >= 0)
);
COMMENT ON TABLE email_verify.consumer_limits IS
    'per-role limits on network-level checks (per minute, per day); roles without a row have the email_verify.consumer_checks_* settings';

-- A role's limits as the module applies them (0: none). Any role may ask: a
-- limit is no secret, and the module asks as the calling role. plpgsql, not
-- sql: it runs on every network-level check, and a SECURITY DEFINER sql
-- function is planned anew at each call (~80 us) where plpgsql keeps its plan.
CREATE FUNCTION email_verify_internal.consumer_limits_of(role name, OUT per_minute int, OUT per_day int)
RETURNS record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT coalesce(l.per_minute, 0), coalesce(l.per_day, 0) INTO per_minute, per_day
    FROM email_verify.consumer_limits l WHERE l.role_name = role;
    IF NOT FOUND THEN
        per_minute := current_setting('email_verify.consumer_checks_per_minute')::int;
        per_day := current_setting('email_verify.consumer_checks_per_day')::int;
    END IF;
END
$$;

-- The counters since the server started (shared memory; this backend's own
-- without shared_preload_libraries): the calling role's own, every role's
-- for superusers and members of email_verify_admin.
CREATE FUNCTION email_verify_internal.consumer_counters(
    OUT role_oid oid, OUT checks bigint, OUT refusals bigint, OUT last_refusal_at timestamptz)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'consumer_counters';

-- Each role's limits (NULL: none) and use, for the roles that have a row in
-- consumer_limits or have made a check.
CREATE VIEW email_verify.consumer_limit_stats WITH (security_barrier) AS
SELECT r.rolname AS role_name,
       CASE WHEN r.rolsuper THEN NULL ELSE nullif(l.per_minute, 0) END AS per_minute,
       CASE WHEN r.rolsuper THEN NULL ELSE nullif(l.per_day, 0) END AS per_day,
       coalesce(c.checks, 0) AS checks, coalesce(c.refusals, 0) AS refusals, c.last_refusal_at
FROM pg_roles r
LEFT JOIN email_verify_internal.consumer_counters() c ON c.role_oid = r.oid
CROSS JOIN LATERAL email_verify_internal.consumer_limits_of(r.rolname) l
WHERE (c.role_oid IS NOT NULL OR EXISTS (SELECT FROM email_verify.consumer_limits x WHERE x.role_name = r.rolname))
  AND email_verify_internal.may_see_job(current_user, r.oid);
COMMENT ON VIEW email_verify.consumer_limit_stats IS
    'network-level checks and refusals per role since the server started, with the limits that apply (NULL: none)';

-- The decision ------------------------------------------------------------------------

CREATE TYPE email_verify.signup_decision AS (
    decision      text,
    message       text,
    suggestion    text,
    status        text,
    reason        text,
    recheck       boolean,
    budget_spent  boolean,
    normalized    text,
    is_disposable boolean,
    is_role       boolean,
    is_free       boolean,
    is_catch_all  boolean,
    from_cache    boolean,
    checked_at    timestamptz,
    duration_ms   double precision
);

CREATE FUNCTION email_verify.check_signup(address text, policy text DEFAULT 'default', level text DEFAULT 'smtp',
                                          budget interval DEFAULT '300 ms')
RETURNS email_verify.signup_decision
AS 'MODULE_PATHNAME', 'check_signup'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.check_signup(text, text, text, interval) IS
    'the decision for an address at a signup form (accept, warn, block) under a policy, within a time budget';

-- The same for a sync watch's trigger (sync_probe, as the extension's owner):
-- no privilege check (watch() made it), the writer's limit already taken or
-- refused (over_limit), and with no policy the one a watch without one has
-- (block invalid when reject_invalid, otherwise let everything in).
CREATE FUNCTION email_verify_internal.signup_verdict(address text, policy text, level text, budget interval,
                                                     reject_invalid boolean, over_limit boolean)
RETURNS email_verify.signup_decision
AS 'MODULE_PATHNAME', 'signup_verdict'
LANGUAGE C VOLATILE;

-- Takes one network-level check from role's limit for a sync watch's inline
-- check; false when the limit is spent (the refusal is counted).
CREATE FUNCTION email_verify_internal.take_consumer_check(role oid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'take_consumer_check'
LANGUAGE C STRICT VOLATILE;

-- Privileges ----------------------------------------------------------------------------

-- Policies are no secret: every role may read them; the owner and members of
-- email_verify_admin write them. Limits: only they write them (a role must
-- not lift its own); a role reads its own through the view.
GRANT SELECT ON email_verify.signup_policies TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON email_verify.signup_policies, email_verify.consumer_limits TO email_verify_admin;
GRANT SELECT ON email_verify.consumer_limits TO email_verify_admin;
REVOKE ALL ON email_verify.consumer_limits FROM PUBLIC;
GRANT SELECT ON email_verify.consumer_limit_stats TO PUBLIC;
REVOKE EXECUTE ON FUNCTION
    email_verify_internal.replace_default_policy(),
    email_verify_internal.keep_policies_in_use(),
    email_verify_internal.signup_verdict(text, text, text, interval, boolean, boolean),
    email_verify_internal.take_consumer_check(oid)
FROM PUBLIC;

-- Kept by pg_dump: the user's policies (the edited 'default' too) and limits.
SELECT pg_catalog.pg_extension_config_dump('email_verify.signup_policies', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.consumer_limits', '');
