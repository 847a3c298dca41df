-- In-place verification, the internal helpers that watch(), the triggers and
-- the worker's functions share. None is executable by PUBLIC
-- (90_privileges.sql) but may_see.

-- Waking, roles, keys -------------------------------------------------------------

-- Provided by the module: at COMMIT of a transaction that called it, wakes the
-- background workers once (a rollback wakes nobody).
CREATE FUNCTION email_verify_internal.wake_workers_at_commit()
RETURNS void
AS 'MODULE_PATHNAME', 'wake_workers_at_commit'
LANGUAGE C VOLATILE;

-- The role that called the SECURITY DEFINER function this runs in (see the
-- security model in 30_tables.sql).
CREATE FUNCTION email_verify_internal.calling_role()
RETURNS name
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE current_setting('role') WHEN 'none' THEN session_user
                ELSE current_setting('role')::name END
$$;

-- Levels dns and smtp send traffic on the server's behalf: the same rule as
-- verify_email's.
CREATE FUNCTION email_verify_internal.may_probe(role name)
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
CREATE FUNCTION email_verify_internal.key_sql(tbl regclass, key_columns name[], a text, b text,
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

-- The watches row of a column of the table a trigger fired on; a row trigger
-- cloned onto a partition finds the watch of its partitioned ancestor.
CREATE FUNCTION email_verify_internal.watch_of(rel oid, col name)
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
-- this watch is queued yet) skips that check. Built by the sweep's C++
-- (src/pg/sweep_sql.cpp); the row_key is jsonb_build_object('col', n."col",
-- ...) of the key columns recorded at watch time. Keys are compared as jsonb,
-- so every caller pins the settings their text depends on (TimeZone,
-- IntervalStyle, extra_float_digits): a timestamptz key built in two sessions
-- must come out the same.
CREATE FUNCTION email_verify_internal.queueable_sql(w email_verify.watches, source text, condition text,
                                           fresh boolean DEFAULT false, order_by text DEFAULT NULL,
                                           max_rows int DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'queueable_sql'
LANGUAGE C STABLE;

-- The statement that queues those rows (src/pg/sweep_sql.cpp). A pending item
-- of one of them for another address (the row's address changed since) is
-- deleted: its probe would be wasted, its verdict skipped. One a worker is
-- claiming is left to it (SKIP LOCKED): retry_later drops it if it comes back
-- for a retry. It returns the items as the claim does (level $4). claim: they
-- are inserted already claimed, by worker $2 until now() + $3. The worker's
-- sweep writes each item once this way instead of inserting it pending and
-- then updating it to claimed, which halves what a drain writes to the queue.
CREATE FUNCTION email_verify_internal.enqueue_sql(w email_verify.watches, source text, condition text,
                                         fresh boolean DEFAULT false, order_by text DEFAULT NULL,
                                         max_rows int DEFAULT NULL, claim boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'enqueue_sql'
LANGUAGE C STABLE;

-- Locking without waiting -----------------------------------------------------------

-- Whether this transaction now holds AccessShareLock on tbl and, for a
-- partitioned table, on every partition (one under LOCK TABLE would make the
-- reader wait), none of them foreign; never waits
-- (src/pg/table_lock_functions.cpp, src/pg/table_tree_lock.h).
CREATE FUNCTION email_verify_internal.try_lock_table(tbl regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'try_lock_table'
LANGUAGE C STRICT VOLATILE;

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

-- Which tables may be watched, seen and served -------------------------------------

-- Watch metadata (table names, counts) is shown to the table's owner, to the
-- roles that have its privileges and to superusers only.
CREATE FUNCTION email_verify_internal.may_see(tbl regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_class c WHERE c.oid = tbl AND pg_has_role(c.relowner, 'USAGE'))
$$;

-- What the privileged readers (the worker's sweep, queue_stats, watch) may read
-- without running code of the table's owner: key columns whose types, past
-- domains and arrays, are built in or owned by a superuser (to_jsonb would call a
-- user's cast to json, e.g. of an enum), and no foreign partitions or children
-- (their foreign server would be reached with the extension owner's mapping).
CREATE FUNCTION email_verify_internal.check_supported(tbl regclass, key_columns name[])
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

-- The checks watch and unwatch share: an existing table the caller owns. (A
-- partition may be unwatched: one watched on its own before it was attached.)
CREATE FUNCTION email_verify_internal.check_owner(tbl regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    owner oid;
    persistence "char";
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relkind, relowner, relpersistence INTO kind, owner, persistence
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
END
$$;

-- Why no background worker will drain this database's queue, or NULL when one
-- will: the module is not preloaded (its shared memory, read by worker_stats(),
-- is missing), no workers are configured, or they work in another database.
-- A prober on another machine that was heard from in the last two minutes
-- (99_remote_probers.sql) drains it as well.
CREATE FUNCTION email_verify_internal.why_no_worker()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (plpgsql: worker_stats and probers are created further down this script)
    RETURN CASE
        WHEN EXISTS (SELECT FROM email_verify_internal.probers p
                     WHERE p.stopped_at IS NULL AND p.heartbeat_at > now() - interval '2 minutes') THEN
            NULL
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
