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

-- extension/src/85_prober.sql

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

-- Which MX sites are probed is the probing roles' business. (A view's
-- functions are called with its reader's privileges: both are granted.)
REVOKE ALL ON email_verify.prober_sites FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION email_verify_internal.prober_sites() FROM PUBLIC;
GRANT SELECT ON email_verify.prober_sites TO email_verify_prober;
GRANT EXECUTE ON FUNCTION email_verify_internal.prober_sites() TO email_verify_prober;

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

-- Counters only: everyone may read them (the function too, as the view's
-- reader calls it).
GRANT SELECT ON email_verify.prober_cache TO PUBLIC;

-- Emptying the server's cache changes every backend's answers: privileged.
REVOKE EXECUTE ON FUNCTION email_verify.clear_cache() FROM PUBLIC;

-- The prober's counters for the whole server since it started (every run of
-- every backend and worker; empty without shared_preload_libraries), one row
-- a counter so that a scraper needs no change when one is added; the server
-- cache's own counters are among them.
CREATE FUNCTION email_verify_internal.prober_counters(OUT counter text, OUT value bigint)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_counters';

CREATE VIEW email_verify.prober_counters AS
SELECT counter, value FROM email_verify_internal.prober_counters()
UNION ALL
SELECT 'cache_' || c.counter, c.value
FROM email_verify.prober_cache p
CROSS JOIN LATERAL (VALUES ('hits', p.hits), ('misses', p.misses), ('stores', p.stores),
                           ('evictions', p.evictions), ('entries', p.entries)) AS c(counter, value)
WHERE p.capacity IS NOT NULL;

COMMENT ON VIEW email_verify.prober_counters IS
    'the prober''s counters for the whole server since start: sessions, RCPTs, RCPT replies by class, errors by cause, server cache hits, misses, stores, evictions and entries';

-- Latency per phase of a probe, from power-of-two histograms: a quantile is
-- the upper bound of the bucket it falls in (at most twice the true value).
CREATE FUNCTION email_verify_internal.prober_latency(
    OUT phase text, OUT samples bigint, OUT p50_ms double precision, OUT p90_ms double precision,
    OUT p99_ms double precision)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_latency';

CREATE VIEW email_verify.prober_latency AS
SELECT phase, samples, p50_ms, p90_ms, p99_ms FROM email_verify_internal.prober_latency();

COMMENT ON VIEW email_verify.prober_latency IS
    'latency per probe phase (dns: a domain''s route; connect; banner; rcpt: one RCPT''s reply) for the whole server since start: samples and p50/p90/p99 (bucket upper bounds)';

GRANT SELECT ON email_verify.prober_counters, email_verify.prober_latency TO PUBLIC;

-- The prober's own network, as its sessions saw it (shared memory; 'ok' and
-- NULLs without shared_preload_libraries): 'blocked' when ten or more MX
-- hosts of distinct domains failed to connect or greeted with a blocklist
-- refusal with no session getting through in between, 'degraded' from three.
CREATE FUNCTION email_verify_internal.prober_health(
    OUT state text, OUT since timestamptz, OUT failing_hosts int, OUT seconds_since_success double precision,
    OUT evidence text)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_health';

CREATE VIEW email_verify.prober_health AS
SELECT state, since, failing_hosts, seconds_since_success, evidence FROM email_verify_internal.prober_health();

COMMENT ON VIEW email_verify.prober_health IS
    'whether the prober''s own network works (ok, degraded, blocked: outbound port 25 blocked or this IP refused everywhere), since when, and the evidence';

GRANT SELECT ON email_verify.prober_health TO PUBLIC;

COMMENT ON FUNCTION email_verify.clear_cache() IS
    'forgets the cached verdicts, MX routes and catch-all answers of the whole server (and this backend''s counters); superuser only unless granted';

-- New in 0.4.0 (extension/src/85_providers.sql, and its grant in
-- 90_privileges.sql). Big mail providers, recognised by the host name of a domain's most
-- preferred MX, each with what is known of how it answers probes: the prober
-- reads their answers only as far as that behaviour allows, and names the
-- provider in smtp_message. Its C side: src/pg/provider_functions.cpp,
-- src/pg/provider_cache.cpp and src/core/prober/provider_rules.cpp.
--
-- Shipped rows and yours ----------------------------------------------------
-- The rows this version ships have origin 'shipped'. pg_dump skips them
-- (CREATE EXTENSION, and so every restore, brings them back) and keeps the
-- others: rows you add ('user') and shipped rows you changed ('edited', set
-- by providers_guard). A row you insert, or a dump restores, under a shipped
-- row's name takes that row's place. A shipped or edited row cannot be
-- deleted or renamed, since the restore of a dump would bring the shipped
-- row back: set enabled = false instead. An upgrade script that refreshes
-- shipped rows must update only origin = 'shipped' rows, with providers_guard
-- disabled meanwhile (or they would turn 'edited').

CREATE FUNCTION email_verify_internal.mx_patterns_are_valid(patterns text[])
RETURNS boolean
AS 'MODULE_PATHNAME', 'mx_patterns_are_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE email_verify.providers (
    name        text PRIMARY KEY,
    mx_patterns text[] NOT NULL,
    behaviour   text NOT NULL,
    notes       text NOT NULL DEFAULT '',
    source      text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    origin      text NOT NULL DEFAULT 'user',
    CONSTRAINT providers_name_check
        CHECK (octet_length(name) BETWEEN 1 AND 64 AND name !~ '[\x01-\x1f\x7f]'),
    CONSTRAINT providers_mx_patterns_check
        CHECK (email_verify_internal.mx_patterns_are_valid(mx_patterns)),
    CONSTRAINT providers_behaviour_check
        CHECK (behaviour IN ('reveals_mailboxes', 'accepts_all', 'throttles_rcpt', 'per_domain', 'tarpits',
                             'undocumented')),
    CONSTRAINT providers_origin_check CHECK (origin IN ('shipped', 'edited', 'user'))
);

COMMENT ON TABLE email_verify.providers IS
'big mail providers recognised by the host name of a domain''s most preferred MX, with how they answer probes';
COMMENT ON COLUMN email_verify.providers.mx_patterns IS
'MX host names or parent domains of them (google.com matches aspmx.l.google.com); the longest matching pattern wins';
COMMENT ON COLUMN email_verify.providers.behaviour IS
'reveals_mailboxes, accepts_all, throttles_rcpt, per_domain, tarpits or undocumented (README: Big providers)';
COMMENT ON COLUMN email_verify.providers.source IS
'where the knowledge of its behaviour comes from';
COMMENT ON COLUMN email_verify.providers.origin IS
'shipped (as this version ships it, not dumped), edited (a shipped row you changed) or user (yours)';

-- Kept by pg_dump: your rows and your edits, not what CREATE EXTENSION ships.
SELECT pg_catalog.pg_extension_config_dump('email_verify.providers', 'WHERE origin <> ''shipped''');

CREATE FUNCTION email_verify_internal.providers_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.origin <> 'shipped' THEN
            DELETE FROM email_verify.providers WHERE name = NEW.name AND origin = 'shipped';
            IF FOUND THEN
                NEW.origin := 'edited';
            END IF;
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.origin <> 'user' AND NEW.name IS DISTINCT FROM OLD.name THEN
            RAISE EXCEPTION 'provider "%" came with email_verify and keeps its name', OLD.name
                USING ERRCODE = 'restrict_violation',
                      HINT = 'Add a row of your own and set enabled = false on this one.';
        END IF;
        IF OLD.origin = 'shipped' AND NEW.origin = 'shipped'
           AND (NEW.mx_patterns, NEW.behaviour, NEW.notes, NEW.source, NEW.enabled)
               IS DISTINCT FROM (OLD.mx_patterns, OLD.behaviour, OLD.notes, OLD.source, OLD.enabled) THEN
            NEW.origin := 'edited';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        -- Deeper, it is the INSERT branch above making room for a row that
        -- takes a shipped row's place.
        IF OLD.origin <> 'user' AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'provider "%" came with email_verify and cannot be deleted', OLD.name
                USING ERRCODE = 'restrict_violation',
                      HINT = 'Set enabled = false: CREATE EXTENSION, and so the restore of a dump, '
                             'brings shipped providers back.';
        END IF;
        RETURN OLD;
    END IF;
    -- TRUNCATE
    RAISE EXCEPTION 'email_verify.providers cannot be truncated: it holds the providers email_verify ships'
        USING ERRCODE = 'restrict_violation',
              HINT = 'DELETE FROM email_verify.providers WHERE origin = ''user'' removes your own rows.';
END
$$;

CREATE TRIGGER providers_guard
BEFORE INSERT OR UPDATE OR DELETE ON email_verify.providers
FOR EACH ROW EXECUTE FUNCTION email_verify_internal.providers_guard();

CREATE TRIGGER providers_guard_truncate
BEFORE TRUNCATE ON email_verify.providers
FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.providers_guard();

CREATE FUNCTION email_verify_internal.providers_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'providers_changed'
LANGUAGE C;

CREATE TRIGGER providers_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON email_verify.providers
FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.providers_changed();

CREATE FUNCTION email_verify.provider_for_mx(mx_host text)
RETURNS text
AS 'MODULE_PATHNAME', 'provider_for_mx'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION email_verify.provider_for_mx(text) IS
'the enabled provider of email_verify.providers an MX host name belongs to, as the prober sees it; NULL when none';

-- What this version knows. Each behaviour is what the public record shows;
-- sources name documentation or public reports, and field experience of
-- open-source verifiers where nothing was published.
INSERT INTO email_verify.providers (name, mx_patterns, behaviour, notes, source, origin) VALUES
('Google', '{google.com,googlemail.com}', 'reveals_mailboxes',
 'Gmail and Google Workspace (MX aspmx.l.google.com, smtp.google.com, gmail-smtp-in.l.google.com and their '
 'alternates). Unknown recipients are refused at RCPT with 550 5.1.1 ("The email account that you tried to reach '
 'does not exist"), disabled accounts with 550 5.2.1, full mailboxes with 452 4.2.2; a mailbox receiving mail too '
 'fast gets 450 4.2.1 (it exists). A Workspace domain may route unknown addresses to a catch-all, which the '
 'catch-all probe detects.',
 'Google Workspace Admin Help, "SMTP error reference": https://support.google.com/a/answer/3726730',
 'shipped'),
('Microsoft Outlook.com', '{olc.protection.outlook.com}', 'throttles_rcpt',
 'Microsoft''s consumer mail: outlook.com, hotmail.*, live.*, msn.com (MX <domain>.olc.protection.outlook.com, '
 'eur.olc.protection.outlook.com). Unknown recipients are refused at RCPT with 550 5.5.0 "Requested action not '
 'taken: mailbox unavailable". A second recipient in one transaction is answered 452 4.5.3 ("Too many '
 'recipients", "Recipients belong to multiple regions"), so every recipient, the catch-all probe included, is '
 'asked in a transaction of its own; a 4xx is never a verdict. Probers on addresses of poor reputation are '
 'refused with 5.7.x, which reads as smtp_blocked.',
 'Public reports: reacherhq/check-if-email-exists issues #569, #756 and #1334, AfterShip/email-verifier issue #72 '
 '(452 4.5.3 to a second RCPT); MicrosoftDocs/OfficeDocs-Exchange issue #2836 (550 5.5.0 for unused hotmail.com '
 'and outlook.com addresses).',
 'shipped'),
('Microsoft 365', '{mail.protection.outlook.com,mail.protection.office365.us,mail.protection.partner.outlook.cn}',
 'per_domain',
 'Exchange Online (MX <tenant>.mail.protection.outlook.com). With Directory Based Edge Blocking, the default for '
 'authoritative accepted domains, unknown recipients are refused at RCPT with 550 5.4.1 "Recipient address '
 'rejected: Access denied"; tenants without it (internal-relay domains, some hybrid set-ups) answer "250 2.1.5 '
 'Recipient OK" to anyone and bounce later. The catch-all probe tells which: until the domain has refused it, an '
 'acceptance proves nothing (unknown, asked again later). Busy front ends answer 451 4.4.4 or 452 4.5.3.',
 'Microsoft Learn, "Use Directory Based Edge Blocking to reject messages sent to invalid recipients" and "Email '
 'non-delivery reports and SMTP errors in Exchange Online": https://docs.microsoft.com/en-us/exchange/'
 'mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online; '
 'public reports: reacherhq/check-if-email-exists issue #1185 ("250 2.1.5 Recipient OK" for a non-existent '
 'address), karolyi/py3-validate-email pull request #63 (some tenants refuse unknown recipients, some do not).',
 'shipped'),
('Yahoo/AOL', '{yahoodns.net}', 'accepts_all',
 'yahoo.*, aol.*, ymail.com, rocketmail.com and the other Yahoo Inc. domains (MX *.yahoodns.net). Every recipient '
 'is accepted at RCPT; an unknown one is refused only after DATA ("554 delivery error: dd This user doesn''t have a '
 'yahoo.com account"), which a probe never sends. Busy or distrusted senders get 421 4.7.0 [TSS04] deferrals.',
 'Yahoo Sender Hub, "SMTP error codes": https://senders.yahooinc.com/smtp-error-codes; public reports: '
 'truemail-rb/truemail-go issue #91 (250 at RCPT, refusal after DATA), AfterShip/email-verifier issue #57, '
 'hbattat/verifyEmail issue #30.',
 'shipped'),
('Apple iCloud Mail', '{mail.icloud.com}', 'reveals_mailboxes',
 'icloud.com, me.com, mac.com and custom domains (MX mx01.mail.icloud.com, mx02.mail.icloud.com). Unknown '
 'recipients are refused at RCPT with 550 5.1.1 ("unknown or illegal alias", "user does not exist", "inactive email '
 'address"), full mailboxes with 552 5.2.2. Probers report erratic sessions: 450 4.7.1 "Helo command rejected: Host '
 'not found" for a HELO name without an address, "503 5.5.1 send HELO/EHLO first" after EHLO, 421 4.7.1 deferrals '
 'for volume; none of them is read as a verdict on the mailbox.',
 'Apple, iCloud Mail postmaster information: https://support.apple.com/en-us/102322; bounce texts collected by '
 'Sisimai (sisimai/p5-sisimai, lib/Sisimai/Rhost/Apple.pm); public reports: reacherhq/check-if-email-exists issues '
 '#934 and #1410, sisimai/set-of-emails issue #11.',
 'shipped'),
('Proton Mail', '{protonmail.ch}', 'undocumented',
 'proton.me, protonmail.com, pm.me and custom domains (MX mail.protonmail.ch, mailsec.protonmail.ch). No public '
 'account of how it answers recipient probes was found: its answers are read as any server''s, with the catch-all '
 'probe.',
 'MX host names: Proton''s custom-domain set-up instructions. Behaviour: nothing published; edit this row with what '
 'you observe.',
 'shipped'),
('Zoho Mail', '{zoho.com,zoho.eu,zoho.in,zoho.com.au,zoho.jp}', 'reveals_mailboxes',
 'zoho.com and custom domains (MX mx.zoho.com, mx2.zoho.com, mx3.zoho.com, smtpin.zoho.com and the regional '
 'zoho.eu, zoho.in, zoho.com.au, zoho.jp). Unknown recipients are refused at RCPT with 550 5.1.1 "User does not '
 'exist"; accepted ones get "250 Recipient <address> OK" without an enhanced code. Some senders are greylisted at '
 'RCPT ("451 4.7.1 Greylisted, try again after some time"). An organisation may set a catch-all address, which the '
 'catch-all probe detects.',
 'Bounce texts collected by Sisimai (sisimai/p5-sisimai, lib/Sisimai/Rhost/Zoho.pm); public report: '
 'reacherhq/check-if-email-exists issue #487 (the 250 reply text).',
 'shipped'),
('Yandex', '{yandex.ru,yandex.net}', 'reveals_mailboxes',
 'yandex.ru, yandex.com, ya.ru and Yandex 360 domains (MX mx.yandex.ru, mx.yandex.net). Unknown recipients are '
 'refused at RCPT with "550 5.7.1 No such user!": a policy code with an unknown-user text, read as '
 'mailbox_not_found for the text; other 5.7.x replies are read as a refusal of the prober (smtp_blocked).',
 'Public report: maxcom/lorsource issue #1094 ("550 5.7.1 No such user!" for a mistyped yandex.ru address); field '
 'experience of open-source verifiers.',
 'shipped'),
('Mail.ru', '{mail.ru}', 'accepts_all',
 'mail.ru, inbox.ru, list.ru, bk.ru and Mail.ru for business (MX mxs.mail.ru, emx.mail.ru). Every recipient is '
 'accepted at RCPT; an unknown one bounces after the message was sent.',
 'Public report: zytzagoo/smtp-validate-email issue #3 (2023: non-existent mail.ru, inbox.ru and list.ru '
 'addresses are accepted and bounce later); field experience of open-source verifiers.',
 'shipped');

GRANT SELECT ON email_verify.providers TO PUBLIC;

-- The launcher starts the workers once this commits.
SELECT email_verify_internal.wake_workers_at_commit();

-- Bulk jobs and webhooks (extension/src/97_jobs.sql, 98_webhooks.sql) ----------------------

-- Bulk jobs: a list submitted at once, verified by the background workers
-- beside the watched tables, its progress and results read with SQL, its
-- events sent as signed webhooks (98_webhooks.sql).
--
-- Security model (as for watches, 30_tables.sql): the tables are internal,
-- readable by the extension's owner and the workers' role alone. A role
-- reaches its own jobs through the functions below, which check the calling
-- role (email_verify_internal.calling_role); superusers and members of
-- email_verify_admin reach every job. Levels dns and smtp need the prober
-- privilege (may_probe), at submission and again whenever the workers claim
-- the job's addresses: a job whose owner lost it fails.
-- submit_job and submit_job_from_query are the module's (src/pg/job_functions.cpp):
-- they run as the caller (the query of submit_job_from_query is the caller's
-- own code, run with the caller's own rights) and write the job through the
-- SECURITY DEFINER functions job_create, job_add and job_seal, which accept
-- only a job the calling role created in the current transaction.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'email_verify_admin') THEN
        CREATE ROLE email_verify_admin NOLOGIN;
        COMMENT ON ROLE email_verify_admin IS
            'members see, cancel and replay the webhooks of every role''s email_verify jobs';
    END IF;
END
$$;

-- Tables ---------------------------------------------------------------------------

-- One row per job. webhook_secret is the secret given with the job (a
-- registered endpoint keeps its own, 98_webhooks.sql); no view or function
-- shows it. processed counts inputs (duplicates included) whose verdict is in.
-- claimed_through is the position up to which the workers have claimed its
-- new addresses (see job_addresses).
CREATE TABLE email_verify_internal.jobs (
    id               bigserial PRIMARY KEY,
    owner            oid NOT NULL,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    level            text NOT NULL CHECK (level IN ('syntax', 'dns', 'smtp')),
    total            bigint NOT NULL DEFAULT 0,
    unique_addresses bigint NOT NULL DEFAULT 0,
    processed        bigint NOT NULL DEFAULT 0,
    webhook_url      text,
    webhook_secret   text,
    endpoint_id      int,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    progress_sent_at timestamptz,
    claimed_through  bigint NOT NULL DEFAULT 0
);
CREATE INDEX jobs_open_idx ON email_verify_internal.jobs (id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished_idx ON email_verify_internal.jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Every input, in input order. address_key (email_verify_internal.address_key)
-- is what makes two inputs the same address: trimmed, domain lower-cased.
CREATE TABLE email_verify_internal.job_inputs (
    job_id      bigint NOT NULL,
    ordinal     bigint NOT NULL,
    email       text NOT NULL,
    address_key text COLLATE "C" NOT NULL,
    PRIMARY KEY (job_id, ordinal)
);

-- Every distinct address of a job, where its verdict is kept (result) for
-- each of its copies inputs; position is the ordinal of its first input.
-- No index covers state, result or attempts: the worker's writes to a row are
-- heap-only updates (fillfactor leaves them room), which add no index entry.
-- The work itself is tracked beside it:
--   * new addresses are claimed a range of positions at a time, after the
--     job's claimed_through (job_claims), and read through the position index;
--   * an address put back (a transient verdict retried, a claim whose lease
--     ran out) waits in job_retries until it is due.
CREATE TABLE email_verify_internal.job_addresses (
    job_id      bigint NOT NULL,
    address_key text COLLATE "C" NOT NULL,
    position    bigint NOT NULL,
    copies      bigint NOT NULL,
    state       text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'retrying', 'done')),
    attempts    int NOT NULL DEFAULT 0,
    result      email_verify.result,
    PRIMARY KEY (job_id, address_key)
) WITH (fillfactor = 60);
CREATE UNIQUE INDEX job_addresses_position_idx ON email_verify_internal.job_addresses (job_id, position);

-- Ranges of new addresses a worker has claimed, until lease_until; a range
-- is deleted when its batch has been written back. One whose lease ran out
-- (its worker died) puts its addresses still new back, as retries.
CREATE TABLE email_verify_internal.job_claims (
    id             bigserial PRIMARY KEY,
    job_id         bigint NOT NULL,
    worker_id      int NOT NULL,
    first_position bigint NOT NULL,
    last_position  bigint NOT NULL,
    lease_until    timestamptz NOT NULL
);

-- Addresses put back: due at not_before, claimed (claimed_by) until
-- lease_until, deleted when their verdict is written.
CREATE TABLE email_verify_internal.job_retries (
    job_id      bigint NOT NULL,
    address_key text COLLATE "C" NOT NULL,
    not_before  timestamptz NOT NULL,
    claimed_by  int,
    lease_until timestamptz,
    PRIMARY KEY (job_id, address_key)
);
CREATE INDEX job_retries_due_idx ON email_verify_internal.job_retries (job_id, not_before);

-- Verdicts per job, status and reason, counted over inputs: job_status, the
-- progress events and the completion summary read these, never the results.
CREATE TABLE email_verify_internal.job_counts (
    job_id     bigint NOT NULL,
    status     text NOT NULL,
    reason     text NOT NULL,
    n          bigint NOT NULL,
    disposable bigint NOT NULL,
    catch_all  bigint NOT NULL,
    PRIMARY KEY (job_id, status, reason)
);

-- Endpoints registered once (name, url, secret, events) instead of a secret
-- with every job; and URLs that answered 410 Gone (disabled_at set, name
-- NULL when nobody registered them): no event is sent to them until
-- enable_webhook_endpoint.
CREATE TABLE email_verify_internal.webhook_endpoints (
    id                serial PRIMARY KEY,
    owner             oid NOT NULL,
    name              text,
    url               text NOT NULL,
    secret            text,
    previous_secret   text,
    previous_until    timestamptz,
    events            text[] NOT NULL DEFAULT '{bulk.progress,bulk.completed,bulk.failed}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz,
    disabled_reason   text,
    UNIQUE (owner, name)
);

-- Provided by the module (src/core/webhook/url_policy.h): only http and
-- https, a host, no credentials; the worker checks the address it connects
-- to at every attempt (email_verify.webhook_allow_private).
CREATE FUNCTION email_verify_internal.check_webhook_url(url text)
RETURNS void
AS 'MODULE_PATHNAME', 'check_webhook_url'
LANGUAGE C STABLE STRICT;

-- Jobs and their results survive pg_dump and restore.
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_inputs', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_addresses', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_counts', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_claims', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_claims_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_retries', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_endpoints', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_endpoints_id_seq', '');

-- Who may see a job ---------------------------------------------------------------

-- Whether role may see and act on the jobs of owner.
CREATE FUNCTION email_verify_internal.may_see_job(role name, owner oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role AND (r.oid = owner OR r.rolsuper))
        OR (EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'email_verify_admin')
            AND pg_has_role(role, 'email_verify_admin', 'USAGE'))
$$;

-- The job the calling role may see, or an error that says no more than that it
-- does not exist (another role's job is not revealed).
CREATE FUNCTION email_verify_internal.visible_job(job bigint)
RETURNS email_verify_internal.jobs
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs;
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO j FROM email_verify_internal.jobs WHERE id = job;
    IF NOT FOUND OR NOT email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner) THEN
        RAISE EXCEPTION 'email_verify job % does not exist', job USING ERRCODE = 'no_data_found',
            HINT = 'A role sees its own jobs; superusers and members of email_verify_admin see all.';
    END IF;
    RETURN j;
END
$$;

-- Building a job (called by submit_job and submit_job_from_query) ------------------------

-- The dedupe key: provided by the module (src/core/jobs/address_key.h).
CREATE FUNCTION email_verify_internal.address_key(address text)
RETURNS text
AS 'MODULE_PATHNAME', 'job_address_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A new, empty job of the calling role. Checks what can be checked before any
-- address is read: the level and its privilege, the webhook target.
CREATE FUNCTION email_verify_internal.job_create(level text, webhook_url text, webhook_secret text,
                                                 endpoint text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller name := email_verify_internal.calling_role();
    chosen text := coalesce(level, current_setting('email_verify.default_level'));
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
        WHERE e.name = endpoint AND e.owner = (SELECT oid FROM pg_roles WHERE rolname = caller);
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
    VALUES ((SELECT oid FROM pg_roles WHERE rolname = caller), chosen,
            coalesce(webhook_url, target.url), webhook_secret, target.id)
    RETURNING jobs.id INTO id;
    RETURN id;
END
$$;

-- The job being built: the calling role's, created in this very transaction.
CREATE FUNCTION email_verify_internal.job_being_built(job bigint)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id FROM email_verify_internal.jobs j
    WHERE j.id = job AND j.xmin = pg_current_xact_id()::xid
      AND j.owner = (SELECT oid FROM pg_roles WHERE rolname = email_verify_internal.calling_role())
$$;

-- Appends addresses to a job being built, after those it has; duplicates of an
-- address it holds (the same address_key) add a copy, not a probe.
CREATE FUNCTION email_verify_internal.job_add(job bigint, addresses text[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base bigint;
    hole int := array_position(addresses, NULL);
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF hole IS NOT NULL THEN
        RAISE EXCEPTION 'address % of the job is NULL', (SELECT total FROM email_verify_internal.jobs WHERE id = job) + hole
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Leave NULL addresses out (WHERE email IS NOT NULL).';
    END IF;
    UPDATE email_verify_internal.jobs j SET total = j.total + cardinality(addresses)
    WHERE j.id = job RETURNING j.total - cardinality(addresses) INTO base;
    WITH inputs AS (
        INSERT INTO email_verify_internal.job_inputs (job_id, ordinal, email, address_key)
        SELECT job, base + u.o, u.e, email_verify_internal.address_key(u.e)
        FROM unnest(addresses) WITH ORDINALITY AS u(e, o)
        RETURNING address_key, ordinal
    )
    INSERT INTO email_verify_internal.job_addresses AS a (job_id, address_key, position, copies)
    SELECT job, i.address_key, min(i.ordinal), count(*) FROM inputs i GROUP BY i.address_key
    ON CONFLICT (job_id, address_key) DO UPDATE SET copies = a.copies + excluded.copies;
    RETURN job;
END
$$;

-- Ends the building of a job: it must hold an address; the workers are woken
-- when the transaction commits.
CREATE FUNCTION email_verify_internal.job_seal(job bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE email_verify_internal.jobs j
    SET unique_addresses = (SELECT count(*) FROM email_verify_internal.job_addresses a WHERE a.job_id = job)
    WHERE j.id = job;
    IF (SELECT total FROM email_verify_internal.jobs WHERE id = job) = 0 THEN
        RAISE EXCEPTION 'a job needs at least one address' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM email_verify_internal.wake_workers_at_commit();
    RETURN job;
END
$$;

-- The API ----------------------------------------------------------------------------

CREATE FUNCTION email_verify.submit_job(addresses text[], webhook_url text DEFAULT NULL,
                                        webhook_secret text DEFAULT NULL, level text DEFAULT NULL,
                                        endpoint text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'submit_job'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.submit_job(text[], text, text, text, text) IS
    'submits a bulk job; returns its id (email_verify.job_status, job_results, cancel_job)';

CREATE FUNCTION email_verify.submit_job_from_query(query text, webhook_url text DEFAULT NULL,
                                                   webhook_secret text DEFAULT NULL, level text DEFAULT NULL,
                                                   endpoint text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'submit_job_from_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.submit_job_from_query(text, text, text, text, text) IS
    'submits a bulk job of the addresses a query returns (its first column, read in batches, in its order)';

CREATE FUNCTION email_verify.job_status(job_id bigint,
    OUT job_id bigint, OUT state text, OUT level text, OUT total bigint, OUT processed bigint,
    OUT percent_done numeric, OUT valid bigint, OUT invalid bigint, OUT risky bigint, OUT unknown bigint,
    OUT disposable bigint, OUT catch_all bigint, OUT reasons jsonb, OUT unique_addresses bigint,
    OUT created_at timestamptz, OUT started_at timestamptz, OUT finished_at timestamptz,
    OUT estimated_completion timestamptz, OUT failure_reason text, OUT webhook_url text,
    OUT webhook_endpoint text, OUT owner name)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id, j.state, j.level, j.total, j.processed,
           round(100.0 * j.processed / greatest(j.total, 1), 1),
           coalesce(sum(c.n) FILTER (WHERE c.status = 'valid'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'invalid'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'risky'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'unknown'), 0)::bigint,
           coalesce(sum(c.disposable), 0)::bigint, coalesce(sum(c.catch_all), 0)::bigint,
           coalesce(jsonb_object_agg(c.status || '/' || c.reason, c.n) FILTER (WHERE c.n IS NOT NULL), '{}'),
           j.unique_addresses, j.created_at, j.started_at, j.finished_at,
           CASE WHEN j.state = 'running' AND j.processed > 0
                THEN now() + (now() - j.started_at) * ((j.total - j.processed)::float8 / j.processed) END,
           j.failure_reason, j.webhook_url,
           (SELECT e.name FROM email_verify_internal.webhook_endpoints e WHERE e.id = j.endpoint_id),
           (SELECT r.rolname FROM pg_roles r WHERE r.oid = j.owner)
    FROM email_verify_internal.visible_job($1) j
    LEFT JOIN email_verify_internal.job_counts c ON c.job_id = j.id
    GROUP BY j.id, j.state, j.level, j.total, j.processed, j.unique_addresses, j.created_at, j.started_at,
             j.finished_at, j.failure_reason, j.webhook_url, j.endpoint_id, j.owner
$$;
COMMENT ON FUNCTION email_verify.job_status(bigint) IS
    'a job''s state, progress, counts per status and per reason, times and estimated completion';

-- The results of the jobs the current role may see, in input order; what
-- job_results reads. A view runs with its owner's rights on the tables but
-- the filter's current_user is the reader: a role sees its own jobs' rows.
CREATE VIEW email_verify_internal.visible_job_results WITH (security_barrier) AS
SELECT i.job_id, i.ordinal, i.email, (a.result).normalized, (a.result).status, (a.result).reason,
       (a.result).level, (a.result).suggestion, (a.result).is_disposable, (a.result).is_role,
       (a.result).is_free, (a.result).is_catch_all, (a.result).mx_found, (a.result).mx_host,
       (a.result).smtp_code, (a.result).smtp_message, (a.result).score, (a.result).checked_at,
       (a.result).duration_ms, (a.result).from_cache
FROM email_verify_internal.jobs j
JOIN email_verify_internal.job_inputs i ON i.job_id = j.id
LEFT JOIN email_verify_internal.job_addresses a ON a.job_id = i.job_id AND a.address_key = i.address_key
WHERE email_verify_internal.may_see_job(current_user, j.owner);

-- Inlined into the caller's query (plain SQL, no SET, not STRICT): the rows
-- stream from the index in input order, so COPY of a million-row job holds
-- no more than a row at a time. visible_job raises the error for an unknown
-- job. An address not verified yet (a cancelled or failed job) has only its
-- email.
CREATE FUNCTION email_verify.job_results(job_id bigint)
RETURNS SETOF email_verify.result
LANGUAGE sql STABLE
AS $$
    SELECT r.email, r.normalized, r.status, r.reason, r.level, r.suggestion, r.is_disposable, r.is_role,
           r.is_free, r.is_catch_all, r.mx_found, r.mx_host, r.smtp_code, r.smtp_message, r.score,
           r.checked_at, r.duration_ms, r.from_cache
    FROM email_verify_internal.visible_job_results r
    WHERE r.job_id OPERATOR(pg_catalog.=) (email_verify_internal.visible_job($1)).id
    ORDER BY r.ordinal
$$;
COMMENT ON FUNCTION email_verify.job_results(bigint) IS
    'a job''s results, one row per input in input order (streamed: COPY it to export)';

-- Cancels a queued or running job: the addresses not verified yet stay so,
-- its results so far stay readable, and a bulk.failed event (reason
-- cancelled) tells its webhook.
CREATE FUNCTION email_verify.cancel_job(job_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs := email_verify_internal.visible_job(job_id);
BEGIN
    UPDATE email_verify_internal.jobs SET state = 'cancelled', finished_at = now(),
           failure_reason = format('cancelled by %s', email_verify_internal.calling_role())
    WHERE id = j.id AND state IN ('queued', 'running');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'email_verify job % is already %', j.id, j.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM email_verify_internal.emit_event(j.id, 'bulk.failed');
END
$$;
COMMENT ON FUNCTION email_verify.cancel_job(bigint) IS
    'cancels a queued or running job; its results so far stay readable';

-- Every job the current role may see, newest first.
CREATE VIEW email_verify.jobs WITH (security_barrier) AS
SELECT j.id AS job_id, r.rolname AS owner, j.state, j.level, j.total, j.processed,
       round(100.0 * j.processed / greatest(j.total, 1), 1) AS percent_done,
       j.created_at, j.started_at, j.finished_at, j.failure_reason, j.webhook_url
FROM email_verify_internal.jobs j
LEFT JOIN pg_roles r ON r.oid = j.owner
WHERE email_verify_internal.may_see_job(current_user, j.owner);
COMMENT ON VIEW email_verify.jobs IS 'the bulk jobs the current role may see (its own; all for admins)';

-- Webhooks: the events of bulk jobs (97_jobs.sql), kept in an outbox that the
-- background worker delivers (src/pg/webhook_delivery.cpp): signed, retried
-- with backoff, and parked as dead letters after the last attempt. Every event
-- is also sent as NOTIFY email_verify when it is created. Secrets stay in the
-- internal tables: no view, function result, log line or error shows them.

-- Tables ---------------------------------------------------------------------------

-- The outbox: one row per event and target. event_id is fixed when the event
-- is created and sent unchanged with every attempt. A job's events go out in
-- order: one waits while an earlier one of its job is pending or sending.
CREATE TABLE email_verify_internal.webhook_events (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    job_id          bigint NOT NULL,
    event_type      text NOT NULL,
    body            jsonb NOT NULL,
    url             text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_status     int,
    last_cause      text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_events_due_idx ON email_verify_internal.webhook_events (next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX webhook_events_job_idx ON email_verify_internal.webhook_events (job_id, id);
CREATE INDEX webhook_events_sending_idx ON email_verify_internal.webhook_events (lease_until)
    WHERE state = 'sending';

-- One row per delivery attempt, for the statistics view.
CREATE TABLE email_verify_internal.webhook_attempts (
    event_row    bigint NOT NULL,
    url          text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    http_status  int,
    cause        text NOT NULL,
    latency_ms   double precision NOT NULL
);
CREATE INDEX webhook_attempts_event_idx ON email_verify_internal.webhook_attempts (event_row);

SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_events', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_events_id_seq', '');

-- Provided by the module (src/core/webhook/): a fresh secret.
CREATE FUNCTION email_verify.new_webhook_secret()
RETURNS text
AS 'MODULE_PATHNAME', 'new_webhook_secret'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.new_webhook_secret() IS
    'a new random secret "whsec_<base64>" that Stripe-style and Standard Webhooks receivers both accept unchanged';

-- Events ------------------------------------------------------------------------------

-- The body of event_type for job: jsonb, never text pasted together. Counts
-- are over inputs (duplicates included), equal to what job_results returns;
-- a completed job of at most email_verify.webhook_inline_results addresses
-- carries its results too.
CREATE FUNCTION email_verify_internal.event_body(job bigint, event_type text, event_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
               'event_id', event_id, 'event_type', event_type, 'job_id', j.id,
               'created_at', now(), 'state', j.state, 'level', j.level,
               'total', j.total, 'processed', j.processed,
               'summary', jsonb_build_object(
                   'total', j.total,
                   'valid', coalesce(sum(c.n) FILTER (WHERE c.status = 'valid'), 0),
                   'invalid', coalesce(sum(c.n) FILTER (WHERE c.status = 'invalid'), 0),
                   'risky', coalesce(sum(c.n) FILTER (WHERE c.status = 'risky'), 0),
                   'unknown', coalesce(sum(c.n) FILTER (WHERE c.status = 'unknown'), 0),
                   'disposable', coalesce(sum(c.disposable), 0),
                   'catch_all', coalesce(sum(c.catch_all), 0)),
               'reasons', coalesce(jsonb_object_agg(c.status || '/' || c.reason, c.n) FILTER (WHERE c.n IS NOT NULL),
                                   '{}'))
           || CASE WHEN event_type = 'bulk.failed'
                   THEN jsonb_build_object('reason', j.failure_reason) ELSE '{}' END
           || CASE WHEN event_type = 'bulk.completed'
                        AND j.total <= coalesce(current_setting('email_verify.webhook_inline_results', true), '100')::int
                   THEN jsonb_build_object('results', (
                            SELECT jsonb_agg(to_jsonb(r) - 'job_id' - 'ordinal' ORDER BY r.ordinal)
                            FROM email_verify_internal.job_inputs i
                            LEFT JOIN email_verify_internal.job_addresses a
                                   ON a.job_id = i.job_id AND a.address_key = i.address_key
                            CROSS JOIN LATERAL (SELECT i.email, (a.result).normalized, (a.result).status,
                                       (a.result).reason, (a.result).level, (a.result).suggestion,
                                       (a.result).is_disposable, (a.result).is_role, (a.result).is_free,
                                       (a.result).is_catch_all, (a.result).mx_found, (a.result).mx_host,
                                       (a.result).smtp_code, (a.result).smtp_message, (a.result).score,
                                       (a.result).checked_at, i.ordinal, i.job_id) r
                            WHERE i.job_id = j.id))
                   ELSE '{}' END
    FROM email_verify_internal.jobs j
    LEFT JOIN email_verify_internal.job_counts c ON c.job_id = j.id
    WHERE j.id = job
    GROUP BY j.id
$$;

-- Creates an event of a job: NOTIFY email_verify at commit, and an outbox row
-- when the job has a webhook that takes this event type. A progress event
-- not attempted yet is replaced by the newer one (coalesced); the completion
-- replaces it too, so bulk.completed never goes out before the last progress
-- event that does.
CREATE FUNCTION email_verify_internal.emit_event(job bigint, event_type text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id uuid := gen_random_uuid();
    body jsonb := email_verify_internal.event_body(job, event_type, id);
    j email_verify_internal.jobs;
    payload text := body::text;
BEGIN
    SELECT * INTO j FROM email_verify_internal.jobs WHERE jobs.id = job;
    -- NOTIFY's payload must stay under 8000 bytes: a larger event goes out
    -- trimmed to its identity, with where to read the rest.
    IF octet_length(payload) >= 7900 THEN
        payload := jsonb_build_object('event_id', id, 'event_type', event_type, 'job_id', job,
                                      'created_at', body -> 'created_at', 'state', body -> 'state',
                                      'summary', body -> 'summary', 'trimmed', true,
                                      'read', format('SELECT * FROM email_verify.job_status(%s)', job))::text;
    END IF;
    PERFORM pg_notify('email_verify', payload);
    DELETE FROM email_verify_internal.webhook_events e
    WHERE e.job_id = job AND e.event_type = 'bulk.progress' AND e.state = 'pending' AND e.attempts = 0;
    IF j.webhook_url IS NOT NULL
       AND (j.endpoint_id IS NULL
            OR event_type = ANY ((SELECT w.events FROM email_verify_internal.webhook_endpoints w
                                  WHERE w.id = j.endpoint_id)::text[])) THEN
        INSERT INTO email_verify_internal.webhook_events (event_id, job_id, event_type, body, url)
        VALUES (id, job, event_type, body, j.webhook_url);
    END IF;
END
$$;

-- Endpoints ---------------------------------------------------------------------------

CREATE FUNCTION email_verify.register_webhook_endpoint(name text, url text, secret text,
        events text[] DEFAULT '{bulk.progress,bulk.completed,bulk.failed}')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR url IS NULL OR secret IS NULL OR secret = '' THEN
        RAISE EXCEPTION 'name, url and secret are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF events IS NULL OR cardinality(events) = 0
       OR NOT events <@ '{bulk.progress,bulk.completed,bulk.failed}'::text[] THEN
        RAISE EXCEPTION 'events must be some of bulk.progress, bulk.completed, bulk.failed'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM email_verify_internal.check_webhook_url(url);
    INSERT INTO email_verify_internal.webhook_endpoints (owner, name, url, secret, events)
    VALUES ((SELECT oid FROM pg_roles WHERE rolname = email_verify_internal.calling_role()),
            register_webhook_endpoint.name, register_webhook_endpoint.url, register_webhook_endpoint.secret,
            register_webhook_endpoint.events);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'webhook endpoint "%" already exists', register_webhook_endpoint.name
        USING ERRCODE = 'duplicate_object', HINT = 'Rotate its secret with email_verify.rotate_webhook_secret.';
END
$$;

-- The new secret signs from now on; the old one signs too (a second v1=)
-- until overlap has passed, so receivers can switch at their own pace.
CREATE FUNCTION email_verify.rotate_webhook_secret(name text, new_secret text,
                                                   overlap interval DEFAULT '24 hours')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF new_secret IS NULL OR new_secret = '' THEN
        RAISE EXCEPTION 'new_secret is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE email_verify_internal.webhook_endpoints e
    SET previous_secret = e.secret, previous_until = now() + coalesce(overlap, '0'), secret = new_secret
    WHERE e.name = rotate_webhook_secret.name
      AND e.owner = (SELECT oid FROM pg_roles WHERE rolname = email_verify_internal.calling_role());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist', rotate_webhook_secret.name
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE FUNCTION email_verify.unregister_webhook_endpoint(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_job bigint;
BEGIN
    -- Its secret signs the events of its jobs: not while one may still send.
    SELECT j.id INTO user_job
    FROM email_verify_internal.jobs j JOIN email_verify_internal.webhook_endpoints e ON e.id = j.endpoint_id
    WHERE e.name = unregister_webhook_endpoint.name
      AND e.owner = (SELECT oid FROM pg_roles WHERE rolname = email_verify_internal.calling_role())
      AND (j.state IN ('queued', 'running')
           OR EXISTS (SELECT FROM email_verify_internal.webhook_events w
                      WHERE w.job_id = j.id AND w.state IN ('pending', 'sending')))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" is in use by job %', unregister_webhook_endpoint.name, user_job
            USING ERRCODE = 'object_in_use',
                  HINT = 'Wait until its jobs are finished and their events delivered, or cancel them.';
    END IF;
    DELETE FROM email_verify_internal.webhook_endpoints e
    WHERE e.name = unregister_webhook_endpoint.name
      AND e.owner = (SELECT oid FROM pg_roles WHERE rolname = email_verify_internal.calling_role());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist', unregister_webhook_endpoint.name
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- A URL disabled by 410 Gone takes events again (its dead letters can be replayed).
CREATE FUNCTION email_verify.enable_webhook_endpoint(url text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE email_verify_internal.webhook_endpoints e SET disabled_at = NULL, disabled_reason = NULL
    WHERE e.url = enable_webhook_endpoint.url
      AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), e.owner);
    DELETE FROM email_verify_internal.webhook_endpoints e
    WHERE e.url = enable_webhook_endpoint.url AND e.name IS NULL;
$$;

-- The endpoints the current role may see; never their secrets.
CREATE VIEW email_verify.webhook_endpoints WITH (security_barrier) AS
SELECT e.name, e.url, e.events, r.rolname AS owner, e.created_at,
       e.previous_until > now() AS rotating, e.disabled_at, e.disabled_reason
FROM email_verify_internal.webhook_endpoints e
LEFT JOIN pg_roles r ON r.oid = e.owner
WHERE email_verify_internal.may_see_job(current_user, e.owner);

-- Dead letters ---------------------------------------------------------------------------

CREATE VIEW email_verify.webhook_dead_letters WITH (security_barrier) AS
SELECT e.event_id, e.job_id, e.event_type, e.url, e.attempts, e.last_status, e.last_cause, e.last_error,
       e.created_at, e.next_attempt_at AS last_attempt_at, e.body
FROM email_verify_internal.webhook_events e
JOIN email_verify_internal.jobs j ON j.id = e.job_id
WHERE e.state = 'dead' AND email_verify_internal.may_see_job(current_user, j.owner);

-- Sends dead letters again (same event id, attempts counted from zero):
-- one event, or every dead event of a job. Returns how many.
CREATE FUNCTION email_verify.replay_webhook(event_id uuid)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH replayed AS (
        UPDATE email_verify_internal.webhook_events e
        SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL
        FROM email_verify_internal.jobs j
        WHERE e.event_id = replay_webhook.event_id AND e.state = 'dead' AND j.id = e.job_id
          AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner)
        RETURNING e.id
    )
    SELECT count(*) FROM replayed, LATERAL email_verify_internal.wake_workers_at_commit();
$$;

CREATE FUNCTION email_verify.replay_job_webhooks(job_id bigint)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH replayed AS (
        UPDATE email_verify_internal.webhook_events e
        SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL
        WHERE e.job_id = (email_verify_internal.visible_job(replay_job_webhooks.job_id)).id AND e.state = 'dead'
        RETURNING e.id
    )
    SELECT count(*) FROM replayed, LATERAL email_verify_internal.wake_workers_at_commit();
$$;

-- Delivery statistics per target URL: attempts, outcomes by cause, latency
-- percentiles, events delivered, waiting and dead.
CREATE VIEW email_verify.webhook_delivery_stats WITH (security_barrier) AS
WITH visible AS (
    SELECT e.* FROM email_verify_internal.webhook_events e
    JOIN email_verify_internal.jobs j ON j.id = e.job_id
    WHERE email_verify_internal.may_see_job(current_user, j.owner)
), attempts AS (
    SELECT a.url, count(*) AS attempts,
           count(*) FILTER (WHERE a.cause = 'delivered') AS successes,
           count(*) FILTER (WHERE a.cause <> 'delivered') AS failures,
           coalesce(jsonb_object_agg(a.cause, a.n) FILTER (WHERE a.cause <> 'delivered'), '{}') AS failures_by_cause,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p95_ms,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p99_ms
    FROM (SELECT t.url, t.cause, t.latency_ms, count(*) OVER (PARTITION BY t.url, t.cause) AS n
          FROM email_verify_internal.webhook_attempts t
          WHERE t.event_row IN (SELECT v.id FROM visible v)) a
    GROUP BY a.url
)
SELECT u.url, coalesce(a.attempts, 0) AS attempts, coalesce(a.successes, 0) AS successes,
       coalesce(a.failures, 0) AS failures, coalesce(a.failures_by_cause, '{}') AS failures_by_cause,
       a.latency_p50_ms, a.latency_p95_ms, a.latency_p99_ms,
       u.delivered, u.waiting, u.dead,
       (SELECT max(w.disabled_at) FROM email_verify_internal.webhook_endpoints w WHERE w.url = u.url) AS disabled_at
FROM (SELECT v.url, count(*) FILTER (WHERE v.state = 'delivered') AS delivered,
             count(*) FILTER (WHERE v.state IN ('pending', 'sending')) AS waiting,
             count(*) FILTER (WHERE v.state = 'dead') AS dead
      FROM visible v GROUP BY v.url) u
LEFT JOIN attempts a ON a.url = u.url;

-- Retention ----------------------------------------------------------------------------

-- Removes the jobs finished longer than email_verify.job_retention ago, with
-- their results and events, but not while an event of theirs still waits to
-- be delivered; at most max_jobs a call (the worker calls it between batches).
CREATE FUNCTION email_verify_internal.remove_expired_jobs(max_jobs int)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH expired AS (
        SELECT j.id FROM email_verify_internal.jobs j
        WHERE j.finished_at < now() - coalesce(current_setting('email_verify.job_retention', true), '7 days')::interval
          AND NOT EXISTS (SELECT FROM email_verify_internal.webhook_events e
                          WHERE e.job_id = j.id AND e.state IN ('pending', 'sending'))
        ORDER BY j.finished_at LIMIT max_jobs
        FOR UPDATE SKIP LOCKED
    ), attempts AS (
        DELETE FROM email_verify_internal.webhook_attempts t
        USING email_verify_internal.webhook_events e
        WHERE t.event_row = e.id AND e.job_id IN (SELECT id FROM expired)
    ), events AS (
        DELETE FROM email_verify_internal.webhook_events e WHERE e.job_id IN (SELECT id FROM expired)
    ), inputs AS (
        DELETE FROM email_verify_internal.job_inputs i WHERE i.job_id IN (SELECT id FROM expired)
    ), addresses AS (
        DELETE FROM email_verify_internal.job_addresses a WHERE a.job_id IN (SELECT id FROM expired)
    ), claims AS (
        DELETE FROM email_verify_internal.job_claims c WHERE c.job_id IN (SELECT id FROM expired)
    ), retries AS (
        DELETE FROM email_verify_internal.job_retries r WHERE r.job_id IN (SELECT id FROM expired)
    ), counts AS (
        DELETE FROM email_verify_internal.job_counts c WHERE c.job_id IN (SELECT id FROM expired)
    ), jobs AS (
        DELETE FROM email_verify_internal.jobs j WHERE j.id IN (SELECT id FROM expired) RETURNING j.id
    )
    SELECT count(*)::int FROM jobs;
$$;

-- Privileges -----------------------------------------------------------------------------

REVOKE ALL ON email_verify_internal.jobs, email_verify_internal.job_inputs, email_verify_internal.job_addresses,
    email_verify_internal.job_claims, email_verify_internal.job_retries,
    email_verify_internal.job_counts, email_verify_internal.webhook_endpoints,
    email_verify_internal.webhook_events, email_verify_internal.webhook_attempts,
    email_verify_internal.visible_job_results
FROM PUBLIC;
GRANT SELECT ON email_verify_internal.visible_job_results, email_verify.jobs, email_verify.webhook_endpoints,
    email_verify.webhook_dead_letters, email_verify.webhook_delivery_stats TO PUBLIC;
REVOKE EXECUTE ON FUNCTION
    email_verify_internal.job_being_built(bigint),
    email_verify_internal.event_body(bigint, text, uuid),
    email_verify_internal.emit_event(bigint, text),
    email_verify_internal.remove_expired_jobs(int)
FROM PUBLIC;

-- The workers claim job addresses, write their verdicts and counts, end jobs,
-- and deliver the outbox (src/pg/job_items.cpp, src/pg/webhook_outbox.cpp).
GRANT SELECT, UPDATE ON email_verify_internal.jobs, email_verify_internal.webhook_endpoints TO email_verify_worker;
GRANT SELECT, UPDATE ON email_verify_internal.job_addresses TO email_verify_worker;
GRANT SELECT ON email_verify_internal.job_inputs TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.job_claims, email_verify_internal.job_retries
    TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify_internal.job_claims_id_seq TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE ON email_verify_internal.job_counts TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.webhook_events TO email_verify_worker;
GRANT INSERT ON email_verify_internal.webhook_endpoints TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify_internal.webhook_events_id_seq, email_verify_internal.webhook_endpoints_id_seq
    TO email_verify_worker;
GRANT SELECT, INSERT ON email_verify_internal.webhook_attempts TO email_verify_worker;
GRANT EXECUTE ON FUNCTION
    email_verify_internal.event_body(bigint, text, uuid),
    email_verify_internal.emit_event(bigint, text),
    email_verify_internal.may_probe(name)
TO email_verify_worker;
-- Retention deletes every table's rows of an expired job.
GRANT DELETE ON email_verify_internal.jobs, email_verify_internal.job_inputs, email_verify_internal.job_addresses,
    email_verify_internal.job_counts, email_verify_internal.webhook_attempts TO email_verify_worker;
GRANT EXECUTE ON FUNCTION email_verify_internal.remove_expired_jobs(int) TO email_verify_worker;
