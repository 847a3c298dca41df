-- email_verify 0.6.0: the signup decision (policies, a time budget, consumer
-- limits) and stricter syntax and typo verdicts. Each part below is its
-- source file (extension/src/) as it is, or the statements that change an
-- object of 0.5.0.
\echo Use "ALTER EXTENSION email_verify UPDATE TO '0.6.0'" to load this file. \quit

-- Changed objects of 0.5.0 (extension/src/30_tables.sql, 50_watch.sql,
-- 90_privileges.sql): sync watches take a policy and a time budget.

ALTER TABLE email_verify.watches
    ADD COLUMN policy text,
    ADD COLUMN sync_budget interval CHECK (sync_budget > interval '0' AND sync_budget <= interval '1 minute');

ALTER TYPE email_verify.inline_check
    ADD ATTRIBUTE decision text,
    ADD ATTRIBUTE message text,
    ADD ATTRIBUTE complete boolean;

DROP FUNCTION email_verify_internal.sync_probe(regclass, name, text);
CREATE FUNCTION email_verify_internal.sync_probe(rel regclass, col name, address text, writer oid)
RETURNS email_verify.inline_check
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w email_verify.watches := email_verify_internal.watch_of(rel, col);
    r email_verify.result;
    d email_verify.signup_decision;
    c email_verify.inline_check;
    over_limit boolean;
BEGIN
    c.active := w.suspended_reason IS NULL AND w.mode = 'sync';
    c.watched_table := w.relid;
    c.level := w.level;
    c.reject_invalid := w.reject_invalid;
    IF NOT c.active OR address IS NULL THEN
        RETURN c;
    END IF;
    -- Every inline check past syntax takes one from the writer's check limit,
    -- with or without a policy (counted against the writer, who cannot forge
    -- it: sync_verdict passes its own user).
    over_limit := w.level <> 'syntax' AND NOT email_verify_internal.take_consumer_check(writer);
    IF w.policy IS NOT NULL OR w.sync_budget IS NOT NULL OR over_limit THEN
        -- Decided under the policy, within the budget (at most level dns
        -- without one); over the limit, from the syntax alone.
        d := email_verify_internal.signup_verdict(address, w.policy,
                 CASE WHEN w.sync_budget IS NULL AND w.level = 'smtp' THEN 'dns' ELSE w.level END,
                 coalesce(w.sync_budget, interval '1 minute'), w.reject_invalid, over_limit);
        c.status := d.status;
        c.reason := d.reason;
        c.is_catch_all := d.is_catch_all;
        c.checked_at := d.checked_at;
        c.suggestion := d.suggestion;
        c.decision := d.decision;
        c.message := d.message;
        -- A verdict cut short (the budget ran out, the limit was spent) is the
        -- syntax's at best, even when risky: the worker still owes the row its
        -- check at the watch's level. Only invalid is final at any level.
        c.complete := d.status = 'invalid'
                      OR (d.status <> 'unknown' AND NOT d.recheck AND NOT d.budget_spent AND NOT over_limit
                          AND (w.level <> 'smtp' OR w.sync_budget IS NOT NULL));
        RETURN c;
    END IF;
    -- At most level dns inline: a mailbox probe takes seconds.
    r := email_verify.verify_email(address, CASE w.level WHEN 'smtp' THEN 'dns' ELSE w.level END);
    c.status := r.status;
    c.reason := r.reason;
    c.is_catch_all := r.is_catch_all;
    c.checked_at := r.checked_at;
    c.suggestion := r.suggestion;
    c.complete := r.status <> 'unknown' AND (w.level <> 'smtp' OR r.status = 'invalid');
    IF w.reject_invalid AND r.status = 'invalid' AND r.reason = 'syntax' THEN
        c.syntax_error := email_verify.syntax_error(address,
            current_setting('email_verify.allow_quoted_local')::boolean,
            current_setting('email_verify.allow_domain_literal')::boolean);
    END IF;
    RETURN c;
END
$$;
REVOKE EXECUTE ON FUNCTION email_verify_internal.sync_probe(regclass, name, text, oid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION email_verify_internal.watch_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    col name := TG_ARGV[0];
    address text;
    c email_verify.inline_check;
    why text;
    msg text;
    msg_detail text;
    schema_name name;
BEGIN
    EXECUTE format('SELECT ($1).%I::text', col) INTO address USING NEW;
    c := email_verify_internal.sync_verdict(TG_RELID, col, address);
    IF NOT c.active THEN
        RETURN NEW;
    END IF;
    IF c.decision = 'block' THEN
        -- The message carries the suggestion already (clients that drop the
        -- HINT still show it); the HINT repeats it for those that look there.
        SELECT n.nspname INTO schema_name
        FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = TG_RELID;
        msg := format('email address "%s" is refused: %s',
                      CASE WHEN length(address) > 300 THEN left(address, 300) || '...' ELSE address END, c.message);
        msg_detail := format('Column %I of table %s is watched with a signup policy (%s/%s).', col, c.watched_table,
                             c.status, c.reason);
        IF c.suggestion IS NULL THEN
            RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = 'check_violation', DETAIL = msg_detail,
                SCHEMA = schema_name, TABLE = TG_TABLE_NAME, COLUMN = col;
        END IF;
        RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = 'check_violation', DETAIL = msg_detail,
            HINT = format('Did you mean %s?', c.suggestion), SCHEMA = schema_name, TABLE = TG_TABLE_NAME, COLUMN = col;
    END IF;
    IF c.decision IS NULL AND c.reject_invalid AND c.status = 'invalid' THEN
        why := c.reason;
        IF c.syntax_error IS NOT NULL THEN
            why := why || ': ' || c.syntax_error;
        END IF;
        msg := format('email address "%s" is invalid (%s)',
                      CASE WHEN length(address) > 300 THEN left(address, 300) || '...' ELSE address END, why);
        msg_detail := format('Column %I of table %s is watched with reject_invalid.', col, c.watched_table);
        SELECT n.nspname INTO schema_name
        FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = TG_RELID;
        IF c.suggestion IS NULL THEN
            RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = 'check_violation', DETAIL = msg_detail,
                SCHEMA = schema_name, TABLE = TG_TABLE_NAME, COLUMN = col;
        END IF;
        -- The suggestion goes in the message itself: clients show it even when
        -- they drop the HINT.
        RAISE EXCEPTION USING MESSAGE = format('%s; did you mean %s?', msg, c.suggestion),
            ERRCODE = 'check_violation', DETAIL = msg_detail, HINT = format('Did you mean %s?', c.suggestion),
            SCHEMA = schema_name, TABLE = TG_TABLE_NAME, COLUMN = col;
    END IF;
    -- A table without <col>_decision (a watch without a policy) ignores it.
    RETURN jsonb_populate_record(NEW, jsonb_build_object(
        col || '_status', c.status, col || '_reason', c.reason, col || '_catch_all', c.is_catch_all,
        col || '_verified_at', CASE WHEN c.complete THEN c.checked_at END, col || '_decision', c.decision));
END
$$;

DROP FUNCTION email_verify.watch(regclass, name, text, text, boolean, interval);
CREATE FUNCTION email_verify.watch(tbl regclass, col name, level text DEFAULT 'smtp',
        mode text DEFAULT 'async', reject_invalid boolean DEFAULT false,
        recheck_after interval DEFAULT '30 days', policy text DEFAULT NULL, sync_budget interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$
DECLARE
    caller name := email_verify_internal.calling_role();
    k record;
    col_attnum int2;
    col_category "char";
    col_generated "char";
    verdict_columns CONSTANT text[][] := ARRAY[['_status', 'text'], ['_reason', 'text'],
                                               ['_catch_all', 'boolean'],
                                               ['_verified_at', 'timestamp with time zone']];
    existing_type text;
    problem text;
    old email_verify.watches;
    w email_verify.watches;
    trigger_prefix text;
    trigger_name name;
    qcol text := quote_ident(col);
BEGIN
    PERFORM email_verify_internal.check_owner(tbl);
    IF col IS NULL OR watch.level IS NULL OR watch.mode IS NULL OR watch.reject_invalid IS NULL
       OR watch.recheck_after IS NULL THEN
        RAISE EXCEPTION 'arguments of email_verify.watch must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Case-insensitive, as the setting and verify_email's level are.
    watch.level := lower(watch.level);
    IF watch.level NOT IN ('syntax', 'dns', 'smtp') THEN
        RAISE EXCEPTION 'invalid level "%"', watch.level
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use syntax, dns or smtp.';
    END IF;
    IF watch.mode NOT IN ('async', 'sync') THEN
        RAISE EXCEPTION 'invalid mode "%"', watch.mode
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use async or sync.';
    END IF;
    IF watch.reject_invalid AND watch.mode <> 'sync' THEN
        RAISE EXCEPTION 'reject_invalid needs mode ''sync''' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'In async mode the row is written before its address is verified.';
    END IF;
    IF (watch.policy IS NOT NULL OR watch.sync_budget IS NOT NULL) AND watch.mode <> 'sync' THEN
        RAISE EXCEPTION '% needs mode ''sync''', CASE WHEN watch.policy IS NOT NULL THEN 'policy' ELSE 'sync_budget' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'In async mode the row is written before its address is verified.';
    END IF;
    IF watch.policy IS NOT NULL AND watch.reject_invalid THEN
        RAISE EXCEPTION 'give either reject_invalid or policy, not both' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'reject_invalid is a policy that blocks invalid addresses and nothing else.';
    END IF;
    IF watch.policy IS NOT NULL AND NOT EXISTS (SELECT FROM email_verify.signup_policies p WHERE p.name = watch.policy) THEN
        RAISE EXCEPTION 'signup policy "%" does not exist', watch.policy USING ERRCODE = 'undefined_object',
            HINT = 'The policies are the rows of email_verify.signup_policies.';
    END IF;
    IF watch.sync_budget <= interval '0' OR watch.sync_budget > interval '1 minute' THEN
        RAISE EXCEPTION 'sync_budget must be positive and at most 1 minute' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF watch.recheck_after <= interval '0' OR watch.recheck_after > interval '100 years' THEN
        RAISE EXCEPTION 'recheck_after must be positive and at most 100 years' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF watch.level <> 'syntax' AND NOT email_verify_internal.may_probe(caller) THEN
        RAISE EXCEPTION 'permission denied to watch at level "%"', watch.level
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Levels dns and smtp send network traffic on the server''s behalf.',
                  HINT = 'A superuser can GRANT email_verify_prober to the role; level => ''syntax'' needs no privilege.';
    END IF;

    -- Lock out writers until COMMIT: no row slips between the triggers and the
    -- initial enqueue.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);

    SELECT a.attnum, t.typcategory, a.attgenerated INTO col_attnum, col_category, col_generated
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column % of table % does not exist', qcol, tbl USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A domain has its base type's category: text, varchar, char(n), citext ...
    IF col_category <> 'S' THEN
        RAISE EXCEPTION 'column % of table % is not of a string type', qcol, tbl
            USING ERRCODE = 'datatype_mismatch', HINT = 'Watch a text, varchar or citext column.';
    END IF;
    IF col_generated <> '' THEN
        RAISE EXCEPTION 'column % of table % is a generated column', qcol, tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'BEFORE triggers cannot see the value of a generated column.';
    END IF;
    -- Longer names would be truncated to NAMEDATALEN and no longer be found.
    IF octet_length(col || '_verified_at') > 63 THEN
        RAISE EXCEPTION 'column name % is too long to add %_verified_at', qcol, col
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    k := email_verify_internal.key_sql(tbl, NULL, 'o', 'n');
    IF k.pk_columns IS NULL THEN
        RAISE EXCEPTION 'table % has no primary key', tbl
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Verdicts for column %s are written back by primary key.', qcol);
    END IF;
    PERFORM email_verify_internal.check_supported(tbl, k.pk_columns);

    -- The verdict columns: added when missing, refused when of another type.
    FOR i IN 1 .. array_length(verdict_columns, 1) LOOP
        SELECT format_type(a.atttypid, a.atttypmod) INTO existing_type
        FROM pg_attribute a
        WHERE a.attrelid = tbl AND a.attname = col || verdict_columns[i][1] AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', tbl, col || verdict_columns[i][1], verdict_columns[i][2]);
        ELSIF existing_type <> verdict_columns[i][2] THEN
            RAISE EXCEPTION 'column % of table % has type %, not %', quote_ident(col || verdict_columns[i][1]),
                tbl, existing_type, verdict_columns[i][2]
                USING ERRCODE = 'datatype_mismatch';
        END IF;
    END LOOP;

    -- Where a policy's decision is recorded.
    IF watch.policy IS NOT NULL THEN
        SELECT format_type(a.atttypid, a.atttypmod) INTO existing_type
        FROM pg_attribute a
        WHERE a.attrelid = tbl AND a.attname = col || '_decision' AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I text', tbl, col || '_decision');
        ELSIF existing_type <> 'text' THEN
            RAISE EXCEPTION 'column % of table % has type %, not text', quote_ident(col || '_decision'), tbl,
                existing_type USING ERRCODE = 'datatype_mismatch';
        END IF;
    END IF;

    -- The types the privileged readers need (column_problem): a string type of
    -- a superuser's for the watched column, and the verdict columns as above.
    problem := email_verify_internal.column_problem(tbl, col);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'cannot watch column % of table %: %', qcol, tbl, problem
            USING ERRCODE = 'datatype_mismatch';
    END IF;

    -- The worker finds its work through an index on <col>_verified_at: rows
    -- without a verdict (enqueue_unverified) and the oldest verdicts
    -- (enqueue_stale). Rows without an address are left out of it, so that
    -- they are never walked. Any index on the column serves as well (e.g. one
    -- made CONCURRENTLY beforehand).
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = tbl AND a.attname = col || '_verified_at'
                     AND (i.indpred IS NULL
                          OR pg_get_expr(i.indpred, i.indrelid) = format('(%I IS NOT NULL)', col))) THEN
        EXECUTE format('CREATE INDEX ON %s (%I) WHERE %I IS NOT NULL', tbl, col || '_verified_at', col);
    END IF;

    SELECT * INTO old FROM email_verify.watches WHERE relid = tbl AND column_name = col FOR UPDATE;
    IF FOUND THEN
        UPDATE email_verify.watches
        SET level = watch.level, mode = watch.mode, reject_invalid = watch.reject_invalid,
            recheck_after = watch.recheck_after, key_columns = k.pk_columns, suspended_reason = NULL,
            policy = watch.policy, sync_budget = watch.sync_budget
        WHERE id = old.id
        RETURNING * INTO w;
        -- Items keyed by a primary key the table no longer has can never be
        -- applied; failed items get another chance.
        DELETE FROM email_verify.queue
        WHERE watch_id = w.id AND (state = 'failed' OR old.key_columns IS DISTINCT FROM w.key_columns);
    ELSE
        INSERT INTO email_verify.watches (relid, column_name, level, mode, reject_invalid, recheck_after, key_columns,
                                          policy, sync_budget)
        VALUES (tbl, col, watch.level, watch.mode, watch.reject_invalid, watch.recheck_after, k.pk_columns,
                watch.policy, watch.sync_budget)
        RETURNING * INTO w;
    END IF;

    -- The workers' role reads the table while it is watched (95_worker_role.sql).
    PERFORM email_verify_internal.let_worker_read(tbl);

    -- (Re)create the triggers for the mode asked for.
    FOR trigger_name IN SELECT email_verify_internal.watch_triggers(tbl, col) LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, tbl);
    END LOOP;
    trigger_prefix := 'email_verify_' || col;
    IF octet_length(trigger_prefix || '_check_insert') > 63 THEN
        trigger_prefix := 'email_verify_' || col_attnum;
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.watch_wake(%L)',
                   trigger_prefix || '_wake_insert', tbl, col);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %I ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.watch_wake(%L)',
                   trigger_prefix || '_wake_update', col, tbl, col);
    IF w.mode = 'async' THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %s FOR EACH ROW
                        WHEN (OLD.%I::text IS DISTINCT FROM NEW.%I::text)
                        EXECUTE FUNCTION email_verify_internal.watch_clear_verdict(%L)',
                       trigger_prefix || '_clear', col, tbl, col, col, col);
    ELSE
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
                        EXECUTE FUNCTION email_verify_internal.watch_check(%L)',
                       trigger_prefix || '_check_insert', tbl, col);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %s FOR EACH ROW
                        WHEN (OLD.%I::text IS DISTINCT FROM NEW.%I::text)
                        EXECUTE FUNCTION email_verify_internal.watch_check(%L)',
                       trigger_prefix || '_check_update', col, tbl, col, col, col);
    END IF;

    -- The rows already there. Those without a verdict are waiting as they are:
    -- the worker claims them straight from the table (see "Triggers" above), so
    -- they cost the queue one write each. Those with a verdict are queued for a
    -- new watch or a new level (their verdicts were not reached at this level),
    -- otherwise they wait until they are stale.
    IF old.id IS NULL OR old.level <> w.level OR old.key_columns IS DISTINCT FROM w.key_columns THEN
        EXECUTE email_verify_internal.enqueue_sql(w, tbl::text, format('n.%I IS NOT NULL', col || '_verified_at'),
                                         fresh => old.id IS NULL)
            USING w.id, NULL::int, NULL::interval, w.level;
    END IF;
    PERFORM email_verify_internal.wake_workers_at_commit();

    -- A new watch nobody will serve is almost always a mistake in the setup.
    IF old.id IS NULL AND email_verify_internal.why_no_worker() IS NOT NULL THEN
        RAISE WARNING 'no email_verify worker serves database %: the rows will wait', quote_ident(current_database())
            USING DETAIL = email_verify_internal.why_no_worker(),
                  HINT = 'See "The background workers" in the README of email_verify.';
    END IF;
END
$$;

COMMENT ON FUNCTION email_verify.watch(regclass, name, text, text, boolean, interval, text, interval) IS
    'verifies a column in place: adds <col>_status, _reason, _catch_all, _verified_at, installs the triggers and queues the rows already there';

-- A level argument is case-insensitive, as email_verify.default_level and
-- verify_email's level are (extension/src/97_jobs.sql; watch above).
CREATE OR REPLACE FUNCTION email_verify_internal.job_create(level text, webhook_url text, webhook_secret text,
                                                 endpoint text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller name := email_verify_internal.calling_role();
    -- Case-insensitive, as the setting and verify_email's level are.
    chosen text := lower(coalesce(level, current_setting('email_verify.default_level')));
    target email_verify_internal.webhook_endpoints;
    id bigint;
BEGIN
    IF chosen NOT IN ('syntax', 'dns', 'smtp') THEN
        RAISE EXCEPTION 'invalid level "%"', chosen USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''syntax'', ''dns'' or ''smtp''.';
    END IF;
    IF chosen <> 'syntax' AND NOT email_verify_internal.may_probe(caller) THEN
        RAISE EXCEPTION 'permission denied to submit a job at level %', chosen
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Levels dns and smtp need membership in email_verify_prober.';
    END IF;
    IF endpoint IS NOT NULL THEN
        IF webhook_url IS NOT NULL OR webhook_secret IS NOT NULL THEN
            RAISE EXCEPTION 'give either endpoint or webhook_url and webhook_secret, not both'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT * INTO target FROM email_verify_internal.webhook_endpoints e
        WHERE e.name = endpoint AND e.owner = email_verify_internal.calling_role_oid();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'webhook endpoint "%" does not exist', endpoint USING ERRCODE = 'no_data_found',
                HINT = 'Register it with email_verify.register_webhook_endpoint.';
        END IF;
    ELSIF webhook_url IS NOT NULL THEN
        PERFORM email_verify_internal.check_webhook_url(webhook_url);
        IF webhook_secret IS NULL OR webhook_secret = '' THEN
            RAISE EXCEPTION 'a webhook_url needs a webhook_secret to sign its events'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'email_verify.new_webhook_secret() makes one.';
        END IF;
    ELSIF webhook_secret IS NOT NULL THEN
        RAISE EXCEPTION 'webhook_secret given without a webhook_url' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO email_verify_internal.jobs (owner, level, webhook_url, webhook_secret, endpoint_id)
    VALUES (email_verify_internal.calling_role_oid(), chosen,
            coalesce(webhook_url, target.url), webhook_secret, target.id)
    RETURNING jobs.id INTO id;
    RETURN id;
END
$$;

-- extension/src/99_signup.sql

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
