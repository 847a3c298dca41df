-- Helpers of bench/run-compare-bench.sh, loaded after bench/worker_bench.sql
-- into the bench database of its throwaway cluster (recreated for every build
-- installed). They use only what both builds compared have (claim_batch,
-- retry_later, apply_verdicts, watch, wake_workers_at_commit) and report
-- through RAISE NOTICE lines starting with WORKER_BENCH. The worker's functions
-- are called unqualified: the old build has them in email_verify, the new one
-- in email_verify_internal, and each function's search_path has both.

-- A watched table (level dns, async) of n rows whose first `retries` rows wait
-- out a retry: claimed by worker 0 (the sweep takes them from the front of the
-- <col>_verified_at index), then put back by retry_later after `delay`, as a
-- greylisted verdict would be. With the workers off (nothing else claims).
CREATE FUNCTION cmp_retry_table(tbl text, n int, retries int, delay interval) RETURNS void
LANGUAGE plpgsql SET search_path = public, email_verify_internal, email_verify AS $$
BEGIN
    PERFORM worker_make_table(tbl, n, 100);
    PERFORM set_config('client_min_messages', 'error', true);   -- "no worker serves the database"
    PERFORM email_verify.watch(tbl::regclass, 'email', level => 'dns', mode => 'async');
    PERFORM set_config('client_min_messages', 'notice', true);
    PERFORM cmp_put_back(retries, delay);
END
$$;

-- Claims up to `n` rows for worker 0 and puts them back as waiting retries
-- (pending after `delay`, one attempt more, reason greylisted).
CREATE FUNCTION cmp_put_back(n int, delay interval) RETURNS int
LANGUAGE plpgsql SET search_path = public, email_verify_internal, email_verify AS $$
DECLARE
    ids bigint[];
BEGIN
    ids := ARRAY(SELECT c.queue_id FROM claim_batch(0, n) c);
    PERFORM retry_later(ids, array_fill('greylisted'::text, ARRAY[cardinality(ids)]),
                                     array_fill(delay, ARRAY[cardinality(ids)]));
    RETURN cardinality(ids);
END
$$;

-- A claim behind waiting retries: `calls` times claim_batch(0, batch) timed,
-- each rolled back (a subtransaction) so that every call finds the same
-- queue. Reports the median, min and max in ms and the items claimed.
CREATE FUNCTION cmp_claim_time(run int, calls int, batch int, retries int) RETURNS void
LANGUAGE plpgsql SET search_path = public, email_verify_internal, email_verify AS $$
DECLARE
    t0 timestamptz;
    ms float8[] := '{}';
    got bigint;
    waiting bigint;
BEGIN
    SELECT count(*) INTO waiting FROM email_verify.queue WHERE state = 'pending' AND not_before > now();
    FOR i IN 1 .. calls LOOP
        BEGIN
            t0 := clock_timestamp();
            SELECT count(*) INTO got FROM claim_batch(0, batch);
            ms := ms || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
            RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'cmp_claim_time: roll back';
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
    END LOOP;
    RAISE NOTICE 'WORKER_BENCH fig=claim run=% retries_waiting=% batch=% claimed=% calls=% p50_ms=% min_ms=% max_ms=% all_ms=%',
        run, waiting, batch, got, calls,
        round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ms) x)::numeric, 2),
        round((SELECT min(x) FROM unnest(ms) x)::numeric, 2), round((SELECT max(x) FROM unnest(ms) x)::numeric, 2),
        (SELECT string_agg(round(x::numeric, 1)::text, ',') FROM unnest(ms) x);
END
$$;

-- Rows held by a writer while their batch is written back. Called by the
-- session that watched `tbl` (level dns, async) and holds the watch's sweep
-- lock (a session advisory lock on the key the sweep tries, so the worker has
-- not touched the rows yet): waits (at most 20 s) until the writer session
-- (application_name ev_cmp_writer) has locked its rows and sleeps, frees the
-- sweep and wakes the worker, then polls the table every poll_s, recording
-- when each row is first seen with a verdict, until every row not locked is
-- (and, with cut_short, until the locked rows' items are back in the queue;
-- then the writer is cancelled), at most timeout_s. Reports, for the rows
-- not locked, the lag between the verdict's stamp (<col>_verified_at, the
-- probe's checked_at) and first seen, and the time from the wake to first seen.
CREATE TABLE cmp_seen (run int, build text, id bigint, locked boolean, seen_at timestamptz, verified_at timestamptz);

CREATE PROCEDURE cmp_locked_run(run int, build text, tbl text, timeout_s float8, cut_short boolean,
                                poll_s float8 DEFAULT 0.02)
LANGUAGE plpgsql AS $$
-- (No SET clause: a procedure that has one cannot COMMIT. The session's
-- search_path, set below, finds wake_workers_at_commit in either build.)
DECLARE
    wid int;
    n bigint;
    n_locked bigint;
    t_wake timestamptz;
    t_end timestamptz;
    t_cut timestamptz;
    others bigint;
    seen_others bigint := 0;
    requeued bigint := 0;
    s record;
    q record;
    v0 bigint;
    b0 bigint;
    polls int := 0;
BEGIN
    PERFORM set_config('search_path', 'public, email_verify_internal, email_verify', false);
    SELECT id INTO wid FROM email_verify.watches WHERE relid = tbl::regclass;
    -- the writer: its rows locked (it runs pg_sleep in the same transaction)
    FOR i IN 1 .. 200 LOOP
        PERFORM pg_stat_clear_snapshot();   -- pg_stat_activity is read once a transaction otherwise
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'ev_cmp_writer' AND wait_event = 'PgSleep');
        PERFORM pg_sleep(0.1);
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'ev_cmp_writer' AND wait_event = 'PgSleep') THEN
        RAISE EXCEPTION 'cmp_locked_run: the writer session did not lock its rows within 20 s';
    END IF;
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE id %% 5 = 0) FROM %I', tbl) INTO n, n_locked;
    others := n - n_locked;
    DELETE FROM cmp_seen WHERE cmp_seen.run = cmp_locked_run.run AND cmp_seen.build = cmp_locked_run.build;
    SELECT verdicts_written, batches INTO v0, b0 FROM email_verify.worker_stats();
    PERFORM pg_advisory_unlock('email_verify.watches'::regclass::oid::int, wid);
    PERFORM wake_workers_at_commit();
    COMMIT;
    t_wake := clock_timestamp();
    WHILE extract(epoch FROM clock_timestamp() - t_wake) < timeout_s LOOP
        EXECUTE format('INSERT INTO cmp_seen SELECT $1, $2, t.id, t.id %% 5 = 0, clock_timestamp(), t.email_verified_at
                        FROM %I t WHERE t.email_verified_at IS NOT NULL
                          AND NOT EXISTS (SELECT FROM cmp_seen c WHERE c.run = $1 AND c.build = $2 AND c.id = t.id)', tbl)
        USING run, build;
        polls := polls + 1;
        SELECT count(*) INTO seen_others FROM cmp_seen c
        WHERE c.run = cmp_locked_run.run AND c.build = cmp_locked_run.build AND NOT c.locked;
        SELECT count(*) INTO requeued FROM email_verify.queue
        WHERE watch_id = wid AND state = 'pending' AND last_reason LIKE 'row locked%';
        COMMIT;
        IF seen_others >= others THEN
            t_cut := coalesce(t_cut, clock_timestamp());
            -- the locked rows' items back in the queue (or 5 s more)
            EXIT WHEN NOT cut_short OR requeued >= n_locked OR clock_timestamp() - t_cut > interval '5 s';
        END IF;
        PERFORM pg_sleep(poll_s);
    END LOOP;
    t_end := clock_timestamp();
    IF cut_short THEN
        PERFORM pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ev_cmp_writer';
    END IF;
    SELECT count(*) FILTER (WHERE NOT c.locked) AS seen_others,
           count(*) FILTER (WHERE c.locked) AS seen_locked,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.seen_at - c.verified_at))
               FILTER (WHERE NOT c.locked) * 1000 AS lag_p50,
           max(extract(epoch FROM c.seen_at - c.verified_at)) FILTER (WHERE NOT c.locked) * 1000 AS lag_max,
           min(extract(epoch FROM c.seen_at - c.verified_at)) FILTER (WHERE NOT c.locked) * 1000 AS lag_min,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.seen_at - t_wake))
               FILTER (WHERE NOT c.locked) * 1000 AS wake_p50,
           max(extract(epoch FROM c.seen_at - t_wake)) FILTER (WHERE NOT c.locked) * 1000 AS wake_max,
           min(extract(epoch FROM c.verified_at - t_wake)) * 1000 AS first_stamp,
           max(extract(epoch FROM c.verified_at - t_wake)) FILTER (WHERE NOT c.locked) * 1000 AS last_stamp
    INTO s FROM cmp_seen c WHERE c.run = cmp_locked_run.run AND c.build = cmp_locked_run.build;
    SELECT count(*) FILTER (WHERE state = 'pending') AS pending, count(*) FILTER (WHERE state = 'claimed') AS claimed,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           coalesce(string_agg(DISTINCT last_reason, '|'), '-') AS reasons
    INTO q FROM email_verify.queue WHERE watch_id = wid;
    RAISE NOTICE 'WORKER_BENCH fig=locked run=% build=% rows=% locked=% seen_others=% seen_locked=% lag_p50_ms=% lag_max_ms=% lag_min_ms=% wake_p50_ms=% wake_max_ms=% first_stamp_ms=% last_stamp_ms=% polled_s=% polls=% queue_pending=% queue_claimed=% queue_failed=% locked_requeued=% verdicts=% batches=% reasons=%',
        run, build, n, n_locked, s.seen_others, s.seen_locked, round(s.lag_p50::numeric, 1), round(s.lag_max::numeric, 1),
        round(s.lag_min::numeric, 1), round(s.wake_p50::numeric, 1), round(s.wake_max::numeric, 1),
        round(s.first_stamp::numeric, 1), round(s.last_stamp::numeric, 1),
        round(extract(epoch FROM t_end - t_wake)::numeric, 2), polls, q.pending, q.claimed, q.failed, requeued,
        (SELECT verdicts_written FROM email_verify.worker_stats()) - v0, (SELECT batches FROM email_verify.worker_stats()) - b0,
        replace(q.reasons, ' ', '_');
END
$$;

-- The verdicts apply_verdicts would get for the items claimed into temp
-- table `claimed`: valid/domain_ok at level dns, stamped now.
CREATE FUNCTION cmp_verdicts_of(claimed regclass) RETURNS jsonb
LANGUAGE plpgsql SET search_path = public, email_verify_internal, email_verify AS $$
DECLARE
    v jsonb;
BEGIN
    EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''queue_id'', queue_id, ''watch_id'', watch_id,
                        ''row_key'', row_key, ''email'', email, ''status'', ''valid'', ''reason'', ''domain_ok'',
                        ''catch_all'', false, ''checked_at'', now(), ''level'', level)), ''[]'') FROM %s', claimed)
    INTO v;
    RETURN v;
END
$$;
