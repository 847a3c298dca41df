-- In-place verification, the user's side: the triggers watch() installs on a
-- table, watch() and unwatch() themselves, and suspending a watch.

-- Triggers -----------------------------------------------------------------------
-- The watched table is its own queue: a row is waiting for the worker when it
-- has an address but no verdict (<col>_verified_at IS NULL), inserted so or made
-- so by an UPDATE (a changed address clears the verdict first). The writer's
-- statement only wakes the workers at its COMMIT; the worker's claim
-- (claim_batch) sweeps waiting rows into email_verify.queue as items it claims,
-- so an INSERT or COPY costs the writer no queue row, no index entry and no lock.

-- AFTER INSERT and AFTER UPDATE OF the address, FOR EACH STATEMENT.
CREATE FUNCTION email_verify_internal.watch_wake()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
BEGIN
    PERFORM email_verify_internal.wake_workers_at_commit();
    RETURN NULL;
END
$$;

-- Async: BEFORE UPDATE of the address, FOR EACH ROW WHEN it changed: the old
-- verdict no longer describes the row.
CREATE FUNCTION email_verify_internal.watch_clear_verdict()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN jsonb_populate_record(NEW, jsonb_build_object(
        TG_ARGV[0] || '_status', NULL, TG_ARGV[0] || '_reason', NULL,
        TG_ARGV[0] || '_catch_all', NULL, TG_ARGV[0] || '_verified_at', NULL));
END
$$;

-- Sync watches: the writer's identity, the probe lent --------------------------
-- watch_check, the trigger of a sync watch, runs as the writer of the row: it
-- reads the address and writes the verdict columns with the writer's
-- privileges (a domain's CHECK or a cast of the table owner's never runs with
-- the extension's). Only the probe is lent: sync_verdict (C, callable by all)
-- checks that the current user may write the table, then calls sync_probe,
-- which nobody may call directly (src/pg/sync_check_functions.cpp).

-- What the inline check tells the trigger. active is false when the watch is
-- suspended or not in sync mode: the row is then left as it is.
CREATE TYPE email_verify.inline_check AS (
    active         boolean,
    watched_table  regclass,
    level          text,
    reject_invalid boolean,
    status         text,
    reason         text,
    is_catch_all   boolean,
    checked_at     timestamptz,
    suggestion     text,
    syntax_error   text,
    -- A watch with a policy or a budget (99_signup.sql): the decision, its
    -- message, and whether the verdict is complete at the watch's level (the
    -- row is then not left for the worker).
    decision       text,
    message        text,
    complete       boolean
);

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

CREATE FUNCTION email_verify_internal.sync_verdict(rel regclass, col name, address text)
RETURNS email_verify.inline_check
AS 'MODULE_PATHNAME', 'sync_verdict'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify_internal.sync_verdict(regclass, name, text) IS
    'the inline check of a sync watch, for its trigger: needs the right to write the table';

-- Sync: BEFORE INSERT, and BEFORE UPDATE of the address WHEN it changed, FOR EACH
-- ROW, as the writer: verify inline and write the verdict into the row. With
-- reject_invalid an invalid address fails the statement. The row is left
-- unverified (<col>_verified_at NULL, so the worker takes it up) when the
-- watch wants smtp and the address was not found invalid, or when the inline
-- verdict is unknown.
CREATE FUNCTION email_verify_internal.watch_check()
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

-- Our triggers on a table for one column, found by function and argument (not
-- by name, so renamed triggers are still found).
CREATE FUNCTION email_verify_internal.watch_triggers(tbl regclass, col name)
RETURNS SETOF name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.tgname FROM pg_trigger t
    WHERE t.tgrelid = tbl AND NOT t.tgisinternal AND t.tgnargs = 1
      AND t.tgfoid IN ('email_verify_internal.watch_wake()'::regprocedure,
                       'email_verify_internal.watch_clear_verdict()'::regprocedure,
                       'email_verify_internal.watch_check()'::regprocedure)
      AND t.tgargs = convert_to(col, getdatabaseencoding()) || '\x00'::bytea
$$;

-- Watching ----------------------------------------------------------------------

-- Stops a watch: its triggers, its queue items (deleted here: the queue has no
-- foreign key to watches, see 30_tables.sql) and its row go; the verdict
-- columns and their index stay, they are the user's data now.
CREATE FUNCTION email_verify_internal.end_watch(watch_id int)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w email_verify.watches;
    trigger_name name;
BEGIN
    SELECT * INTO w FROM email_verify.watches WHERE id = watch_id;
    IF EXISTS (SELECT FROM pg_class WHERE oid = w.relid) THEN
        FOR trigger_name IN SELECT email_verify_internal.watch_triggers(w.relid, w.column_name) LOOP
            EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, w.relid);
        END LOOP;
        -- The workers' role reads only watched tables (95_worker_role.sql).
        PERFORM email_verify_internal.end_worker_read(w.relid, w.id);
    END IF;
    DELETE FROM email_verify.queue q WHERE q.watch_id = end_watch.watch_id;
    DELETE FROM email_verify.watches WHERE id = end_watch.watch_id;
END
$$;

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
    own_watch regclass;
BEGIN
    PERFORM email_verify_internal.check_owner(tbl);
    -- A partition is watched through its partitioned table: the row triggers
    -- are cloned to every partition, present and future, and one sweep and
    -- one write-back by key serve them all. Two watches on the same rows
    -- would queue and probe every row twice.
    IF (SELECT c.relispartition FROM pg_class c WHERE c.oid = tbl) THEN
        RAISE EXCEPTION '% is a partition', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Watch the partitioned table.';
    END IF;
    SELECT o.relid INTO own_watch FROM email_verify.watches o
    WHERE o.column_name = col AND o.relid <> tbl AND tbl IN (SELECT pg_partition_ancestors(o.relid))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'partition % of table % is watched on its own', own_watch, tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It was watched before it was attached; two watches would queue its rows twice.',
                  HINT = format('Call email_verify.unwatch(%L, %L) first: the watch of %s covers its partitions.',
                                own_watch, col, tbl);
    END IF;
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

CREATE FUNCTION email_verify.unwatch(tbl regclass, col name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
BEGIN
    PERFORM email_verify_internal.check_owner(tbl);
    IF NOT EXISTS (SELECT FROM email_verify.watches WHERE relid = tbl AND column_name = col) THEN
        RAISE EXCEPTION 'column % of table % is not watched', quote_ident(col), tbl
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM email_verify_internal.end_watch(id) FROM email_verify.watches WHERE relid = tbl AND column_name = col;
END
$$;

COMMENT ON FUNCTION email_verify.unwatch(regclass, name) IS
    'stops verifying a column: drops its triggers and queue items, keeps the verdict columns';

-- Suspended watches -------------------------------------------------------------
-- A watch is suspended when its columns change to types the privileged readers
-- must not read (follow_altered_tables) or when its write-back outlived
-- email_verify.write_back_timeout (the worker's watchdog): its rows are neither
-- swept nor written, its items wait without losing attempts, and the other
-- watches go on. watch() called again resumes it.

-- The worker's watchdog ended a write-back of this watch: suspended, with why.
CREATE FUNCTION email_verify_internal.suspend_watch(watch_id int, reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w email_verify.watches;
BEGIN
    UPDATE email_verify.watches SET suspended_reason = reason
    WHERE id = watch_id AND suspended_reason IS NULL
    RETURNING * INTO w;
    IF FOUND THEN
        RAISE WARNING 'email_verify: the watch of column % of table % is suspended: %',
            quote_ident(w.column_name), w.relid, reason
            USING HINT = 'Fix the table''s triggers, then call email_verify.watch() again to resume it.';
    END IF;
END
$$;
