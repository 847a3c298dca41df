-- email_verify 0.6.0: the signup decision (policies, a time budget, consumer
-- limits) and stricter syntax and typo verdicts. Each part below is its
-- source file (extension/src/) as it is, or the statements that change an
-- object of 0.5.0.
\echo Use "ALTER EXTENSION email_verify UPDATE TO '0.6.0'" to load this file. \quit

-- Issue 16: a level argument is case-insensitive, as email_verify.default_level
-- and verify_email's level are (extension/src/50_watch.sql, 97_jobs.sql).

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
