-- email_verify 0.3.0: in-place verification. watch() puts verdict columns on a table
-- and triggers on it; the triggers queue addresses (async) or check them before the
-- row is written (sync); the background worker drains the queue through
-- claim_batch / apply_verdicts / retry_later and re-checks stale rows through
-- enqueue_stale.
\echo Use "ALTER EXTENSION email_verify UPDATE" to load this file. \quit

-- Security model ---------------------------------------------------------------
-- watches, queue and worker_counters are internal: nobody but their owner (the
-- superuser who created the extension) reads or writes them directly.
--   * watch()/unwatch() are SECURITY DEFINER and check the *calling* role: it must
--     have the privileges of the table's owner, and for levels dns/smtp be a
--     superuser or have the privileges of email_verify_prober (as verify_email
--     does). Inside a SECURITY DEFINER function current_user is the definer, so the
--     caller is taken from the role setting (SET ROLE) or, without one, the session
--     user: neither can be changed without holding that role.
--   * The trigger functions are SECURITY DEFINER too: whoever writes a row queues
--     it, and a sync check may probe DNS even when the writer could not; the
--     authority to probe is the one checked when watch() was called. They take
--     their options from the watches row of the table they fire on, and only
--     watch() can attach them (EXECUTE is revoked from PUBLIC). Running with the
--     definer's privileges, they read only the watched column and the key columns
--     of a row, whose types check_supported() vets, so no code of the table's
--     owner (a cast to json, a domain check) runs with those privileges.
--   * The worker's functions are not executable by PUBLIC; apply_verdicts writes
--     to a table as its owner, so the owner's triggers run as the owner.
-- Every function pins search_path, and dynamic SQL quotes every name (format %I)
-- and compares keys with the primary key index's own operators.

-- Tables -------------------------------------------------------------------------

-- One row per watched column. Kept by pg_dump (the relid is dumped as a name).
CREATE TABLE email_verify.watches (
    id             serial PRIMARY KEY,
    relid          regclass NOT NULL,
    column_name    name NOT NULL,
    level          text NOT NULL CHECK (level IN ('syntax', 'dns', 'smtp')),
    mode           text NOT NULL CHECK (mode IN ('async', 'sync')),
    reject_invalid boolean NOT NULL,
    recheck_after  interval NOT NULL CHECK (recheck_after > interval '0'),
    key_columns    name[] NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (relid, column_name)
);
COMMENT ON TABLE email_verify.watches IS
    'watched columns (email_verify.watch): level, mode and the primary key the verdicts are written back by';

-- Addresses waiting for the worker: pending, claimed by a worker until
-- lease_until, or failed (its verdict could not be written back). An item is
-- deleted once its verdict is applied (counted in worker_counters), so the queue
-- holds only open work; 'done' is never used.
-- row_key is the row's primary key as {"column": value, ...} (to_jsonb of each
-- value; jsonb_to_record with the key's types reads it back).
CREATE TABLE email_verify.queue (
    id          bigserial PRIMARY KEY,
    watch_id    int NOT NULL REFERENCES email_verify.watches ON DELETE CASCADE,
    row_key     jsonb NOT NULL,
    email       text NOT NULL,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    claimed_by  int,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    last_status text,
    last_reason text
);
COMMENT ON TABLE email_verify.queue IS
    'addresses waiting for the background worker; items are deleted when their verdict is applied';

-- claim_batch takes the oldest ready pending items ...
CREATE INDEX queue_pending_idx ON email_verify.queue (not_before, id) WHERE state = 'pending';
-- ... and items whose lease ran out (a worker that died mid-batch).
CREATE INDEX queue_claimed_idx ON email_verify.queue (state, lease_until) WHERE state = 'claimed';
-- What the "already queued?" checks probe, over every state: a row being probed
-- (claimed) or parked (failed) is not queued a second time. Deliberately not
-- unique: a unique index would make one enqueue wait for another's transaction
-- in progress, and the same row may be queued twice by a race (the second
-- probe is wasted, never wrong: apply_verdicts checks the address).
CREATE INDEX queue_row_idx ON email_verify.queue (watch_id, row_key);

-- Verdicts applied since the extension was installed, by status and reason
-- (counting over the watched tables would mean scanning them).
CREATE TABLE email_verify.worker_counters (
    status text NOT NULL,
    reason text NOT NULL,
    n      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (status, reason)
);
COMMENT ON TABLE email_verify.worker_counters IS
    'verdicts received by apply_verdicts, by status and reason ('''' when the verdict had none)';

-- The watch configuration and the open work survive pg_dump/restore (the
-- watched tables' triggers and verdict columns are dumped with the tables).
SELECT pg_catalog.pg_extension_config_dump('email_verify.watches', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.watches_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.queue', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.queue_id_seq', '');

-- Internal helpers ---------------------------------------------------------------

-- Provided by the module: at COMMIT of a transaction that called it, wakes the
-- background workers once (a rollback wakes nobody).
CREATE FUNCTION email_verify.wake_workers_at_commit()
RETURNS void
AS 'MODULE_PATHNAME', 'wake_workers_at_commit'
LANGUAGE C VOLATILE;

-- The role that called the SECURITY DEFINER function this runs in (see above).
CREATE FUNCTION email_verify.calling_role()
RETURNS name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE current_setting('role') WHEN 'none' THEN session_user
                ELSE current_setting('role')::name END
$$;

-- Levels dns and smtp send traffic on the server's behalf: the same rule as
-- verify_email's.
CREATE FUNCTION email_verify.may_probe(role name)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role AND r.rolsuper)
        OR (EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'email_verify_prober')
            AND pg_has_role(role, 'email_verify_prober', 'USAGE'))
$$;

-- SQL fragments that address a table's rows by primary key, read from the catalog:
--   pk_columns      the key's column names, in index order
--   qualified_name  "schema"."table"
--   key_match       <a>."col" OPERATOR(ns.=) <b>."col" AND ...: the primary key index's
--                   own equality operators, so the index serves it whatever the types
--   key_record      "col" type, ...: the column definition list for jsonb_to_record
-- key_match and key_record are NULL when key_columns is given and is no longer
-- the primary key.
CREATE FUNCTION email_verify.key_sql(tbl regclass, key_columns name[], a text, b text,
        OUT pk_columns name[], OUT qualified_name text, OUT key_match text, OUT key_record text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT format('%I.%I', n.nspname, c.relname) INTO qualified_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl;

    SELECT array_agg(att.attname ORDER BY u.ord),
           string_agg(format('%s.%I OPERATOR(%I.%s) %s.%I', a, att.attname, opn.nspname, op.oprname, b, att.attname),
                      ' AND ' ORDER BY u.ord),
           string_agg(format('%I %s', att.attname, format_type(att.atttypid, att.atttypmod)), ', ' ORDER BY u.ord)
    INTO pk_columns, key_match, key_record
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey::int2[], i.indclass::oid[]) WITH ORDINALITY AS u(attnum, opclass, ord)
    JOIN pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = u.attnum
    JOIN pg_opclass opc ON opc.oid = u.opclass
    JOIN pg_amop amop ON amop.amopfamily = opc.opcfamily AND amop.amopmethod = opc.opcmethod
                     AND amop.amoplefttype = opc.opcintype AND amop.amoprighttype = opc.opcintype
                     AND amop.amopstrategy = 3   -- btree equality
    JOIN pg_operator op ON op.oid = amop.amopopr
    JOIN pg_namespace opn ON opn.oid = op.oprnamespace
    WHERE i.indrelid = tbl AND i.indisprimary AND u.ord <= i.indnkeyatts;

    IF key_columns IS NOT NULL AND pk_columns IS DISTINCT FROM key_columns THEN
        key_match := NULL;
        key_record := NULL;
    END IF;
END
$$;

-- The row_key of alias `alias`: jsonb_build_object('col', alias."col", ...), from the
-- key columns recorded at watch time. Keys are compared as jsonb, so every
-- function that builds them pins the settings their text depends on (TimeZone,
-- IntervalStyle, extra_float_digits): a timestamptz key built in two sessions
-- must come out the same.
CREATE FUNCTION email_verify.key_json(key_columns name[], alias text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'jsonb_build_object(' || string_agg(format('%L, %s.%I', c, alias, c), ', ' ORDER BY i) || ')'
    FROM unnest(key_columns) WITH ORDINALITY AS k(c, i)
$$;

-- The watches row of a column of the table a trigger fired on; a row trigger
-- cloned onto a partition finds the watch of its partitioned ancestor.
CREATE FUNCTION email_verify.watch_of(rel oid, col name)
RETURNS email_verify.watches
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w email_verify.watches;
BEGIN
    SELECT * INTO w FROM email_verify.watches WHERE relid = rel AND column_name = col;
    IF NOT FOUND THEN
        SELECT * INTO w FROM email_verify.watches
        WHERE column_name = col AND relid IN (SELECT pg_partition_ancestors(rel))
        LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'column % of table % is not watched by email_verify',
                quote_ident(col), rel::regclass
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
    END IF;
    RETURN w;
END
$$;

-- The SELECT of the rows of `source` (a table or a subquery, aliased n) that
-- `condition` selects, in `order_by` order and at most `max_rows` of them (NULL:
-- all), as queue items (watch_id $1, row_key, email). A row that already has an
-- item for the same address, in any state, is left out; `fresh` (nothing of
-- this watch is queued yet) skips that check.
CREATE FUNCTION email_verify.queueable_sql(w email_verify.watches, source text, condition text,
                                           fresh boolean DEFAULT false, order_by text DEFAULT NULL,
                                           max_rows int DEFAULT NULL)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format(
        'SELECT $1 AS watch_id, k.row_key, k.email
         FROM %s n CROSS JOIN LATERAL (SELECT %s AS row_key, n.%I::text AS email) k
         WHERE n.%I IS NOT NULL AND (%s)%s%s%s',
        source, email_verify.key_json(w.key_columns, 'n'), w.column_name, w.column_name, condition,
        CASE WHEN NOT fresh THEN
            ' AND NOT EXISTS (SELECT FROM email_verify.queue q
                              WHERE q.watch_id = $1 AND q.row_key = k.row_key AND q.email = k.email)' ELSE '' END,
        ' ORDER BY ' || order_by,
        ' LIMIT ' || CASE WHEN max_rows IS NOT NULL THEN greatest(max_rows, 0) END)
$$;

-- The statement that queues those rows. A pending item of one of them for
-- another address (the row's address changed since) is deleted: its probe would
-- be wasted, its verdict skipped. One a worker is claiming is left to it (SKIP
-- LOCKED): requeue drops it if it comes back for a retry. Those items are looked
-- up row by row (LATERAL), by key: joined the other way round, a queue whose
-- statistics are stale is scanned whole for every row queued.
-- It returns the items as claim_items does (level $4). claim: they are
-- inserted already claimed, by worker $2 until now() + $3. The worker's sweep
-- writes each item once this way instead of inserting it pending and then
-- updating it to claimed, which halves what a drain writes to the queue.
CREATE FUNCTION email_verify.enqueue_sql(w email_verify.watches, source text, condition text,
                                         fresh boolean DEFAULT false, order_by text DEFAULT NULL,
                                         max_rows int DEFAULT NULL, claim boolean DEFAULT false)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'WITH new_items AS (' || email_verify.queueable_sql(w, source, condition, fresh, order_by, max_rows) || ')'
        || CASE WHEN NOT fresh THEN ',
         superseded AS (
             DELETE FROM email_verify.queue d
             WHERE d.id IN (SELECT o.id FROM new_items i CROSS JOIN LATERAL (
                                SELECT q.id FROM email_verify.queue q
                                WHERE q.watch_id = $1 AND q.row_key = i.row_key
                                  AND q.state = ''pending'' AND q.email <> i.email
                                FOR UPDATE SKIP LOCKED) o))' ELSE '' END
        || CASE WHEN claim THEN
               ' INSERT INTO email_verify.queue (watch_id, row_key, email, state, claimed_by, lease_until)
                 SELECT i.watch_id, i.row_key, i.email, ''claimed'', $2, now() + $3'
           ELSE
               ' INSERT INTO email_verify.queue (watch_id, row_key, email) SELECT i.watch_id, i.row_key, i.email'
           END
        || ' FROM new_items i RETURNING id, watch_id, row_key, email, $4::text, attempts'
$$;

-- Triggers -----------------------------------------------------------------------
-- The watched table is its own queue: a row is waiting for the worker when it
-- has an address but no verdict (<col>_verified_at IS NULL), inserted so or made
-- so by an UPDATE (a changed address clears the verdict first). The writer's
-- statement only wakes the workers at its COMMIT; the worker's claim
-- (claim_batch) sweeps waiting rows into email_verify.queue as items it claims,
-- so an INSERT or COPY costs the writer no queue row, no index entry and no lock.

-- AFTER INSERT and AFTER UPDATE OF the address, FOR EACH STATEMENT.
CREATE FUNCTION email_verify.watch_wake()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
BEGIN
    PERFORM email_verify.wake_workers_at_commit();
    RETURN NULL;
END
$$;

-- Async: BEFORE UPDATE of the address, FOR EACH ROW WHEN it changed: the old
-- verdict no longer describes the row.
CREATE FUNCTION email_verify.watch_clear_verdict()
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

-- Sync: BEFORE INSERT, and BEFORE UPDATE of the address WHEN it changed, FOR EACH
-- ROW: verify inline (at most level dns: a mailbox probe takes seconds) and write
-- the verdict into the row. With reject_invalid an invalid address fails the
-- statement. The row is left unverified (<col>_verified_at NULL, so the
-- worker takes it up) when the watch wants smtp and the address was not
-- found invalid, or when the inline verdict is unknown (the worker takes it up).
CREATE FUNCTION email_verify.watch_check()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    col name := TG_ARGV[0];
    w email_verify.watches := email_verify.watch_of(TG_RELID, col);
    address text;
    r email_verify.result;
    why text;
    msg text;
    msg_detail text;
    schema_name name;
BEGIN
    -- Only this column is read: to_jsonb(NEW) would be cheaper, but it would run
    -- the casts to json of every column's type, user-defined ones included, with
    -- this function's privileges.
    EXECUTE format('SELECT ($1).%I::text', col) INTO address USING NEW;
    IF address IS NOT NULL THEN
        r := email_verify.verify_email(address, CASE w.level WHEN 'smtp' THEN 'dns' ELSE w.level END);
    END IF;
    IF w.reject_invalid AND r.status = 'invalid' THEN
        why := r.reason;
        IF r.reason = 'syntax' THEN
            why := why || ': ' || email_verify.syntax_error(address,
                current_setting('email_verify.allow_quoted_local')::boolean,
                current_setting('email_verify.allow_domain_literal')::boolean);
        END IF;
        msg := format('email address "%s" is invalid (%s)',
                      CASE WHEN length(address) > 300 THEN left(address, 300) || '...' ELSE address END, why);
        msg_detail := format('Column %I of table %s is watched with reject_invalid.', col, w.relid);
        SELECT n.nspname INTO schema_name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = TG_RELID;
        IF r.suggestion IS NULL THEN
            RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = 'check_violation', DETAIL = msg_detail,
                SCHEMA = schema_name, TABLE = TG_TABLE_NAME, COLUMN = col;
        END IF;
        -- The suggestion goes in the message itself: clients show it even when
        -- they drop the HINT.
        RAISE EXCEPTION USING MESSAGE = format('%s; did you mean %s?', msg, r.suggestion),
            ERRCODE = 'check_violation', DETAIL = msg_detail, HINT = format('Did you mean %s?', r.suggestion),
            SCHEMA = schema_name, TABLE = TG_TABLE_NAME, COLUMN = col;
    END IF;
    RETURN jsonb_populate_record(NEW, jsonb_build_object(
        col || '_status', r.status, col || '_reason', r.reason, col || '_catch_all', r.is_catch_all,
        col || '_verified_at', CASE WHEN r.status = 'unknown' OR (w.level = 'smtp' AND r.status <> 'invalid')
                                    THEN NULL ELSE r.checked_at END));
END
$$;

-- Our triggers on a table for one column, found by function and argument (not
-- by name, so renamed triggers are still found).
CREATE FUNCTION email_verify.watch_triggers(tbl regclass, col name)
RETURNS SETOF name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.tgname FROM pg_trigger t
    WHERE t.tgrelid = tbl AND NOT t.tgisinternal AND t.tgnargs = 1
      AND t.tgfoid IN ('email_verify.watch_wake()'::regprocedure,
                       'email_verify.watch_clear_verdict()'::regprocedure,
                       'email_verify.watch_check()'::regprocedure)
      AND t.tgargs = convert_to(col, getdatabaseencoding()) || '\x00'::bytea
$$;

-- Watching ----------------------------------------------------------------------

-- What the privileged paths (the triggers, watch, enqueue_stale) may read
-- without running code of the table's owner: key columns whose types, past
-- domains and arrays, are built in or owned by a superuser (to_jsonb would call a
-- user's cast to json, e.g. of an enum), and no foreign partitions or children
-- (their foreign server would be reached with the extension owner's mapping).
CREATE FUNCTION email_verify.check_supported(tbl regclass, key_columns name[])
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
        LOOP
            SELECT * INTO t FROM pg_type WHERE oid = typ;
            EXIT WHEN NOT (t.typtype = 'd' OR (t.typcategory = 'A' AND t.typelem <> 0));
            typ := CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END;
        END LOOP;
        IF typ >= 16384 AND (t.typtype = 'c' OR NOT EXISTS (SELECT FROM pg_roles WHERE oid = t.typowner AND rolsuper)) THEN
            RAISE EXCEPTION 'primary key column % of table % has type %, which email_verify does not support as a key',
                quote_ident(key), tbl, typ::regtype
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

-- Stops a watch: its triggers, its queue items (ON DELETE CASCADE) and its row
-- go; the verdict columns and their index stay, they are the user's data now.
CREATE FUNCTION email_verify.end_watch(watch_id int)
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
        FOR trigger_name IN SELECT email_verify.watch_triggers(w.relid, w.column_name) LOOP
            EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, w.relid);
        END LOOP;
    END IF;
    DELETE FROM email_verify.watches WHERE id = watch_id;
END
$$;

-- The checks watch and unwatch share: an existing table the caller owns.
CREATE FUNCTION email_verify.check_owner(tbl regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    owner oid;
    is_partition boolean;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relkind, relowner, relispartition INTO kind, owner, is_partition FROM pg_class WHERE oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT pg_has_role(email_verify.calling_role(), owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF is_partition THEN
        RAISE EXCEPTION '% is a partition', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Watch the partitioned table.';
    END IF;
END
$$;

-- Why no background worker will drain this database's queue, or NULL when one
-- will: the module is not preloaded (its shared memory, read by worker_stats(),
-- is missing), no workers are configured, or they work in another database.
CREATE FUNCTION email_verify.why_no_worker()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (plpgsql: worker_stats is created further down this script)
    RETURN CASE
        WHEN (SELECT s.batches FROM email_verify.worker_stats() s) IS NULL THEN
            'email_verify is not in shared_preload_libraries, so no background worker runs.'
        WHEN current_setting('email_verify.workers')::int = 0 THEN
            'email_verify.workers is 0.'
        WHEN current_setting('email_verify.database') <> current_database() THEN
            format('The workers work in database %s (email_verify.database).',
                   quote_ident(current_setting('email_verify.database')))
    END;
END
$$;

CREATE FUNCTION email_verify.watch(tbl regclass, col name, level text DEFAULT 'smtp',
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
    caller name := email_verify.calling_role();
    k record;
    col_attnum int2;
    col_category "char";
    col_generated "char";
    verdict_columns CONSTANT text[][] := ARRAY[['_status', 'text'], ['_reason', 'text'],
                                               ['_catch_all', 'boolean'],
                                               ['_verified_at', 'timestamp with time zone']];
    existing_type text;
    old email_verify.watches;
    w email_verify.watches;
    trigger_prefix text;
    trigger_name name;
    qcol text := quote_ident(col);
BEGIN
    PERFORM email_verify.check_owner(tbl);
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
    IF watch.recheck_after <= interval '0' THEN
        RAISE EXCEPTION 'recheck_after must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF watch.level <> 'syntax' AND NOT email_verify.may_probe(caller) THEN
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

    k := email_verify.key_sql(tbl, NULL, 'o', 'n');
    IF k.pk_columns IS NULL THEN
        RAISE EXCEPTION 'table % has no primary key', tbl
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Verdicts for column %s are written back by primary key.', qcol);
    END IF;
    PERFORM email_verify.check_supported(tbl, k.pk_columns);

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
            recheck_after = watch.recheck_after, key_columns = k.pk_columns
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

    -- (Re)create the triggers for the mode asked for.
    FOR trigger_name IN SELECT email_verify.watch_triggers(tbl, col) LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, tbl);
    END LOOP;
    trigger_prefix := 'email_verify_' || col;
    IF octet_length(trigger_prefix || '_check_insert') > 63 THEN
        trigger_prefix := 'email_verify_' || col_attnum;
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION email_verify.watch_wake(%L)',
                   trigger_prefix || '_wake_insert', tbl, col);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %I ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION email_verify.watch_wake(%L)',
                   trigger_prefix || '_wake_update', col, tbl, col);
    IF w.mode = 'async' THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %s FOR EACH ROW
                        WHEN (OLD.%I::text IS DISTINCT FROM NEW.%I::text)
                        EXECUTE FUNCTION email_verify.watch_clear_verdict(%L)',
                       trigger_prefix || '_clear', col, tbl, col, col, col);
    ELSE
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
                        EXECUTE FUNCTION email_verify.watch_check(%L)',
                       trigger_prefix || '_check_insert', tbl, col);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %s FOR EACH ROW
                        WHEN (OLD.%I::text IS DISTINCT FROM NEW.%I::text)
                        EXECUTE FUNCTION email_verify.watch_check(%L)',
                       trigger_prefix || '_check_update', col, tbl, col, col, col);
    END IF;

    -- The rows already there. Those without a verdict are waiting as they are:
    -- the worker claims them straight from the table (see "Triggers" above), so
    -- they cost the queue one write each. Those with a verdict are queued for a
    -- new watch or a new level (their verdicts were not reached at this level),
    -- otherwise they wait until they are stale.
    IF old.id IS NULL OR old.level <> w.level OR old.key_columns IS DISTINCT FROM w.key_columns THEN
        EXECUTE email_verify.enqueue_sql(w, tbl::text, format('n.%I IS NOT NULL', col || '_verified_at'),
                                         fresh => old.id IS NULL)
            USING w.id, NULL::int, NULL::interval, w.level;
    END IF;
    PERFORM email_verify.wake_workers_at_commit();

    -- A new watch nobody will serve is almost always a mistake in the setup.
    IF old.id IS NULL AND email_verify.why_no_worker() IS NOT NULL THEN
        RAISE WARNING 'no email_verify worker serves database %: the rows will wait', quote_ident(current_database())
            USING DETAIL = email_verify.why_no_worker(),
                  HINT = 'See "The background workers" in the README of email_verify.';
    END IF;
END
$$;

COMMENT ON FUNCTION email_verify.watch(regclass, name, text, text, boolean, interval) IS
    'verifies a column in place: adds <col>_status, _reason, _catch_all, _verified_at, installs the triggers and queues the rows already there';

CREATE FUNCTION email_verify.unwatch(tbl regclass, col name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
BEGIN
    PERFORM email_verify.check_owner(tbl);
    IF NOT EXISTS (SELECT FROM email_verify.watches WHERE relid = tbl AND column_name = col) THEN
        RAISE EXCEPTION 'column % of table % is not watched', quote_ident(col), tbl
            USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM email_verify.end_watch(id) FROM email_verify.watches WHERE relid = tbl AND column_name = col;
END
$$;

COMMENT ON FUNCTION email_verify.unwatch(regclass, name) IS
    'stops verifying a column: drops its triggers and queue items, keeps the verdict columns';

-- Following DDL ---------------------------------------------------------------
-- Both event triggers turn their own failures into warnings: they must never
-- stand in the way of the user's DDL.

-- A dropped table, or a dropped watched, key or verdict column, ends its watch,
-- so the worker never meets a watch it cannot serve.
CREATE FUNCTION email_verify.forget_dropped_watches()
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
        PERFORM email_verify.end_watch(w.id);
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'email_verify: could not forget dropped watches: %', SQLERRM;
END
$$;

CREATE EVENT TRIGGER email_verify_forget_dropped_watches ON sql_drop
    EXECUTE FUNCTION email_verify.forget_dropped_watches();

-- After ALTER TABLE on a watched table: a new or renamed primary key re-keys the
-- watch (its queue items are dropped, the worker queues the rows again by the new
-- key); a table left without one, or a renamed watched column, is reported; a
-- key type or a foreign partition that check_supported refuses ends the watch.
CREATE FUNCTION email_verify.follow_altered_tables()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w email_verify.watches;
    k record;
BEGIN
    FOR w IN
        SELECT * FROM email_verify.watches
        WHERE relid IN (SELECT c.objid FROM pg_event_trigger_ddl_commands() c
                        WHERE c.classid = 'pg_class'::regclass)
        ORDER BY id
    LOOP
        IF NOT EXISTS (SELECT FROM pg_attribute
                       WHERE attrelid = w.relid AND attname = w.column_name AND attnum > 0 AND NOT attisdropped) THEN
            RAISE WARNING 'email_verify: watched column % of table % no longer exists', quote_ident(w.column_name), w.relid
                USING HINT = format('After renaming a watched column, call email_verify.unwatch(%L, %L) and watch() with the new name.',
                                    w.relid, w.column_name);
            CONTINUE;
        END IF;
        k := email_verify.key_sql(w.relid, NULL, 'o', 'n');
        IF k.pk_columns IS NOT NULL THEN
            BEGIN
                PERFORM email_verify.check_supported(w.relid, k.pk_columns);
            EXCEPTION WHEN feature_not_supported THEN
                PERFORM email_verify.end_watch(w.id);
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
        PERFORM email_verify.wake_workers_at_commit();
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'email_verify: could not follow ALTER TABLE: %', SQLERRM;
END
$$;

CREATE EVENT TRIGGER email_verify_follow_altered_tables ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION email_verify.follow_altered_tables();

-- The worker's side -------------------------------------------------------------

-- The worker's two ways of finding work, per watch, up to max_rows rows each:
-- stale => false, rows that have an address but no verdict and no queue item for
-- that address (rows inserted, or whose address changed, since the last call);
-- stale => true, rows whose verdict is older than the watch's recheck_after,
-- oldest first. Both walk the <col>_verified_at index (rows without an address
-- are not in it), from its NULL end or from its oldest verdict, so they read
-- about as many rows as the queue holds of the watch's unverified ones plus what
-- they queue; scans that would read the whole table (a sequential or bitmap
-- scan, a hash over the queue) are turned off, and so is materializing the
-- watch's queue items for the "already queued?" test, which a queue whose
-- statistics say it is empty invites, and which costs rows x items when it is
-- not. One worker at a time walks a watch (a transaction advisory lock; the
-- others skip it), so two never queue the same rows. Returns the items queued;
-- claim_for: claimed by that worker until now() + lease, at most max_rows in all.
CREATE FUNCTION email_verify.enqueue_each_watch(max_rows int, stale boolean,
                                                claim_for int DEFAULT NULL, lease interval DEFAULT NULL)
RETURNS TABLE(queue_id bigint, watch_id int, row_key jsonb, email text, level text, attempts int)
LANGUAGE plpgsql VOLATILE
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
    verified_at text;
    queued bigint;
    total bigint := 0;
    claiming CONSTANT boolean := claim_for IS NOT NULL;
    wanted int;
    unverified text;
    passes text[];
    pass text;
    taken bigint;
BEGIN
    -- Claiming, max_rows bounds the whole batch; the watches are taken in a
    -- random order so that one large watch does not keep the others waiting.
    FOR w IN SELECT * FROM email_verify.watches ORDER BY CASE WHEN claiming THEN random() END, id LOOP
        EXIT WHEN claiming AND total >= max_rows;
        CONTINUE WHEN (email_verify.key_sql(w.relid, w.key_columns, 'o', 'n')).key_match IS NULL;
        CONTINUE WHEN NOT pg_try_advisory_xact_lock('email_verify.watches'::regclass::oid::int, w.id);
        verified_at := quote_ident(w.column_name || '_verified_at');
        wanted := CASE WHEN claiming THEN max_rows - total ELSE max_rows END;
        -- Stale rows: oldest verdict first. Rows without a verdict: oldest
        -- first (the index holds them in heap order), but among the first
        -- 2 x wanted only: rows that already have an item (retries waiting out
        -- their backoff, other workers' claims) can fill the front of the index,
        -- and walking them costs a probe of the queue each, on every claim.
        -- When they do, the rest is taken newest first, from the back.
        unverified := format('%s IS NULL AND %I IS NOT NULL', verified_at, w.column_name);
        passes := CASE WHEN stale THEN ARRAY[w.relid::text]
                  ELSE ARRAY[format('(SELECT * FROM %s WHERE %s LIMIT %s)', w.relid, unverified, 2 * greatest(wanted, 0)),
                             format('(SELECT * FROM %s WHERE %s ORDER BY %s DESC)', w.relid, unverified, verified_at)]
                  END;
        taken := 0;
        FOREACH pass IN ARRAY passes LOOP
            RETURN QUERY EXECUTE email_verify.enqueue_sql(w, pass,
                CASE WHEN stale THEN format('n.%s < now() - %L::interval', verified_at, w.recheck_after) ELSE 'true' END,
                order_by => CASE WHEN stale THEN 'n.' || verified_at END,
                max_rows => (wanted - taken)::int, claim => claiming)
                USING w.id, claim_for, lease, w.level;
            GET DIAGNOSTICS queued = ROW_COUNT;
            taken := taken + queued;
            EXIT WHEN taken >= wanted;
        END LOOP;
        total := total + taken;
    END LOOP;
    -- The other workers may have found the queue empty meanwhile. A claiming
    -- sweep keeps what it found; a full one means there may be more.
    IF total > 0 AND (NOT claiming OR total >= max_rows) THEN
        PERFORM email_verify.wake_workers_at_commit();
    END IF;
END
$$;

-- Rows inserted, or whose address changed, since the last call (see above).
CREATE FUNCTION email_verify.enqueue_unverified(max_rows int)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
    SELECT count(*)::int FROM email_verify.enqueue_each_watch(max_rows, stale => false)
$$;

COMMENT ON FUNCTION email_verify.enqueue_unverified(int) IS
    'worker: queues, per watch, up to max_rows rows that have an address but no verdict and no queue item; returns the number queued';

-- How many times an item may be claimed: the retries of transient verdicts
-- (email_verify.retry_attempts) and two more for claims that came to nothing (a
-- worker died with the item, or its write-back failed as a whole). An item past
-- it is given up, state 'failed', instead of going round for ever.
CREATE FUNCTION email_verify.claim_limit()
RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(current_setting('email_verify.retry_attempts', true)::int, 5) + 2
$$;

-- Claims up to batch_size items for worker_id until now() + lease: first items
-- whose lease ran out (their worker died; counted as an attempt, so an address
-- that kills workers is not retried forever), then ready pending items, oldest
-- first. SKIP LOCKED lets workers claim side by side.
CREATE FUNCTION email_verify.claim_items(worker_id int, batch_size int, lease interval)
RETURNS TABLE(queue_id bigint, watch_id int, row_key jsonb, email text, level text, attempts int)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
    WITH expired AS (
        SELECT q.id FROM email_verify.queue q
        WHERE q.state = 'claimed' AND q.lease_until < now()
        ORDER BY q.lease_until, q.id
        LIMIT greatest(batch_size, 0)
        FOR UPDATE SKIP LOCKED
    ), ready AS (
        SELECT q.id FROM email_verify.queue q
        WHERE q.state = 'pending' AND q.not_before <= now()
        ORDER BY q.not_before, q.id
        LIMIT greatest(batch_size - (SELECT count(*) FROM expired), 0)
        FOR UPDATE SKIP LOCKED
    )
    UPDATE email_verify.queue q
    SET state = 'claimed', lease_until = now() + lease, claimed_by = worker_id,
        attempts = q.attempts + CASE WHEN q.state = 'claimed' THEN 1 ELSE 0 END
    FROM email_verify.watches w
    WHERE w.id = q.watch_id AND q.id IN (SELECT id FROM expired UNION ALL SELECT id FROM ready)
    RETURNING q.id, q.watch_id, q.row_key, q.email, w.level, q.attempts
$$;

-- The worker's claim: what the queue holds ready, topped up, when that falls
-- short of batch_size, with rows new to the queue, inserted already claimed
-- (enqueue_each_watch). The table is swept only then, so rows inserted behind a
-- long queue wait their turn instead of being walked over on every claim.
CREATE FUNCTION email_verify.claim_batch(worker_id int, batch_size int, lease interval DEFAULT '5 minutes')
RETURNS TABLE(queue_id bigint, watch_id int, row_key jsonb, email text, level text, attempts int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    claimed bigint;
BEGIN
    -- Expired claims that used up their attempts: requeue gives them up.
    PERFORM email_verify.requeue(array(
        SELECT e.id FROM email_verify.queue e
        WHERE e.state = 'claimed' AND e.lease_until < now() AND e.attempts + 1 >= email_verify.claim_limit()
        FOR UPDATE SKIP LOCKED), NULL, NULL);
    RETURN QUERY SELECT * FROM email_verify.claim_items(worker_id, batch_size, lease);
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed < batch_size THEN
        RETURN QUERY SELECT * FROM email_verify.enqueue_each_watch((batch_size - claimed)::int, stale => false,
                                                                   claim_for => worker_id, lease => lease);
    END IF;
END
$$;

-- Claimed items back to pending: after `delays` (NULL: at once), one attempt more,
-- with last_reason set when `reasons` gives one. An item whose row was queued
-- anew meanwhile (its address changed) is dropped instead: the newer pending
-- item stands for it. One that has used up claim_limit() attempts is given up.
CREATE FUNCTION email_verify.requeue(queue_ids bigint[], reasons text[], delays interval[])
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    DELETE FROM email_verify.queue q
    WHERE q.id = ANY (queue_ids) AND q.state = 'claimed'
      AND EXISTS (SELECT FROM email_verify.queue p
                  WHERE p.watch_id = q.watch_id AND p.row_key = q.row_key AND p.state = 'pending');
    UPDATE email_verify.queue q
    SET state = 'pending', not_before = now() + coalesce(r.delay, interval '0'), attempts = q.attempts + 1,
        lease_until = NULL, claimed_by = NULL,
        last_status = CASE WHEN r.reason IS NULL THEN q.last_status ELSE 'unknown' END,
        last_reason = coalesce(r.reason, q.last_reason)
    FROM unnest(queue_ids, reasons, delays) AS r(id, reason, delay)
    WHERE q.id = r.id AND q.state = 'claimed';
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE email_verify.queue q
    SET state = 'failed', not_before = now(),
        last_reason = format('given up: claimed %s times, no verdict written (a worker died with it, or its write-back failed)',
                             q.attempts)
    WHERE q.id = ANY (queue_ids) AND q.state = 'pending' AND q.attempts >= email_verify.claim_limit();
    RETURN n;
END
$$;

-- Puts claimed items back for a later attempt (greylisting, temporary failures,
-- timeouts): pending again after its delay, one attempt more, last_status
-- 'unknown' and last_reason the reason given. Returns the number put back.
CREATE FUNCTION email_verify.retry_later(queue_ids bigint[], reasons text[], delays interval[])
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
BEGIN
    IF cardinality(queue_ids) IS DISTINCT FROM cardinality(reasons)
       OR cardinality(queue_ids) IS DISTINCT FROM cardinality(delays) THEN
        RAISE EXCEPTION 'queue_ids, reasons and delays must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN email_verify.requeue(queue_ids, reasons, delays);
END
$$;

COMMENT ON FUNCTION email_verify.retry_later(bigint[], text[], interval[]) IS
    'worker: returns claimed items to the queue after a delay, one attempt more';

-- A worker starting again frees what it had claimed before it stopped, instead
-- of waiting for the leases to run out. Returns the number freed.
CREATE FUNCTION email_verify.release_claims(worker_id int)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
    SELECT email_verify.requeue(coalesce(array_agg(q.id), '{}'), NULL, NULL)
    FROM email_verify.queue q
    WHERE q.state = 'claimed' AND q.claimed_by = worker_id
$$;

COMMENT ON FUNCTION email_verify.release_claims(int) IS
    'worker: frees the items a worker had claimed (on its start after a crash or restart)';

-- Writes a batch of verdicts back to the watched rows: one UPDATE per watch,
-- matching each row by its primary key and by the address the verdict is for,
-- so a row deleted meanwhile or whose address changed is skipped, never given
-- another address's verdict. Deletes the batch's queue items, counts the verdicts
-- in worker_counters and returns the number of rows written.
-- verdicts: [{"queue_id", "watch_id", "row_key", "email", "status", "reason",
--             "catch_all", "checked_at"}, ...]
-- Each UPDATE runs as the table's owner, as VACUUM and REINDEX do: the owner's
-- own triggers on the table fire, and must not run with the worker's privileges.
-- They see the server's default search_path (the UPDATE itself names everything
-- it uses in full).
-- A watch whose UPDATE fails (e.g. the owner's trigger raises) does not fail the
-- batch: its verdicts are written one by one, and an item that still fails is
-- kept in state 'failed' with the error as last_reason (watch() called again
-- retries it). No row lock is waited for longer than lock_timeout: an item whose
-- row a writer holds goes back to the queue for retry_delay.
CREATE FUNCTION email_verify.apply_verdicts(verdicts jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    w email_verify.watches;
    k record;
    owner name;
    caller_role text := current_setting('role');
    pinned_path text := current_setting('search_path');
    default_path text := (SELECT reset_val FROM pg_settings WHERE name = 'search_path');
    failed_ids bigint[] := '{}';
    locked_ids bigint[] := '{}';
    written int := 0;
    n int;
    write_sql text;
    item jsonb;
BEGIN
    IF jsonb_typeof(verdicts) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'verdicts must be a JSON array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT FROM jsonb_to_recordset(verdicts) AS v(status text)
               WHERE v.status IS NULL OR v.status NOT IN ('valid', 'invalid', 'risky', 'unknown')) THEN
        RAISE EXCEPTION 'every verdict needs a status of valid, invalid, risky or unknown'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    FOR w IN
        SELECT * FROM email_verify.watches
        WHERE id IN (SELECT v.watch_id FROM jsonb_to_recordset(verdicts) AS v(watch_id int))
        ORDER BY id
    LOOP
        k := email_verify.key_sql(w.relid, w.key_columns, 't', 'k');
        IF k.key_match IS NULL THEN
            RAISE WARNING 'email_verify: verdicts for table % dropped, its primary key changed since it was watched',
                w.relid;
            CONTINUE;
        END IF;
        SELECT r.rolname INTO owner FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = w.relid;
        write_sql := format(
            'WITH v AS (
                 SELECT * FROM pg_catalog.jsonb_to_recordset($1) AS v(watch_id int, row_key jsonb, email text, status text,
                                                           reason text, catch_all boolean, checked_at timestamptz)
                 WHERE v.watch_id = $2
             ), written AS (
                 UPDATE %1$s AS t
                 SET %2$I = v.status, %3$I = v.reason, %4$I = v.catch_all, %5$I = coalesce(v.checked_at, pg_catalog.now())
                 FROM v CROSS JOIN LATERAL pg_catalog.jsonb_to_record(v.row_key) AS k(%6$s)
                 WHERE %7$s AND t.%8$I::pg_catalog.text OPERATOR(pg_catalog.=) v.email
                 RETURNING 1
             )
             SELECT pg_catalog.count(*) FROM written',
            k.qualified_name, w.column_name || '_status', w.column_name || '_reason',
            w.column_name || '_catch_all', w.column_name || '_verified_at', k.key_record, k.key_match,
            w.column_name);
        BEGIN
            -- The whole watch's verdicts in one set-based UPDATE, as the owner.
            PERFORM set_config('role', owner, true);
            PERFORM set_config('search_path', default_path, true);
            EXECUTE write_sql INTO n USING verdicts, w.id;
            PERFORM set_config('role', caller_role, true);
            PERFORM set_config('search_path', pinned_path, true);
            written := written + n;
        EXCEPTION WHEN OTHERS THEN
            -- Something in the batch made it fail (the owner's trigger raised,
            -- say): verdict by verdict, so that only the item at fault fails.
            FOR item IN
                SELECT e.value FROM jsonb_array_elements(verdicts) AS e
                WHERE (e.value ->> 'watch_id')::int = w.id
            LOOP
                BEGIN
                    PERFORM set_config('role', owner, true);
                    PERFORM set_config('search_path', default_path, true);
                    EXECUTE write_sql INTO n USING jsonb_build_array(item), w.id;
                    PERFORM set_config('role', caller_role, true);
                    PERFORM set_config('search_path', pinned_path, true);
                    written := written + n;
                EXCEPTION WHEN lock_not_available THEN
                    -- A writer holds the row: the worker does not wait for it.
                    locked_ids := locked_ids || (item ->> 'queue_id')::bigint;
                WHEN OTHERS THEN
                    RAISE WARNING 'email_verify: could not write the verdict for % to table %: %',
                        item ->> 'email', w.relid, SQLERRM;
                    UPDATE email_verify.queue q
                    SET state = 'failed', lease_until = NULL, claimed_by = NULL,
                        last_status = item ->> 'status', last_reason = left('write-back failed: ' || SQLERRM, 500)
                    WHERE q.id = (item ->> 'queue_id')::bigint;
                    failed_ids := failed_ids || (item ->> 'queue_id')::bigint;
                END;
            END LOOP;
        END;
    END LOOP;

    DELETE FROM email_verify.queue
    WHERE id IN (SELECT v.queue_id FROM jsonb_to_recordset(verdicts) AS v(queue_id bigint))
      AND id <> ALL (failed_ids || locked_ids);
    -- Probed again later (the verdict may be stale by then), backing off as
    -- transient verdicts do: retry_delay * 2^attempts.
    IF cardinality(locked_ids) > 0 THEN
        PERFORM email_verify.requeue(locked_ids,
            array_fill('row locked by another transaction'::text, ARRAY[cardinality(locked_ids)]),
            ARRAY(SELECT coalesce(current_setting('email_verify.retry_delay', true), '60s')::interval
                         * 2 ^ least(q.attempts, 10)
                  FROM unnest(locked_ids) WITH ORDINALITY AS u(id, ord) JOIN email_verify.queue q ON q.id = u.id
                  ORDER BY u.ord));
    END IF;

    -- In a fixed order: concurrent workers then lock the counter rows in the same order.
    INSERT INTO email_verify.worker_counters AS c (status, reason, n)
    SELECT v.status, coalesce(v.reason, ''), count(*)
    FROM jsonb_to_recordset(verdicts) AS v(queue_id bigint, status text, reason text)
    WHERE v.queue_id <> ALL (failed_ids || locked_ids)
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (status, reason) DO UPDATE SET n = c.n + EXCLUDED.n;

    RETURN written;
END
$$;

COMMENT ON FUNCTION email_verify.apply_verdicts(jsonb) IS
    'worker: writes a batch of verdicts to the watched rows by primary key and address; returns rows written';

-- Queues, for each watch, up to max_rows rows whose verdict is older than the
-- watch's recheck_after, oldest first (through the <col>_verified_at index),
-- skipping rows already queued. Returns the number queued.
CREATE FUNCTION email_verify.enqueue_stale(max_rows int)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
    SELECT count(*)::int FROM email_verify.enqueue_each_watch(max_rows, stale => true)
$$;

COMMENT ON FUNCTION email_verify.enqueue_stale(int) IS
    'worker: queues, per watch, up to max_rows rows whose verdict is older than recheck_after; returns the number queued';

-- Statistics --------------------------------------------------------------------

-- Rows of a watch waiting for the worker to queue them (enqueue_unverified):
-- an address, no verdict and no queue item. Counted through the same index walk;
-- readable by all, as the queue's own depth is.
CREATE FUNCTION email_verify.unqueued_rows(watch_id int)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
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
    IF NOT FOUND OR (email_verify.key_sql(w.relid, w.key_columns, 'o', 'n')).key_match IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (%s) s',
                   email_verify.queueable_sql(w, w.relid::text, format('n.%I IS NULL', w.column_name || '_verified_at')))
    INTO n USING w.id;
    RETURN n;
END
$$;

-- Queue depth by watch and state; state 'new' counts the rows not yet queued.
CREATE VIEW email_verify.queue_stats AS
SELECT q.watch_id, w.relid AS table_name, w.column_name, q.state,
       count(*) AS items,
       count(*) FILTER (WHERE (q.state = 'pending' AND q.not_before <= now())
                           OR (q.state = 'claimed' AND q.lease_until < now())) AS ready,
       min(q.enqueued_at) AS oldest_enqueued_at,
       max(q.attempts) AS max_attempts
FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
GROUP BY q.watch_id, w.relid, w.column_name, q.state
UNION ALL
SELECT w.id, w.relid, w.column_name, 'new', u.n, u.n, NULL, 0
FROM email_verify.watches w CROSS JOIN LATERAL (SELECT email_verify.unqueued_rows(w.id) AS n) u
WHERE u.n > 0;

COMMENT ON VIEW email_verify.queue_stats IS
    'queue depth per watch and state (new: rows with an address and no verdict, not queued yet); ready: claimable now';

CREATE VIEW email_verify.verdict_stats AS
SELECT c.status, nullif(c.reason, '') AS reason, c.n AS verdicts
FROM email_verify.worker_counters c;

COMMENT ON VIEW email_verify.verdict_stats IS
    'verdicts applied by the background worker since installation, by status and reason';

-- The background workers' shared counters since the server started (NULL
-- without shared_preload_libraries): items being probed, verdicts written,
-- retries scheduled, batches, and per-address probe latency quantiles (the upper
-- bound of a power-of-two histogram bucket).
CREATE FUNCTION email_verify.worker_stats(
    OUT probes_in_flight bigint, OUT verdicts_written bigint, OUT retries_scheduled bigint,
    OUT batches bigint, OUT latency_p50_ms double precision, OUT latency_p95_ms double precision,
    OUT latency_p99_ms double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'worker_stats'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION email_verify.worker_stats() IS
    'background workers since server start: probes in flight, verdicts written, retries, batches, latency quantiles';

-- Privileges --------------------------------------------------------------------

REVOKE ALL ON email_verify.watches, email_verify.queue, email_verify.worker_counters FROM PUBLIC;
GRANT SELECT ON email_verify.queue_stats, email_verify.verdict_stats TO PUBLIC;

REVOKE EXECUTE ON FUNCTION
    email_verify.wake_workers_at_commit(),
    email_verify.calling_role(),
    email_verify.may_probe(name),
    email_verify.key_sql(regclass, name[], text, text),
    email_verify.key_json(name[], text),
    email_verify.watch_of(oid, name),
    email_verify.queueable_sql(email_verify.watches, text, text, boolean, text, int),
    email_verify.enqueue_sql(email_verify.watches, text, text, boolean, text, int, boolean),
    email_verify.watch_wake(),
    email_verify.watch_clear_verdict(),
    email_verify.watch_check(),
    email_verify.watch_triggers(regclass, name),
    email_verify.check_owner(regclass),
    email_verify.why_no_worker(),
    email_verify.check_supported(regclass, name[]),
    email_verify.end_watch(int),
    email_verify.forget_dropped_watches(),
    email_verify.follow_altered_tables(),
    email_verify.enqueue_each_watch(int, boolean, int, interval),
    email_verify.enqueue_unverified(int),
    email_verify.claim_limit(),
    email_verify.claim_items(int, int, interval),
    email_verify.claim_batch(int, int, interval),
    email_verify.requeue(bigint[], text[], interval[]),
    email_verify.retry_later(bigint[], text[], interval[]),
    email_verify.release_claims(int),
    email_verify.apply_verdicts(jsonb),
    email_verify.enqueue_stale(int)
FROM PUBLIC;
