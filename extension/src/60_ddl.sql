-- In-place verification follows the user's DDL on watched tables: two event
-- triggers keep the watches in step with the tables they watch.

-- Following DDL ---------------------------------------------------------------
-- Both event triggers turn their own failures into warnings: they must never
-- stand in the way of the user's DDL.

-- A dropped table, or a dropped watched, key or verdict column, ends its watch,
-- so the worker never meets a watch it cannot serve.
CREATE FUNCTION email_verify_internal.forget_dropped_watches()
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

CREATE EVENT TRIGGER email_verify_forget_dropped_watches ON sql_drop
    EXECUTE FUNCTION email_verify_internal.forget_dropped_watches();

-- After ALTER TABLE on a watched table: columns that column_problem refuses
-- (a renamed watched column, a type changed) suspend the watch with a WARNING,
-- and their repair resumes it; a new or renamed primary key re-keys the watch
-- (its queue items are dropped, the worker queues the rows again by the new
-- key); a table left without one is reported; a key type or a foreign
-- partition that check_supported refuses ends the watch. Partitions: the
-- watch of a partitioned table is looked at after DDL on any table below it
-- (CREATE FOREIGN TABLE ... PARTITION OF included), and a table watched on
-- its own that is now below a table watched on the same column loses its
-- own watch (it would queue its rows twice); ATTACH and DETACH need nothing
-- else: PostgreSQL clones the row triggers and the index to an attached
-- partition and drops the cloned triggers from a detached one.
CREATE FUNCTION email_verify_internal.follow_altered_tables()
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
        SELECT * FROM email_verify.watches o
        WHERE EXISTS (SELECT FROM email_verify.watches a
                      WHERE a.column_name = o.column_name AND a.relid <> o.relid
                        AND a.relid IN (SELECT pg_partition_ancestors(o.relid)))
        ORDER BY id
    LOOP
        RAISE NOTICE 'email_verify: column % of table % is now watched through its partitioned table',
            quote_ident(w.column_name), w.relid;
        PERFORM email_verify_internal.end_watch(w.id);
    END LOOP;
    FOR w IN
        SELECT * FROM email_verify.watches
        WHERE relid IN (SELECT t.relid
                        FROM pg_event_trigger_ddl_commands() c
                        -- (a table that is no partition has no ancestors, not even itself)
                        CROSS JOIN LATERAL (SELECT c.objid UNION SELECT pg_partition_ancestors(c.objid)) t(relid)
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

CREATE EVENT TRIGGER email_verify_follow_altered_tables ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE FOREIGN TABLE')
    EXECUTE FUNCTION email_verify_internal.follow_altered_tables();

