-- email_verify 0.4.0: the privileged paths never lend the extension's
-- privileges to code of a table's owner (run_as_table_owner), and the verdicts
-- of a sync watch are written with the writer's own identity.
\echo Use "ALTER EXTENSION email_verify UPDATE" to load this file. \quit

-- Two schemas: email_verify keeps what users call (`\df email_verify.*` is the
-- API); what the triggers, views, event triggers and workers call moves to
-- email_verify_internal. Triggers, views and constraints follow by OID.
CREATE SCHEMA email_verify_internal;
COMMENT ON SCHEMA email_verify_internal IS
    'email_verify: functions of the triggers, views and background workers; not an API';
GRANT USAGE ON SCHEMA email_verify_internal TO PUBLIC;
ALTER FUNCTION email_verify.apply_verdicts(jsonb) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.calling_role() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.check_owner(regclass) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.check_supported(regclass, name[]) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.claim_batch(int, int, interval) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.claim_items(int, int, interval) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.claim_limit() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.end_watch(int) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.enqueue_sql(email_verify.watches, text, text, boolean, text, int, boolean) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.enqueue_stale(int) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.enqueue_unverified(int) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.follow_altered_tables() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.forget_dropped_watches() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.key_sql(regclass, name[], text, text) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.list_entries_changed() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.list_entry_is_valid(text, text) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.may_probe(name) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.queueable_sql(email_verify.watches, text, text, boolean, text, int) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.release_claims(int) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.requeue(bigint[], text[], interval[]) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.retry_later(bigint[], text[], interval[]) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.unqueued_rows(int) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.wake_workers_at_commit() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.watch_check() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.watch_clear_verdict() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.watch_of(oid, name) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.watch_triggers(regclass, name) SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.watch_wake() SET SCHEMA email_verify_internal;
ALTER FUNCTION email_verify.why_no_worker() SET SCHEMA email_verify_internal;


-- Whether this transaction now holds AccessShareLock on tbl; never waits.
CREATE FUNCTION email_verify_internal.try_lock_table(tbl regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'try_lock_table'
LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION email_verify_internal.try_lock_table(regclass) FROM PUBLIC;

-- Vetting the columns ---------------------------------------------------------
-- The privileged readers (the worker's sweep, queue_stats, watch itself)
-- evaluate <col>::text on the watched column. On a type of an ordinary role
-- (an enum with its own cast to text, say) that would run the role's code with
-- the extension's privileges; so the watched column must be of a string type
-- that is built in or owned by a superuser, or a domain over one (reading a
-- domain runs no check). The verdict columns must be exactly the types watch()
-- gives them: writing into a domain runs its CHECK.
-- A watch whose columns fail is suspended (watches.suspended_reason) by the
-- DDL follower, and the readers skip it whatever the follower saw.
ALTER TABLE email_verify.watches ADD COLUMN suspended_reason text;
COMMENT ON COLUMN email_verify.watches.suspended_reason IS
    'why the watch is suspended (its columns changed to types email_verify does not read); NULL when active';

-- The type a column of type typ holds in the end: past domains, and with
-- through_arrays past array types too. A privileged reader may evaluate it
-- (its casts, its output) only when trusted_type says so.
CREATE FUNCTION email_verify_internal.underlying_type(typ oid, through_arrays boolean)
RETURNS pg_type
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t pg_type;
BEGIN
    LOOP
        SELECT * INTO t FROM pg_type WHERE oid = typ;
        EXIT WHEN NOT (t.typtype = 'd' OR (through_arrays AND t.typcategory = 'A' AND t.typelem <> 0));
        typ := CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END;
    END LOOP;
    RETURN t;
END
$$;

-- Built in, or owned by a superuser: no ordinary role's code hangs on it.
CREATE FUNCTION email_verify_internal.trusted_type(t pg_type)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.oid < 16384 OR EXISTS (SELECT FROM pg_roles WHERE oid = t.typowner AND rolsuper)
$$;

-- Why the columns of a watch cannot be served, or NULL when they can.
CREATE FUNCTION email_verify_internal.column_problem(tbl regclass, col name)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    typ oid;
    t pg_type;
    wanted CONSTANT text[][] := ARRAY[['_status', 'text'], ['_reason', 'text'], ['_catch_all', 'boolean'],
                                      ['_verified_at', 'timestamp with time zone']];
    actual oid;
BEGIN
    SELECT a.atttypid INTO typ FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RETURN format('column %s no longer exists', quote_ident(col));
    END IF;
    t := email_verify_internal.underlying_type(typ, false);
    IF t.typcategory <> 'S' OR t.typtype <> 'b' OR NOT email_verify_internal.trusted_type(t) THEN
        RETURN format('column %s has type %s: a watched column must be of a string type that is built in or owned by a superuser',
                      quote_ident(col), format_type(t.oid, NULL));
    END IF;
    FOR i IN 1 .. array_length(wanted, 1) LOOP
        SELECT a.atttypid INTO actual FROM pg_attribute a
        WHERE a.attrelid = tbl AND a.attname = col || wanted[i][1] AND a.attnum > 0 AND NOT a.attisdropped;
        IF FOUND AND actual <> wanted[i][2]::regtype THEN
            RETURN format('column %s has type %s, not %s', quote_ident(col || wanted[i][1]),
                          format_type(actual, NULL), wanted[i][2]);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION email_verify_internal.column_problem(regclass, name) FROM PUBLIC;

-- Whether a privileged reader may read watch w's table now: the watch is not
-- suspended, the table is locked for reading without waiting (see
-- try_lock_table), and, under that lock, its columns pass column_problem.
CREATE FUNCTION email_verify_internal.may_read(w email_verify.watches)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- In this order: the columns are looked at only under the lock.
    IF w.suspended_reason IS NOT NULL OR NOT email_verify_internal.try_lock_table(w.relid) THEN
        RETURN false;
    END IF;
    RETURN email_verify_internal.column_problem(w.relid, w.column_name) IS NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION email_verify_internal.may_read(email_verify.watches) FROM PUBLIC;

-- Writes a batch of verdicts back to the watched rows and settles their queue
-- items; returns the number of rows written. It is the SQL face of the one
-- write-back path, src/pg/verdict_write_back.cpp, which the worker calls with
-- typed verdicts:
--   * one UPDATE per watch, matching each row by its primary key and by the
--     address the verdict is for, so a row deleted meanwhile or whose address
--     changed is skipped, never given another address's verdict;
--   * each UPDATE as the table's owner inside a security-restricted operation,
--     with search_path pg_catalog, pg_temp (src/pg/owner_context.cpp): the
--     owner's triggers, index expressions and domain checks cannot climb back
--     to the worker's identity, and run under the write-back watchdog;
--   * a watch whose UPDATE fails (e.g. the owner's trigger raises) does not fail
--     the batch: its verdicts are written one by one, and an item that still
--     fails is kept in state 'failed' with the error as last_reason (watch()
--     called again retries it);
--   * rows a writer holds locked are skipped (FOR UPDATE SKIP LOCKED), the rest
--     written at once; their items, those of a suspended watch and those whose
--     watch's level was raised while they were probed go back to the queue
--     without losing an attempt; no other lock is waited for longer than 2 s.
-- verdicts: [{"queue_id", "watch_id", "row_key", "email", "status", "reason",
--             "catch_all", "checked_at", "level"}, ...]; level, the level the
-- item was claimed at, may be left out (taken as the watch's).
CREATE OR REPLACE FUNCTION email_verify_internal.apply_verdicts(verdicts jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'apply_verdicts'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.apply_verdicts(jsonb) IS
    'worker: writes a batch of verdicts to the watched rows by primary key and address; returns rows written';

-- The readers skip what they may not read -------------------------------------


CREATE OR REPLACE FUNCTION email_verify_internal.unqueued_rows(watch_id int)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_material = off
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$
DECLARE
    w email_verify.watches;
    n bigint;
BEGIN
    SELECT * INTO w FROM email_verify.watches WHERE id = watch_id;
    IF NOT FOUND OR NOT pg_has_role(email_verify_internal.calling_role(),
                                    (SELECT c.relowner FROM pg_class c WHERE c.oid = w.relid), 'USAGE')
       OR (email_verify_internal.key_sql(w.relid, w.key_columns, 'o', 'n')).key_match IS NULL
       OR NOT email_verify_internal.may_read(w) THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (%s) s',
                   email_verify_internal.queueable_sql(w, w.relid::text, format('n.%I IS NULL', w.column_name || '_verified_at')))
    INTO n USING w.id;
    RETURN n;
END
$$;

-- After ALTER TABLE on a watched table: columns that column_problem refuses
-- (a renamed watched column, a type changed) suspend the watch with a WARNING,
-- and their repair resumes it; a new or renamed primary key re-keys the watch
-- (its queue items are dropped, the worker queues the rows again by the new
-- key); a table left without one is reported; a key type or a foreign
-- partition that check_supported refuses ends the watch.
CREATE OR REPLACE FUNCTION email_verify_internal.follow_altered_tables()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w email_verify.watches;
    k record;
    problem text;
BEGIN
    FOR w IN
        SELECT * FROM email_verify.watches
        WHERE relid IN (SELECT c.objid FROM pg_event_trigger_ddl_commands() c
                        WHERE c.classid = 'pg_class'::regclass)
        ORDER BY id
    LOOP
        -- The columns are vetted after every ALTER TABLE: a watch whose
        -- watched or verdict columns changed to types the privileged readers
        -- must not read is suspended until they are fixed.
        problem := email_verify_internal.column_problem(w.relid, w.column_name);
        IF problem IS DISTINCT FROM w.suspended_reason
           AND (problem IS NOT NULL OR w.suspended_reason LIKE 'column %') THEN
            UPDATE email_verify.watches SET suspended_reason = problem WHERE id = w.id RETURNING * INTO w;
            IF problem IS NOT NULL THEN
                RAISE WARNING 'email_verify: the watch of column % of table % is suspended: %',
                    quote_ident(w.column_name), w.relid, problem
                    USING HINT = format('Restore the column, or call email_verify.unwatch(%L, %L).', w.relid, w.column_name);
            ELSE
                RAISE NOTICE 'email_verify: the watch of column % of table % is active again',
                    quote_ident(w.column_name), w.relid;
                PERFORM email_verify_internal.wake_workers_at_commit();
            END IF;
        END IF;
        CONTINUE WHEN problem IS NOT NULL;
        -- A table moved to another schema (SET SCHEMA) stays readable.
        PERFORM email_verify_internal.let_worker_read(w.relid);
        k := email_verify_internal.key_sql(w.relid, NULL, 'o', 'n');
        IF k.pk_columns IS NOT NULL THEN
            BEGIN
                PERFORM email_verify_internal.check_supported(w.relid, k.pk_columns);
            EXCEPTION WHEN feature_not_supported THEN
                PERFORM email_verify_internal.end_watch(w.id);
                RAISE WARNING 'email_verify: column % of table % is no longer watched: %',
                    quote_ident(w.column_name), w.relid, SQLERRM;
                CONTINUE;
            END;
        END IF;
        CONTINUE WHEN k.pk_columns IS NOT DISTINCT FROM w.key_columns;
        IF k.pk_columns IS NULL THEN
            RAISE WARNING 'email_verify: table % has no primary key; verdicts for column % wait until it has one',
                w.relid, quote_ident(w.column_name);
            CONTINUE;
        END IF;
        UPDATE email_verify.watches SET key_columns = k.pk_columns WHERE id = w.id RETURNING * INTO w;
        -- Items keyed by the old key can never be applied. The rows they stood
        -- for are still without a verdict: the worker queues them again by the
        -- new key (stale ones when they are found stale).
        DELETE FROM email_verify.queue WHERE watch_id = w.id;
        PERFORM email_verify_internal.wake_workers_at_commit();
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'email_verify: could not follow ALTER TABLE: %', SQLERRM;
END
$$;

CREATE OR REPLACE FUNCTION email_verify.watch(tbl regclass, col name, level text DEFAULT 'smtp',
        mode text DEFAULT 'async', reject_invalid boolean DEFAULT false,
        recheck_after interval DEFAULT '30 days')
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
            recheck_after = watch.recheck_after, key_columns = k.pk_columns, suspended_reason = NULL
        WHERE id = old.id
        RETURNING * INTO w;
        -- Items keyed by a primary key the table no longer has can never be
        -- applied; failed items get another chance.
        DELETE FROM email_verify.queue
        WHERE watch_id = w.id AND (state = 'failed' OR old.key_columns IS DISTINCT FROM w.key_columns);
    ELSE
        INSERT INTO email_verify.watches (relid, column_name, level, mode, reject_invalid, recheck_after, key_columns)
        VALUES (tbl, col, watch.level, watch.mode, watch.reject_invalid, watch.recheck_after, k.pk_columns)
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
    syntax_error   text
);

CREATE FUNCTION email_verify_internal.sync_probe(rel regclass, col name, address text)
RETURNS email_verify.inline_check
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w email_verify.watches := email_verify_internal.watch_of(rel, col);
    r email_verify.result;
    c email_verify.inline_check;
BEGIN
    c.active := w.suspended_reason IS NULL AND w.mode = 'sync';
    c.watched_table := w.relid;
    c.level := w.level;
    c.reject_invalid := w.reject_invalid;
    IF NOT c.active OR address IS NULL THEN
        RETURN c;
    END IF;
    -- At most level dns inline: a mailbox probe takes seconds.
    r := email_verify.verify_email(address, CASE w.level WHEN 'smtp' THEN 'dns' ELSE w.level END);
    c.status := r.status;
    c.reason := r.reason;
    c.is_catch_all := r.is_catch_all;
    c.checked_at := r.checked_at;
    c.suggestion := r.suggestion;
    IF w.reject_invalid AND r.status = 'invalid' AND r.reason = 'syntax' THEN
        c.syntax_error := email_verify.syntax_error(address,
            current_setting('email_verify.allow_quoted_local')::boolean,
            current_setting('email_verify.allow_domain_literal')::boolean);
    END IF;
    RETURN c;
END
$$;
REVOKE EXECUTE ON FUNCTION email_verify_internal.sync_probe(regclass, name, text) FROM PUBLIC;

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
    IF c.reject_invalid AND c.status = 'invalid' THEN
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
    RETURN jsonb_populate_record(NEW, jsonb_build_object(
        col || '_status', c.status, col || '_reason', c.reason, col || '_catch_all', c.is_catch_all,
        col || '_verified_at', CASE WHEN c.status = 'unknown' OR (c.level = 'smtp' AND c.status <> 'invalid')
                                    THEN NULL ELSE c.checked_at END));
END
$$;

-- Isolation ------------------------------------------------------------------------
-- No watch may stop the others: temporary tables are refused (check_owner),
-- and recheck_after is bounded, so that now() - recheck_after stays a
-- timestamp for the stale re-check of every watch.
UPDATE email_verify.watches SET recheck_after = interval '100 years' WHERE recheck_after > interval '100 years';
ALTER TABLE email_verify.watches ADD CONSTRAINT watches_recheck_after_bounded
    CHECK (recheck_after <= interval '100 years');

CREATE OR REPLACE FUNCTION email_verify_internal.check_owner(tbl regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    owner oid;
    is_partition boolean;
    persistence "char";
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relkind, relowner, relispartition, relpersistence INTO kind, owner, is_partition, persistence
    FROM pg_class WHERE oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT pg_has_role(email_verify_internal.calling_role(), owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    -- A temporary table lives in one session's own schema, where the worker
    -- cannot read it, and goes without a trace (no event trigger fires).
    IF persistence = 't' THEN
        RAISE EXCEPTION '% is a temporary table', tbl
            USING ERRCODE = 'wrong_object_type', DETAIL = 'The background worker cannot see another session''s temporary tables.';
    END IF;
    IF is_partition THEN
        RAISE EXCEPTION '% is a partition', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Watch the partitioned table.';
    END IF;
END
$$;

-- Watch metadata (table names, counts) is shown to the table's owner, to the
-- roles that have its privileges and to superusers only.
CREATE FUNCTION email_verify_internal.may_see(tbl regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_class c WHERE c.oid = tbl AND pg_has_role(c.relowner, 'USAGE'))
$$;

CREATE OR REPLACE VIEW email_verify.queue_stats AS
SELECT q.watch_id, w.relid AS table_name, w.column_name, q.state,
       count(*) AS items,
       count(*) FILTER (WHERE (q.state = 'pending' AND q.not_before <= now())
                           OR (q.state = 'claimed' AND q.lease_until < now())) AS ready,
       min(q.enqueued_at) AS oldest_enqueued_at,
       max(q.attempts) AS max_attempts
FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
WHERE email_verify_internal.may_see(w.relid)
GROUP BY q.watch_id, w.relid, w.column_name, q.state
UNION ALL
SELECT w.id, w.relid, w.column_name, 'new', u.n, u.n, NULL, 0
FROM email_verify.watches w CROSS JOIN LATERAL (SELECT email_verify_internal.unqueued_rows(w.id) AS n) u
WHERE email_verify_internal.may_see(w.relid) AND u.n > 0;

COMMENT ON VIEW email_verify.queue_stats IS
    'queue depth per watch and state (new: rows with an address and no verdict, not queued yet); ready: claimable now; only the watches of tables whose owner''s privileges you have';

-- Suspended watches -------------------------------------------------------------
-- A watch is suspended when its columns change to types the privileged readers
-- must not read (follow_altered_tables) or when its write-back outlived
-- email_verify.write_back_timeout (the worker's watchdog): its rows are neither
-- swept nor written, its items wait without losing attempts, and the other
-- watches go on. watch() called again resumes it.

-- The claim of ready items is C++ now (src/pg/queue_items.cpp).
DROP FUNCTION email_verify_internal.claim_items(int, int, interval);

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
REVOKE EXECUTE ON FUNCTION email_verify_internal.suspend_watch(int, text) FROM PUBLIC;

-- The watches a role may see (see may_see), with their options and state.
CREATE VIEW email_verify.watch_status AS
SELECT w.id AS watch_id, w.relid AS table_name, w.column_name, w.level, w.mode, w.reject_invalid,
       w.recheck_after, w.created_at, w.suspended_reason
FROM email_verify.watches w
WHERE email_verify_internal.may_see(w.relid);
COMMENT ON VIEW email_verify.watch_status IS
    'the watches of tables whose owner''s privileges you have: options, and why a watch is suspended (NULL: active)';
GRANT SELECT ON email_verify.watch_status TO PUBLIC;

-- The queue without a foreign key to watches -------------------------------------
-- pg_restore -j restores the two tables' data in parallel, and the key's check
-- failed the queue's COPY whenever it came first: the open items were lost.
-- end_watch deletes a watch's items itself, and the sweep holds the watch row
-- (FOR KEY SHARE) while it inserts items for it.
ALTER TABLE email_verify.queue DROP CONSTRAINT queue_watch_id_fkey;

CREATE OR REPLACE FUNCTION email_verify_internal.end_watch(watch_id int)
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

-- The claim limit comes from the core's retry policy, as the worker's retries do.
CREATE OR REPLACE FUNCTION email_verify_internal.claim_limit()
RETURNS int
AS 'MODULE_PATHNAME', 'claim_limit'
LANGUAGE C STABLE;

-- One walk to a column's underlying type for both checks of the privileged readers.
CREATE OR REPLACE FUNCTION email_verify_internal.check_supported(tbl regclass, key_columns name[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key name;
    typ oid;
    t pg_type;
BEGIN
    FOREACH key IN ARRAY key_columns LOOP
        SELECT atttypid INTO typ FROM pg_attribute
        WHERE attrelid = tbl AND attname = key AND attnum > 0 AND NOT attisdropped;
        t := email_verify_internal.underlying_type(typ, true);
        IF t.oid >= 16384 AND (t.typtype = 'c' OR NOT email_verify_internal.trusted_type(t)) THEN
            RAISE EXCEPTION 'primary key column % of table % has type %, which email_verify does not support as a key',
                quote_ident(key), tbl, t.oid::regtype
                USING ERRCODE = 'feature_not_supported',
                      DETAIL = 'Keys are read by privileged triggers: they may be of built-in types, types owned by a superuser, and domains and arrays of these.';
        END IF;
    END LOOP;
    IF EXISTS (WITH RECURSIVE tree(relid) AS (
                   SELECT tbl::oid
                   UNION
                   SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
               SELECT FROM tree JOIN pg_class c ON c.oid = tree.relid WHERE c.relkind = 'f') THEN
        RAISE EXCEPTION 'table % has foreign partitions or children, which email_verify does not support', tbl
            USING ERRCODE = 'feature_not_supported';
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION email_verify_internal.underlying_type(oid, boolean), email_verify_internal.trusted_type(pg_type) FROM PUBLIC;

-- The claiming side in C++ (src/pg/queue_claim.cpp): the sweep and the claim.
DROP FUNCTION email_verify_internal.claim_batch(int, int, interval);
DROP FUNCTION email_verify_internal.enqueue_unverified(int);
DROP FUNCTION email_verify_internal.enqueue_stale(int);
DROP FUNCTION email_verify.enqueue_each_watch(int, boolean, int, interval);

-- Rows inserted, or whose address changed, since the last call (see above).
CREATE FUNCTION email_verify_internal.enqueue_unverified(max_rows int)
RETURNS int
AS 'MODULE_PATHNAME', 'enqueue_unverified'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.enqueue_unverified(int) IS
    'worker: queues, per watch, up to max_rows rows that have an address but no verdict and no queue item; returns the number queued';

-- Queues, for each watch, up to max_rows rows whose verdict is older than the
-- watch's recheck_after, oldest first (see above), skipping rows already
-- queued. Returns the number queued.
CREATE FUNCTION email_verify_internal.enqueue_stale(max_rows int)
RETURNS int
AS 'MODULE_PATHNAME', 'enqueue_stale'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.enqueue_stale(int) IS
    'worker: queues, per watch, up to max_rows rows whose verdict is older than recheck_after; returns the number queued';

-- The worker's claim (src/pg/queue_claim.cpp, which the worker calls itself):
-- expired claims that used up their attempts are given up, then what the queue
-- holds ready (claim_items) is claimed, topped up, when that falls short of
-- batch_size, with rows new to the queue, inserted already claimed (the sweep
-- above). The table is swept only then, so rows inserted behind a long queue
-- wait their turn instead of being walked over on every claim.
CREATE FUNCTION email_verify_internal.claim_batch(worker_id int, batch_size int, lease interval DEFAULT '5 minutes')
RETURNS TABLE(queue_id bigint, watch_id int, row_key jsonb, email text, level text, attempts int)
AS 'MODULE_PATHNAME', 'claim_batch'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

REVOKE EXECUTE ON FUNCTION email_verify_internal.claim_batch(int, int, interval), email_verify_internal.enqueue_unverified(int),
    email_verify_internal.enqueue_stale(int) FROM PUBLIC;


-- Functions unchanged but for the schema of the functions they call.

DROP FUNCTION email_verify.key_json(name[], text);
-- The sweep's statements are built in C++ now (src/pg/sweep_sql.cpp).
CREATE OR REPLACE FUNCTION email_verify_internal.queueable_sql(w email_verify.watches, source text, condition text,
                                           fresh boolean DEFAULT false, order_by text DEFAULT NULL,
                                           max_rows int DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'queueable_sql'
LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION email_verify_internal.enqueue_sql(w email_verify.watches, source text, condition text,
                                         fresh boolean DEFAULT false, order_by text DEFAULT NULL,
                                         max_rows int DEFAULT NULL, claim boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'enqueue_sql'
LANGUAGE C STABLE;

CREATE OR REPLACE FUNCTION email_verify_internal.watch_wake()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
BEGIN
    PERFORM email_verify_internal.wake_workers_at_commit();
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION email_verify_internal.watch_triggers(tbl regclass, col name)
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

CREATE OR REPLACE FUNCTION email_verify.unwatch(tbl regclass, col name)
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

CREATE OR REPLACE FUNCTION email_verify_internal.forget_dropped_watches()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w record;
BEGIN
    FOR w IN
        SELECT DISTINCT ON (wt.id) wt.id, wt.relid::oid AS relid, wt.column_name, d.object_type
        FROM pg_event_trigger_dropped_objects() d
        JOIN email_verify.watches wt ON wt.relid = d.objid
        WHERE d.classid = 'pg_class'::regclass
          AND (d.object_type = 'table'
               OR (d.object_type = 'table column'
                   AND (d.address_names[3] = ANY (wt.key_columns)
                        OR d.address_names[3] IN (wt.column_name, wt.column_name || '_status',
                                                  wt.column_name || '_reason', wt.column_name || '_catch_all',
                                                  wt.column_name || '_verified_at'))))
        ORDER BY wt.id, d.object_type
    LOOP
        IF w.object_type = 'table column' THEN
            RAISE NOTICE 'email_verify: column % of table % is no longer watched',
                quote_ident(w.column_name), w.relid::regclass;
        END IF;
        PERFORM email_verify_internal.end_watch(w.id);
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'email_verify: could not forget dropped watches: %', SQLERRM;
END
$$;

-- Every change of an item's state is C++ now (src/pg/queue_items.cpp).
DROP FUNCTION email_verify_internal.requeue(bigint[], text[], interval[]);

CREATE OR REPLACE FUNCTION email_verify_internal.retry_later(queue_ids bigint[], reasons text[], delays interval[])
RETURNS int
AS 'MODULE_PATHNAME', 'retry_later'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION email_verify_internal.release_claims(worker_id int)
RETURNS int
AS 'MODULE_PATHNAME', 'release_claims'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;


-- The workers' role. The background workers log in as email_verify_worker,
-- not as a superuser (src/pg/worker_launcher.cpp): a role with LOGIN, because
-- PostgreSQL 15 lets a background worker connect as nothing else, but no
-- password, and every client login as it is refused
-- (src/pg/worker_login_guard.cpp). Roles belong to the cluster: the first
-- CREATE EXTENSION makes it, the next ones (in other databases) find it, and
-- each resets its attributes, whatever was done to it meanwhile.
--   * BYPASSRLS: the sweep reads the watched tables as this role, and a row
--     security policy would be code of the table's owner evaluated outside the
--     owner switch (src/pg/owner_context.cpp); bypassing policies, the sweep
--     reads only the columns column_problem() vets.
--   * It reads a table only while watched: watch() grants it SELECT on the
--     table and USAGE on its schema (let_worker_read), and the end of the
--     last watch revokes them (end_worker_read); the sweep skips a table it
--     may not read (src/pg/queue_claim.cpp). It writes a table only through
--     the owner switch, as the table's owner.
--   * Inside the extension, what the worker's functions (70_worker.sql) touch.
DO $$
BEGIN
    IF to_regrole('email_verify_worker') IS NULL THEN
        CREATE ROLE email_verify_worker LOGIN;
    END IF;
END
$$;
ALTER ROLE email_verify_worker NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT LOGIN NOREPLICATION BYPASSRLS
    CONNECTION LIMIT -1 PASSWORD NULL;
COMMENT ON ROLE email_verify_worker IS
    'email_verify: the background workers'' role; clients cannot log in as it';

GRANT USAGE ON SCHEMA email_verify_internal TO email_verify_worker;
GRANT SELECT, UPDATE ON email_verify.watches TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify.queue TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify.queue_id_seq TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE ON email_verify.worker_counters TO email_verify_worker;
GRANT EXECUTE ON FUNCTION
    -- 40_helpers.sql
    email_verify_internal.wake_workers_at_commit(),
    email_verify_internal.key_sql(regclass, name[], text, text),
    email_verify_internal.queueable_sql(email_verify.watches, text, text, boolean, text, int),
    email_verify_internal.enqueue_sql(email_verify.watches, text, text, boolean, text, int, boolean),
    email_verify_internal.try_lock_table(regclass),
    email_verify_internal.column_problem(regclass, name),
    email_verify_internal.underlying_type(oid, boolean),
    email_verify_internal.trusted_type(pg_type),
    -- 50_watch.sql
    email_verify_internal.suspend_watch(int, text),
    -- 70_worker.sql
    email_verify_internal.enqueue_unverified(int),
    email_verify_internal.enqueue_stale(int),
    email_verify_internal.claim_limit(),
    email_verify_internal.claim_batch(int, int, interval),
    email_verify_internal.retry_later(bigint[], text[], interval[]),
    email_verify_internal.release_claims(int),
    email_verify_internal.apply_verdicts(jsonb)
TO email_verify_worker;

-- What the workers' role may read of a watched table: the table, and its
-- schema's names. Called by watch() and, after every ALTER TABLE of a watched
-- table (SET SCHEMA moves it), by follow_altered_tables.
CREATE FUNCTION email_verify_internal.let_worker_read(tbl regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO email_verify_worker',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl));
    EXECUTE format('GRANT SELECT ON %s TO email_verify_worker', tbl);
END
$$;

-- The end of watch `ending`: the workers' role no longer reads its table once
-- no other watch is on it, nor the table's schema once no watched table is
-- left in it.
CREATE FUNCTION email_verify_internal.end_worker_read(tbl regclass, ending int)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    schema oid := (SELECT c.relnamespace FROM pg_class c WHERE c.oid = tbl);
BEGIN
    IF NOT EXISTS (SELECT FROM email_verify.watches o WHERE o.relid = tbl AND o.id <> ending) THEN
        EXECUTE format('REVOKE SELECT ON %s FROM email_verify_worker', tbl);
    END IF;
    IF NOT EXISTS (SELECT FROM email_verify.watches o JOIN pg_class c ON c.oid = o.relid
                   WHERE c.relnamespace = schema AND o.id <> ending) THEN
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM email_verify_worker',
                       (SELECT n.nspname FROM pg_namespace n WHERE n.oid = schema));
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION email_verify_internal.let_worker_read(regclass), email_verify_internal.end_worker_read(regclass, int)
FROM PUBLIC;

-- The tables watched before this version: the workers' role reads them from now on.
SELECT email_verify_internal.let_worker_read(t.relid) FROM (SELECT DISTINCT w.relid FROM email_verify.watches w) t;

-- The launcher starts the workers once this commits.
SELECT email_verify_internal.wake_workers_at_commit();
