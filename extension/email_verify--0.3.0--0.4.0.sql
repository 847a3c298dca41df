-- email_verify 0.4.0: the privileged paths never lend the extension's
-- privileges to code of a table's owner (run_as_table_owner), and the verdicts
-- of a sync watch are written with the writer's own identity.
\echo Use "ALTER EXTENSION email_verify UPDATE" to load this file. \quit

-- Runs a write-back statement as the owner of table tbl inside a
-- security-restricted operation; returns the statement's count.
CREATE FUNCTION email_verify.run_as_table_owner(tbl regclass, statement text, verdicts jsonb, watch_id int)
RETURNS bigint
AS 'MODULE_PATHNAME', 'run_as_table_owner'
LANGUAGE C VOLATILE;
REVOKE EXECUTE ON FUNCTION email_verify.run_as_table_owner(regclass, text, jsonb, int) FROM PUBLIC;

-- Writes a batch of verdicts back to the watched rows: one UPDATE per watch,
-- matching each row by its primary key and by the address the verdict is for,
-- so a row deleted meanwhile or whose address changed is skipped, never given
-- another address's verdict. Deletes the batch's queue items, counts the verdicts
-- in worker_counters and returns the number of rows written.
-- verdicts: [{"queue_id", "watch_id", "row_key", "email", "status", "reason",
--             "catch_all", "checked_at"}, ...]
-- Each UPDATE runs through run_as_table_owner: as the table's owner inside a
-- security-restricted operation, with search_path pg_catalog, pg_temp (the
-- UPDATE itself names everything it uses in full). The owner's triggers, index
-- expressions and domain checks run there and cannot climb back to the
-- worker's identity (see src/pg/owner_context.cpp).
-- A watch whose UPDATE fails (e.g. the owner's trigger raises) does not fail the
-- batch: its verdicts are written one by one, and an item that still fails is
-- kept in state 'failed' with the error as last_reason (watch() called again
-- retries it). No row lock is waited for longer than lock_timeout: an item whose
-- row a writer holds goes back to the queue for retry_delay.
CREATE OR REPLACE FUNCTION email_verify.apply_verdicts(verdicts jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, email_verify, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    w email_verify.watches;
    k record;
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
            n := email_verify.run_as_table_owner(w.relid, write_sql, verdicts, w.id);
            written := written + n;
        EXCEPTION WHEN OTHERS THEN
            -- Something in the batch made it fail (the owner's trigger raised,
            -- say): verdict by verdict, so that only the item at fault fails.
            FOR item IN
                SELECT e.value FROM jsonb_array_elements(verdicts) AS e
                WHERE (e.value ->> 'watch_id')::int = w.id
            LOOP
                BEGIN
                    n := email_verify.run_as_table_owner(w.relid, write_sql, jsonb_build_array(item), w.id);
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
