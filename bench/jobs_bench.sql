-- Helpers of bench/run-jobs-bench.sh, loaded into the bench database of its
-- own throwaway cluster. Each reports through RAISE NOTICE lines starting
-- with JOBS_BENCH (key=value pairs), which the script collects.

-- The list of figures 1 and 5: n addresses over the lab domains
-- l0000..l0999.test (MX -> the world's Postfix), the domains interleaved so
-- that one claimed batch touches many domains; distinct addresses.
CREATE FUNCTION jb_make_list(tbl text, n int, prefix text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
    EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, email text NOT NULL)', tbl);
    EXECUTE format('INSERT INTO %I SELECT g, format(''%s%%s@l%%s.test'', g, lpad((g %% 1000)::text, 4, ''0'')) '
                   'FROM generate_series(1, $1) g', tbl, prefix)
    USING n;
    EXECUTE format('ANALYZE %I', tbl);
END
$$;

-- Figure 5's job: n addresses over n distinct domains the world does not
-- know, each a DNS query of its own (NXDOMAIN): a list that keeps the
-- workers busy for seconds, where jb_make_list's drains in a fraction of one.
CREATE FUNCTION jb_make_nx_list(tbl text, n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
    EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, email text NOT NULL)', tbl);
    EXECUTE format('INSERT INTO %I SELECT g, format(''u%%s@nx%%s.test'', g, g) FROM generate_series(1, $1) g', tbl)
    USING n;
    EXECUTE format('ANALYZE %I', tbl);
END
$$;

-- Everything the prober remembers forgotten (verdicts, MX routes, catch-all
-- answers), so that the next run resolves cold; result_ttl is 0 in the
-- cluster's configuration as well, for the workers.
CREATE FUNCTION jb_cold() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM email_verify.clear_cache();
END
$$;

-- Figure 1's comparator: one verify_emails call over the list, cold.
CREATE PROCEDURE jb_verify_emails(fig int, run int, workers int, tbl text, level text)
LANGUAGE plpgsql AS $$
DECLARE
    list text[];
    t0 timestamptz;
    t1 timestamptz;
    n bigint;
    statuses text;
BEGIN
    EXECUTE format('SELECT array_agg(email ORDER BY id) FROM %I', tbl) INTO list;
    PERFORM jb_cold();
    SET LOCAL email_verify.result_ttl = 0;
    t0 := clock_timestamp();
    CREATE TEMP TABLE jb_out ON COMMIT DROP AS SELECT * FROM email_verify.verify_emails(list, level);
    t1 := clock_timestamp();
    SELECT sum(c), string_agg(format('%s/%s:%s', status, reason, c), ',' ORDER BY c DESC)
    INTO n, statuses
    FROM (SELECT status, reason, count(*) AS c FROM jb_out GROUP BY 1, 2) s;
    RAISE NOTICE 'JOBS_BENCH fig=% run=% kind=verify_emails workers=% n=% seconds=% verdicts=%',
        fig, run, workers, n, round(extract(epoch FROM t1 - t0)::numeric, 3), statuses;
END
$$;

-- Submits a job of the list (cold), returns its id; the submission's own
-- time is reported. The list is read into an array first, as the
-- comparator's is, and the job is timed from the submit_job call
-- (jb_submitted), not from its transaction's start.
CREATE TABLE jb_submitted (job bigint PRIMARY KEY, submitted_at timestamptz NOT NULL);
CREATE FUNCTION jb_submit(fig int, run int, tbl text, level text, url text DEFAULT NULL, secret text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    list text[];
    t0 timestamptz;
    id bigint;
BEGIN
    EXECUTE format('SELECT array_agg(email ORDER BY id) FROM %I', tbl) INTO list;
    PERFORM jb_cold();
    t0 := clock_timestamp();
    id := email_verify.submit_job(list, url, secret, level);
    INSERT INTO jb_submitted VALUES (id, t0);
    RAISE NOTICE 'JOBS_BENCH fig=% run=% kind=submit job=% seconds=%',
        fig, run, id, round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3);
    RETURN id;
END
$$;

-- Waits (at most timeout_s) for a job to finish; reports it: submit to
-- finished_at (jb_submitted, else created_at: the submitting transaction's
-- start), its verdicts by status/reason.
CREATE PROCEDURE jb_wait_job(fig int, run int, workers int, job bigint, timeout_s int)
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
    s record;
    t0 timestamptz;
BEGIN
    LOOP
        SELECT * INTO s FROM email_verify.job_status(job);
        EXIT WHEN s.state NOT IN ('queued', 'running') OR clock_timestamp() > deadline;
        COMMIT;  -- a fresh snapshot for the next look
        PERFORM pg_sleep(0.05);
    END LOOP;
    t0 := coalesce((SELECT submitted_at FROM jb_submitted WHERE jb_submitted.job = jb_wait_job.job), s.created_at);
    RAISE NOTICE 'JOBS_BENCH fig=% run=% kind=job workers=% job=% state=% n=% processed=% seconds=% started_after=% verdicts=%',
        fig, run, workers, job, s.state, s.total, s.processed,
        coalesce(round(extract(epoch FROM s.finished_at - t0)::numeric, 3), -1),
        coalesce(round(extract(epoch FROM s.started_at - t0)::numeric, 3), -1),
        (SELECT string_agg(format('%s:%s', key, value), ',' ORDER BY value::bigint DESC)
         FROM jsonb_each_text(s.reasons));
END
$$;

-- Figure 5: a watched table at level dns; written_at is set by a trigger of
-- ours when the worker's write-back gives the row its verdict, so that the
-- latency measured is the one a reader of the table sees (the verdict's own
-- time, <col>_verified_at, is reported too).
CREATE FUNCTION jb_watched_table(tbl text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', tbl);
    EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, email text, inserted_at timestamptz, written_at timestamptz, '
                   'during_job boolean)', tbl);
    PERFORM email_verify.watch(tbl::regclass, 'email', level => 'dns', mode => 'async');
    EXECUTE format('CREATE TRIGGER jb_written BEFORE UPDATE ON %I FOR EACH ROW '
                   'WHEN (OLD.email_status IS NULL AND NEW.email_status IS NOT NULL) EXECUTE FUNCTION jb_stamp()', tbl);
END
$$;
CREATE FUNCTION jb_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.written_at := clock_timestamp();
    RETURN NEW;
END
$$;

-- n rows, one committed INSERT every gap_s seconds, addresses over the lab
-- domains (prefix keeps them apart from every other list's).
CREATE PROCEDURE jb_trickle(tbl text, n int, gap_s float8, prefix text, job bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        -- during_job: whether the job (if any) was still running at the insert.
        EXECUTE format('INSERT INTO %I (id, email, inserted_at, during_job) VALUES ($1, $2, clock_timestamp(), '
                       '(SELECT state = ''running'' FROM email_verify_internal.jobs WHERE id = $3))', tbl)
        USING i, format('%s%s@l%s.test', prefix, i, lpad(((i * 37) % 1000)::text, 4, '0')), job;
        COMMIT;
        PERFORM pg_sleep(gap_s);
    END LOOP;
END
$$;

-- Waits (at most timeout_s) until every row of tbl has its verdict, then
-- reports the latencies (seconds, insert to write-back, and insert to the
-- verdict's own time): p50, p95, max.
CREATE PROCEDURE jb_watched_report(fig int, run int, variant text, tbl text, timeout_s int)
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_s);
    missing bigint;
    inserted bigint;
    r record;
BEGIN
    LOOP
        EXECUTE format('SELECT count(*) FROM %I WHERE written_at IS NULL', tbl) INTO missing;
        EXIT WHEN missing = 0 OR clock_timestamp() > deadline;
        COMMIT;
        PERFORM pg_sleep(0.1);
    END LOOP;
    -- Rows inserted while a job ran, when there was one; else all.
    EXECUTE format($q$
        SELECT count(*) AS n, count(written_at) AS verified,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM written_at - inserted_at)) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM written_at - inserted_at)) AS p95,
               max(extract(epoch FROM written_at - inserted_at)) AS max,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM email_verified_at - inserted_at)) AS v95,
               string_agg(DISTINCT email_status || '/' || email_reason, ',') AS verdicts
        FROM %I WHERE during_job IS NOT FALSE$q$, tbl) INTO r;
    EXECUTE format('SELECT count(*) FROM %I', tbl) INTO inserted;
    RAISE NOTICE 'JOBS_BENCH fig=% run=% kind=watched variant=% inserted=% n=% verified=% p50=% p95=% max=% verdict_p95=% verdicts=%',
        fig, run, variant, inserted, r.n, r.verified, round(r.p50::numeric, 3), round(r.p95::numeric, 3),
        round(r.max::numeric, 3), round(r.v95::numeric, 3), r.verdicts;
END
$$;
