-- Helpers of bench/run-worker-bench.sh, loaded into the bench database of its
-- own throwaway cluster. Each function reports through RAISE NOTICE lines
-- starting with WORKER_BENCH, which the script collects.

-- A contacts table of n rows over the lab domains l0000..l0999.test, users
-- u0 .. u<users-1> (known to the world's Postfix), the domains interleaved
-- (row g: user g % users, domain (g / users + 37 g) % 1000), so that
-- consecutive rows, and so one claimed batch, touch many domains, as in a
-- table that is not sorted by domain. Distinct addresses for n <= 1000 * users.
CREATE FUNCTION worker_make_table(tbl text, n int, users int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
    EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, email text, name text,
                                     created_at timestamptz NOT NULL DEFAULT now())', tbl);
    EXECUTE format('INSERT INTO %I (id, email, name) SELECT g, %s, ''contact '' || g FROM generate_series(0, $1 - 1) g',
                   tbl, worker_address_sql('g', users))
    USING n;
    EXECUTE format('ANALYZE %I', tbl);
END
$$;

-- The address of row `g` (an SQL expression), as above.
CREATE FUNCTION worker_address_sql(g text, users int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('format(''u%%s@l%%s.test'', %1$s %% %2$s, lpad(((%1$s / %2$s + %1$s * 37) %% 1000)::text, 4, ''0''))',
                  g, users)
$$;

-- Figure 1: a multi-row INSERT, n rows in one statement, into table
-- `tbl`, committed; the time includes the statement's AFTER triggers and the
-- COMMIT, as an autocommit INSERT's would. Runs as a procedure so that the
-- COMMIT is inside the measured interval. how => 'copy': the same rows by
-- one COPY FROM the server-side file `path` (written by worker_copy_file).
-- Reports the queue items of the table afterwards: the writer queues none.
CREATE PROCEDURE worker_insert(fig int, run int, variant text, how text, tbl text, n int, path text DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    loaded bigint;
    queued bigint;
BEGIN
    t0 := clock_timestamp();
    IF how = 'insert' THEN
        EXECUTE format('INSERT INTO %I (id, email, name) SELECT g, %s, ''contact '' || g FROM generate_series(1, $1) g',
                       tbl, worker_address_sql('g', 100))
        USING n;
    ELSIF how = 'copy' THEN
        EXECUTE format('COPY %I (id, email, name) FROM %L', tbl, path);
    ELSE
        RAISE EXCEPTION 'worker_insert: unknown how %', how;
    END IF;
    GET DIAGNOSTICS loaded = ROW_COUNT;
    COMMIT;
    t1 := clock_timestamp();
    SELECT count(*) INTO queued FROM email_verify.queue;
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=% how=% n=% seconds=% queued=%',
        fig, run, variant, how, loaded, round(extract(epoch FROM t1 - t0)::numeric, 4), queued;
END
$$;

-- Figure 1's COPY: the rows worker_insert inserts (ids 1..n), as a text-format
-- file on the server for COPY FROM.
CREATE FUNCTION worker_copy_file(path text, n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT g, %s, ''contact '' || g FROM generate_series(1, %s) g) TO %L',
                   worker_address_sql('g', 100), n, path);
END
$$;

-- Worker memory samples (figure 4), one row per worker and poll.
CREATE TABLE worker_rss_samples (
    fig int NOT NULL,
    run int NOT NULL,
    variant text NOT NULL,
    t float8 NOT NULL,          -- seconds since the watch() call or the INSERT
    pid int NOT NULL,
    vm_rss_kb bigint,
    rss_anon_kb bigint,
    rss_file_kb bigint,
    rss_shmem_kb bigint,
    vm_hwm_kb bigint,
    pss_kb bigint,              -- smaps_rollup: shared pages divided among the processes mapping them
    verdicts bigint             -- worker_stats().verdicts_written at that poll
);

CREATE FUNCTION worker_proc_field(status text, field text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(status FROM field || ':\s*(\d+)')::bigint
$$;

-- Figures 2-4, how the rows reach the workers:
--   how => 'watch'   watch(tbl, 'email', level => lvl, mode => 'async') of a
--                    table that holds its rows (watch() queues them all:
--                    path A), committed;
--   how => 'insert'  tbl is empty and already watched (at level lvl): one
--                    INSERT of n_rows rows (ids 0 .. n_rows-1, the addresses of
--                    worker_make_table(tbl, n_rows, users)), committed, which
--                    wakes the workers; they sweep the rows into the queue
--                    themselves (enqueue_unverified: path B).
-- Then poll every `poll_s` (committing between polls, so no snapshot is held
-- against the queue's cleanup) until the workers have written n verdicts
-- (worker_stats(), shared memory: no table is read while draining), the queue
-- holds nothing of this watch, and no row is left without a verdict; at most
-- timeout_s from the start. Each poll samples /proc/<pid>/status of every
-- email_verify worker (VmRSS, RssAnon/File/Shmem, VmHWM).
-- Reports: the time watch() (A) or the INSERT (B) took, committed, the time
-- until done, the verdicts that differ from (expect_status, expect_reason),
-- batches, and the workers' memory.
CREATE PROCEDURE worker_drain(fig int, run int, variant text, tbl text, lvl text,
                              expect_status text, expect_reason text,
                              timeout_s float8, poll_s float8 DEFAULT 0.05,
                              how text DEFAULT 'watch', n_rows int DEFAULT NULL, users int DEFAULT 100)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    v0 bigint;
    b0 bigint;
    r0 bigint;
    v bigint;
    t0 timestamptz;
    t_watch timestamptz;
    t_done timestamptz;
    done boolean := false;
    left_items bigint;
    unverified bigint;
    wrong bigint;
    wrong_kinds text;
    last_verdict float8;
    s record;
    p record;
    st text;
    workers int;
BEGIN
    EXECUTE format('SELECT count(*) FROM %I', tbl) INTO n;
    IF how = 'insert' THEN
        IF n <> 0 OR n_rows IS NULL THEN
            RAISE EXCEPTION 'worker_drain(how => insert): % must be empty (it holds % rows) and n_rows given', tbl, n;
        END IF;
        IF NOT EXISTS (SELECT FROM email_verify.watches
                       WHERE relid = tbl::regclass AND column_name = 'email' AND level = lvl AND mode = 'async') THEN
            RAISE EXCEPTION 'worker_drain(how => insert): %.email is not watched at level % (async)', tbl, lvl;
        END IF;
        n := n_rows;
    ELSIF how <> 'watch' THEN
        RAISE EXCEPTION 'worker_drain: unknown how %', how;
    END IF;
    SELECT verdicts_written, batches, retries_scheduled INTO v0, b0, r0 FROM email_verify.worker_stats();
    SELECT count(*) INTO workers FROM pg_stat_activity WHERE backend_type = 'email_verify worker';
    t0 := clock_timestamp();
    IF how = 'watch' THEN
        PERFORM email_verify.watch(tbl::regclass, 'email', level => lvl, mode => 'async');
    ELSE
        EXECUTE format('INSERT INTO %I (id, email, name) SELECT g, %s, ''contact '' || g FROM generate_series(0, $1 - 1) g',
                       tbl, worker_address_sql('g', users))
        USING n_rows;
    END IF;
    COMMIT;   -- wakes the workers
    t_watch := clock_timestamp();
    -- the script held autovacuum of the queue off until watch() for path A
    -- (see prepare in run-worker-bench.sh); from here on it is as usual
    ALTER TABLE email_verify.queue RESET (autovacuum_enabled);
    COMMIT;
    WHILE extract(epoch FROM clock_timestamp() - t0) < timeout_s LOOP
        SELECT verdicts_written INTO v FROM email_verify.worker_stats();
        FOR p IN SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker' LOOP
            BEGIN
                st := pg_read_file('/proc/' || p.pid || '/status');
                INSERT INTO worker_rss_samples
                VALUES (fig, run, variant, extract(epoch FROM clock_timestamp() - t0), p.pid,
                        worker_proc_field(st, 'VmRSS'), worker_proc_field(st, 'RssAnon'),
                        worker_proc_field(st, 'RssFile'), worker_proc_field(st, 'RssShmem'),
                        worker_proc_field(st, 'VmHWM'),
                        worker_proc_field(pg_read_file('/proc/' || p.pid || '/smaps_rollup'), 'Pss'), v - v0);
            EXCEPTION WHEN OTHERS THEN
                NULL;  -- the worker exited between the two reads
            END;
        END LOOP;
        IF v - v0 >= n THEN
            SELECT count(*) INTO left_items FROM email_verify.queue q
            JOIN email_verify.watches w ON w.id = q.watch_id WHERE w.relid = tbl::regclass;
            EXECUTE format('SELECT count(*) FROM %I WHERE email_verified_at IS NULL', tbl) INTO unverified;
            IF left_items = 0 AND unverified = 0 THEN
                t_done := clock_timestamp();
                done := true;
                COMMIT;
                EXIT;
            END IF;
        END IF;
        COMMIT;
        PERFORM pg_sleep(poll_s);
    END LOOP;
    IF NOT done THEN
        t_done := clock_timestamp();
    END IF;
    -- Where the worker's memory is, at the end of the drain: its memory
    -- contexts, in the server log (LOG "level: ..." lines).
    PERFORM pg_log_backend_memory_contexts(a.pid) FROM pg_stat_activity a
    WHERE a.backend_type = 'email_verify worker';
    SELECT count(*) INTO left_items FROM email_verify.queue q
    JOIN email_verify.watches w ON w.id = q.watch_id WHERE w.relid = tbl::regclass;
    EXECUTE format('SELECT count(*) FILTER (WHERE email_verified_at IS NULL),
                           count(*) FILTER (WHERE email_verified_at IS NOT NULL
                                              AND (email_status, email_reason) IS DISTINCT FROM ($1, $2)),
                           extract(epoch FROM max(email_verified_at) - $3)
                    FROM %I', tbl)
    INTO unverified, wrong, last_verdict USING expect_status, expect_reason, t0;
    EXECUTE format('SELECT coalesce(string_agg(format(''%%s/%%s:%%s'', email_status, email_reason, c), '','' ORDER BY c DESC), ''-'')
                    FROM (SELECT email_status, email_reason, count(*) c FROM %I
                          WHERE email_verified_at IS NOT NULL AND (email_status, email_reason) IS DISTINCT FROM ($1, $2)
                          GROUP BY 1, 2) w', tbl)
    INTO wrong_kinds USING expect_status, expect_reason;
    SELECT * INTO s FROM email_verify.worker_stats();
    -- the largest of each field over the samples (of any worker), and per
    -- worker the private memory at its first and last sample (growth)
    SELECT max(vm_rss_kb) AS rss, max(rss_anon_kb) AS anon, max(rss_shmem_kb) AS shmem, max(rss_file_kb) AS file,
           max(vm_hwm_kb) AS hwm, max(pss_kb) AS pss, count(*) AS samples,
           (SELECT string_agg(format('%s:%s->%s', x.pid, x.first_anon, x.last_anon), ',')
              FROM (SELECT DISTINCT pid,
                           first_value(rss_anon_kb) OVER (PARTITION BY pid ORDER BY t) AS first_anon,
                           first_value(rss_anon_kb) OVER (PARTITION BY pid ORDER BY t DESC) AS last_anon
                      FROM worker_rss_samples r
                     WHERE r.fig = worker_drain.fig AND r.run = worker_drain.run AND r.variant = worker_drain.variant) x)
               AS anon_growth
    INTO p FROM worker_rss_samples WHERE worker_rss_samples.fig = worker_drain.fig
        AND worker_rss_samples.run = worker_drain.run AND worker_rss_samples.variant = worker_drain.variant;
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=% how=% level=% workers=% batch_size=% n=% complete=% watch_seconds=% insert_seconds=% seconds=% last_verdict_seconds=% verdicts=% unverified=% left_in_queue=% wrong=% batches=% retries=% p50_ms=% max_rss_kb=% max_rss_anon_kb=% max_rss_shmem_kb=% max_rss_file_kb=% hwm_kb=% max_pss_kb=% rss_samples=% anon_first_last_kb=% wrong_kinds=%',
        fig, run, variant, how, lvl, workers, current_setting('email_verify.worker_batch_size'), n, done::int,
        CASE WHEN how = 'watch' THEN round(extract(epoch FROM t_watch - t0)::numeric, 4)::text ELSE '-' END,
        CASE WHEN how = 'insert' THEN round(extract(epoch FROM t_watch - t0)::numeric, 4)::text ELSE '-' END,
        round(extract(epoch FROM t_done - t0)::numeric, 4),
        round(last_verdict::numeric, 4), s.verdicts_written - v0, unverified, left_items, wrong,
        s.batches - b0, s.retries_scheduled - r0, s.latency_p50_ms,
        p.rss, p.anon, p.shmem, p.file, p.hwm, p.pss, p.samples, coalesce(p.anon_growth, '-'), wrong_kinds;
END
$$;

-- Figure 3's comparator: one verify_emails() call over the same addresses
-- (in the table's key order), in a fresh prober state (clear_cache(),
-- result_ttl = 0), in this backend, while the workers are idle.
CREATE FUNCTION worker_comparator(fig int, run int, tbl text, lvl text, expect_status text, expect_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lst text[];
    t0 timestamptz;
    t1 timestamptz;
    n bigint;
    wrong bigint;
    s0 record;
    s record;
BEGIN
    PERFORM set_config('email_verify.result_ttl', '0', true);
    EXECUTE format('SELECT array_agg(email ORDER BY id) FROM %I', tbl) INTO lst;
    PERFORM email_verify.clear_cache();
    SELECT * INTO s0 FROM email_verify.prober_stats();
    t0 := clock_timestamp();
    SELECT count(*), count(*) FILTER (WHERE (v.status, v.reason) IS DISTINCT FROM (expect_status, expect_reason))
      INTO n, wrong
      FROM verify_emails(lst, lvl) AS v;
    t1 := clock_timestamp();
    SELECT * INTO s FROM email_verify.prober_stats();
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=comparator level=% n=% seconds=% wrong=% sessions=% rcpts=% catch_all_probes=%',
        fig, run, lvl, n, round(extract(epoch FROM t1 - t0)::numeric, 4), wrong,
        s.sessions_opened - s0.sessions_opened, s.rcpts_sent - s0.rcpts_sent, s.catch_all_probes - s0.catch_all_probes;
END
$$;
