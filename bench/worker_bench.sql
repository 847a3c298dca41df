-- Helpers of bench/run-worker-bench.sh, loaded into the databases of its own
-- throwaway cluster (bench, and bench_scratch for the figure-1 profile). Each
-- function reports through RAISE NOTICE lines starting with WORKER_BENCH,
-- which the script collects.

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

-- Figure 1: the INSERT of the issue, n rows in one statement, into table
-- `tbl`, committed; the time includes the statement's AFTER triggers and the
-- COMMIT, as an autocommit INSERT's would. Runs as a procedure so that the
-- COMMIT is inside the measured interval.
CREATE PROCEDURE worker_insert(fig int, run int, variant text, state text, tbl text, n int)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    queued bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE format('INSERT INTO %I (id, email, name) SELECT g, %s, ''contact '' || g FROM generate_series(1, $1) g',
                   tbl, worker_address_sql('g', 100))
    USING n;
    COMMIT;
    t1 := clock_timestamp();
    SELECT count(*) INTO queued FROM email_verify.queue;
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=% state=% n=% seconds=% queued=%',
        fig, run, variant, state, n, round(extract(epoch FROM t1 - t0)::numeric, 4), queued;
END
$$;

-- Figure 1, watch() of a table that already holds its rows (the enqueue of
-- the existing rows is what is timed).
CREATE PROCEDURE worker_watch_timed(fig int, run int, variant text, state text, tbl text, lvl text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    queued bigint;
BEGIN
    t0 := clock_timestamp();
    PERFORM email_verify.watch(tbl::regclass, 'email', level => lvl, mode => 'async');
    COMMIT;
    t1 := clock_timestamp();
    SELECT count(*) INTO queued FROM email_verify.queue;
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=% state=% n=% seconds=% queued=%',
        fig, run, variant, state, queued, round(extract(epoch FROM t1 - t0)::numeric, 4), queued;
END
$$;

-- Worker memory samples (figure 4), one row per worker and poll.
CREATE TABLE worker_rss_samples (
    fig int NOT NULL,
    run int NOT NULL,
    variant text NOT NULL,
    t float8 NOT NULL,          -- seconds since the watch() call
    pid int NOT NULL,
    vm_rss_kb bigint,
    rss_anon_kb bigint,
    rss_file_kb bigint,
    rss_shmem_kb bigint,
    vm_hwm_kb bigint,
    verdicts bigint             -- worker_stats().verdicts_written at that poll
);

CREATE FUNCTION worker_proc_field(status text, field text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(status FROM field || ':\s*(\d+)')::bigint
$$;

-- Figures 2-4: watch(tbl, 'email', level => lvl, mode => 'async') on a table
-- that holds n rows, then poll every `poll_s` (committing between polls, so
-- no snapshot is held against the queue's cleanup) until the workers have
-- written n verdicts (worker_stats(), shared memory: no table is read while
-- draining), the queue holds nothing of this watch, and no row is left
-- without a verdict; at most timeout_s. Each poll samples /proc/<pid>/status
-- of every email_verify worker (VmRSS, RssAnon/File/Shmem, VmHWM).
-- Reports: the time watch() took (the enqueue), the time until done, the
-- verdicts that differ from (expect_status, expect_reason), batches, and the
-- workers' memory.
CREATE PROCEDURE worker_drain(fig int, run int, variant text, tbl text, lvl text,
                              expect_status text, expect_reason text,
                              timeout_s float8, poll_s float8 DEFAULT 0.05)
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
    SELECT verdicts_written, batches, retries_scheduled INTO v0, b0, r0 FROM email_verify.worker_stats();
    SELECT count(*) INTO workers FROM pg_stat_activity WHERE backend_type = 'email_verify worker';
    t0 := clock_timestamp();
    PERFORM email_verify.watch(tbl::regclass, 'email', level => lvl, mode => 'async');
    COMMIT;   -- wakes the workers
    t_watch := clock_timestamp();
    -- the script held autovacuum of the queue off until watch() (see prepare
    -- in run-worker-bench.sh); from here on it is as usual
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
                        worker_proc_field(st, 'VmHWM'), v - v0);
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
           max(vm_hwm_kb) AS hwm, count(*) AS samples,
           (SELECT string_agg(format('%s:%s->%s', x.pid, x.first_anon, x.last_anon), ',')
              FROM (SELECT DISTINCT pid,
                           first_value(rss_anon_kb) OVER (PARTITION BY pid ORDER BY t) AS first_anon,
                           first_value(rss_anon_kb) OVER (PARTITION BY pid ORDER BY t DESC) AS last_anon
                      FROM worker_rss_samples r
                     WHERE r.fig = worker_drain.fig AND r.run = worker_drain.run AND r.variant = worker_drain.variant) x)
               AS anon_growth
    INTO p FROM worker_rss_samples WHERE worker_rss_samples.fig = worker_drain.fig
        AND worker_rss_samples.run = worker_drain.run AND worker_rss_samples.variant = worker_drain.variant;
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=% level=% workers=% batch_size=% n=% complete=% watch_seconds=% seconds=% last_verdict_seconds=% verdicts=% unverified=% left_in_queue=% wrong=% batches=% retries=% p50_ms=% max_rss_kb=% max_rss_anon_kb=% max_rss_shmem_kb=% max_rss_file_kb=% hwm_kb=% rss_samples=% anon_first_last_kb=% wrong_kinds=%',
        fig, run, variant, lvl, workers, current_setting('email_verify.worker_batch_size'), n, done::int,
        round(extract(epoch FROM t_watch - t0)::numeric, 4), round(extract(epoch FROM t_done - t0)::numeric, 4),
        round(last_verdict::numeric, 4), s.verdicts_written - v0, unverified, left_items, wrong,
        s.batches - b0, s.retries_scheduled - r0, s.latency_p50_ms,
        p.rss, p.anon, p.shmem, p.file, p.hwm, p.samples, coalesce(p.anon_growth, '-'), wrong_kinds;
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

-- Figure 1's profile: puts a scratch database (only bench_scratch, a fresh
-- copy of the extension made for this) into one variant of the async path,
-- to see where the time of a watched INSERT goes. Changes extension objects:
-- never run it in a database that matters.
--   plain          the table as the user had it (no verdict columns)
--   columns        watched then unwatched: the verdict columns and the
--                  <col>_verified_at index stay, no triggers
--   shipped        watched, as released
--   capture_only   watched, the statement trigger's body does nothing (the
--                  transition table is still captured)
--   wake_only      watched, the AFTER INSERT statement trigger has no
--                  transition table and only wakes the workers (as if the
--                  worker found unverified rows through the <col>_verified_at
--                  index itself)
--   no_fk          shipped without the queue's foreign key to watches
--   no_fk_no_row_idx   no_fk without queue_row_idx
--   pkey_only      no_fk without queue_row_idx, queue_claimed_idx and
--                  queue_pending_idx: what a queue row costs at the least
--                  (not a proposal: claim_batch needs queue_pending_idx)
--   seqscan_off    shipped, with SET enable_seqscan = off on watch_enqueue()
--                  and watch(): their anti-joins against the queue then
--                  cannot become a sequential scan of the queue per row
--   fresh_watch    shipped, with watch() queuing a new watch's rows through
--                  enqueue_sql(..., fresh => true) (no anti-join: a new
--                  watch has no items), as the INSERT trigger already does
CREATE FUNCTION worker_apply_variant(variant text, tbl text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    def text;
    patched text;
BEGIN
    IF current_database() <> 'bench_scratch' THEN
        RAISE EXCEPTION 'worker_apply_variant changes the extension: only in bench_scratch';
    END IF;
    IF variant = 'plain' THEN
        RETURN;
    END IF;
    IF variant = 'fresh_watch' THEN
        def := pg_get_functiondef('email_verify.watch(regclass, name, text, text, boolean, interval)'::regprocedure);
        patched := replace(def, 'tbl::text, enqueue_condition)', 'tbl::text, enqueue_condition, fresh => old.id IS NULL)');
        IF patched = def THEN
            RAISE EXCEPTION 'fresh_watch: the enqueue call of watch() was not found (the code changed?)';
        END IF;
        EXECUTE patched;
        RETURN;  -- the caller watches
    END IF;
    PERFORM email_verify.watch(tbl::regclass, 'email', level => 'dns', mode => 'async');
    CASE variant
    WHEN 'shipped' THEN
        NULL;
    WHEN 'columns' THEN
        PERFORM email_verify.unwatch(tbl::regclass, 'email');
    WHEN 'capture_only' THEN
        CREATE OR REPLACE FUNCTION email_verify.watch_enqueue() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, email_verify, pg_temp
        AS 'BEGIN RETURN NULL; END';
    WHEN 'wake_only' THEN
        CREATE OR REPLACE FUNCTION public.worker_wake_only() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, email_verify, pg_temp
        AS 'BEGIN PERFORM email_verify.wake_workers_at_commit(); RETURN NULL; END';
        EXECUTE format('DROP TRIGGER email_verify_email_enqueue_insert ON %I', tbl);
        EXECUTE format('CREATE TRIGGER email_verify_email_enqueue_insert AFTER INSERT ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION public.worker_wake_only()', tbl);
    WHEN 'no_fk', 'no_fk_no_row_idx', 'pkey_only' THEN
        ALTER TABLE email_verify.queue DROP CONSTRAINT queue_watch_id_fkey;
        IF variant <> 'no_fk' THEN
            DROP INDEX email_verify.queue_row_idx;
        END IF;
        IF variant = 'pkey_only' THEN
            DROP INDEX email_verify.queue_claimed_idx;
            DROP INDEX email_verify.queue_pending_idx;
        END IF;
    WHEN 'seqscan_off' THEN
        ALTER FUNCTION email_verify.watch_enqueue() SET enable_seqscan = off;
        ALTER FUNCTION email_verify.watch(regclass, name, text, text, boolean, interval) SET enable_seqscan = off;
    ELSE
        RAISE EXCEPTION 'unknown variant %', variant;
    END CASE;
END
$$;

-- Figure 1's profile: an UPDATE that changes every address of `tbl` (the
-- watched path clears the verdict per row and queues the rows with the
-- anti-join against the queue), committed.
CREATE PROCEDURE worker_update_timed(fig int, run int, variant text, state text, tbl text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    n bigint;
    queued bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE format('UPDATE %I SET email = ''v'' || email', tbl);
    GET DIAGNOSTICS n = ROW_COUNT;
    COMMIT;
    t1 := clock_timestamp();
    SELECT count(*) INTO queued FROM email_verify.queue;
    RAISE NOTICE 'WORKER_BENCH fig=% run=% variant=% state=% n=% seconds=% queued=%',
        fig, run, variant, state, n, round(extract(epoch FROM t1 - t0)::numeric, 4), queued;
END
$$;

-- Figure 2's INFO variant, applied to the bench database at the very end of
-- the run (after every as-released figure) and taken back between the
-- drains it is compared with: watch_enqueue()'s UPDATE path returns at once
-- when no row of the statement is left without a verdict (the worker's
-- write-back: apply_verdicts' UPDATE sets <col>_verified_at on every row it
-- touches, so there is nothing to queue), instead of running the whole
-- enqueue statement (the superseded-item DELETE and the anti-join against
-- the queue) for every batch. enable => false puts the released definition
-- back. Refuses unless the session says SET worker_bench.patch_ok = on.
CREATE TABLE worker_saved_defs (name text PRIMARY KEY, def text NOT NULL);

CREATE FUNCTION worker_patch_update_early_return(enable boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    def text;
    patched text;
BEGIN
    IF current_setting('worker_bench.patch_ok', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'worker_patch_update_early_return changes the extension: SET worker_bench.patch_ok = on first';
    END IF;
    INSERT INTO worker_saved_defs
    VALUES ('watch_enqueue', pg_get_functiondef('email_verify.watch_enqueue()'::regprocedure))
    ON CONFLICT (name) DO NOTHING;
    SELECT d.def INTO def FROM worker_saved_defs d WHERE d.name = 'watch_enqueue';
    IF NOT enable THEN
        EXECUTE def;
        RETURN;
    END IF;
    patched := replace(def, E'    ELSE\n        -- Old and new rows',
        E'    ELSE\n'
        '        EXECUTE format(''SELECT NOT EXISTS (SELECT FROM new_rows n WHERE n.%s IS NULL)'', verified_at)\n'
        '        INTO all_verified;\n'
        '        IF all_verified THEN\n'
        '            RETURN NULL;\n'
        '        END IF;\n'
        '        -- Old and new rows');
    patched := replace(patched, E'    queued bigint;\n', E'    queued bigint;\n    all_verified boolean;\n');
    IF patched = def OR position('all_verified boolean' in patched) = 0 THEN
        RAISE EXCEPTION 'worker_patch_update_early_return: watch_enqueue() is not what it expects (the code changed?)';
    END IF;
    EXECUTE patched;
END
$$;
