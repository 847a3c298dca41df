-- In-place verification, what users see of it: the queue's depth, the verdicts
-- applied, the watches and the background workers' counters.

-- Rows of a watch waiting for the worker to queue them (enqueue_unverified):
-- an address, no verdict and no queue item. Counted through the same index walk,
-- for queue_stats: callable by all, it answers (non-NULL) only for the tables
-- whose owner's privileges the caller has, and only while may_read lets it read.
CREATE FUNCTION email_verify_internal.unqueued_rows(watch_id int)
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

-- Queue depth by watch and state; state 'new' counts the rows not yet queued.
-- Only the watches the role may see (may_see).
CREATE VIEW email_verify.queue_stats AS
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

CREATE VIEW email_verify.verdict_stats AS
SELECT c.status, nullif(c.reason, '') AS reason, c.n AS verdicts
FROM email_verify.worker_counters c;

COMMENT ON VIEW email_verify.verdict_stats IS
    'verdicts applied by the background worker since installation, by status and reason';

-- The watches a role may see (see may_see), with their options and state.
CREATE VIEW email_verify.watch_status AS
SELECT w.id AS watch_id, w.relid AS table_name, w.column_name, w.level, w.mode, w.reject_invalid,
       w.recheck_after, w.created_at, w.suspended_reason
FROM email_verify.watches w
WHERE email_verify_internal.may_see(w.relid);

COMMENT ON VIEW email_verify.watch_status IS
    'the watches of tables whose owner''s privileges you have: options, and why a watch is suspended (NULL: active)';

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
