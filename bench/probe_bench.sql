-- Helpers of bench/run-probe-bench.sh, loaded into its own database
-- (ev_probe_bench, dropped at the end). Each function reports through
-- RAISE NOTICE lines starting with PROBE_BENCH, which the script collects.
--
-- bench_list(fig, i, e, expect_status, expect_reason): the address lists,
-- loaded by the script with COPY; i is the position in the list.

CREATE TABLE bench_list (
    fig int NOT NULL,
    i int NOT NULL,
    e text NOT NULL,
    expect_status text NOT NULL,
    expect_reason text NOT NULL,
    PRIMARY KEY (fig, i)
);

-- Per-call durations of figure 3 (one row per timed call).
CREATE TABLE latency_samples (
    run int NOT NULL,
    variant text NOT NULL,
    call int NOT NULL,
    smtp_ms float8 NOT NULL,     -- verify_email(addr, 'smtp')
    syntax_ms float8 NOT NULL,   -- verify_email(addr, 'syntax'), same iteration
    status text,
    reason text,
    from_cache bool
);

-- One verify_emails call over bench_list for figure `f` at `lvl`, in a fresh
-- prober state (clear_cache(), result_ttl = 0). Only the call itself is
-- timed; the verdicts are compared with the expected ones afterwards.
CREATE FUNCTION bench_batch(f int, lvl text, run int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lst text[];
    st text[];
    rs text[];
    t0 timestamptz;
    t1 timestamptz;
    n int;
    wrong int;
    wrong_kinds text;
    s0 record;
    s record;
BEGIN
    PERFORM set_config('email_verify.result_ttl', '0', true);
    SELECT array_agg(e ORDER BY i) INTO lst FROM bench_list WHERE fig = f;
    PERFORM email_verify.clear_cache();
    SELECT * INTO s0 FROM email_verify.prober_stats();
    t0 := clock_timestamp();
    SELECT array_agg(v.status), array_agg(v.reason) INTO st, rs FROM verify_emails(lst, lvl) AS v;
    t1 := clock_timestamp();
    SELECT * INTO s FROM email_verify.prober_stats();  -- counters of this backend: the deltas below
    SELECT count(*),
           count(*) FILTER (WHERE (r.status, r.reason) IS DISTINCT FROM (b.expect_status, b.expect_reason))
      INTO n, wrong
      FROM unnest(st, rs) WITH ORDINALITY AS r(status, reason, ord)
      JOIN bench_list b ON b.fig = f AND b.i = r.ord;
    SELECT coalesce(string_agg(format('%s/%s->%s/%s:%s', es, er, gs, gr, c), ',' ORDER BY c DESC), '-')
      INTO wrong_kinds
      FROM (SELECT b.expect_status es, b.expect_reason er, r.status gs, r.reason gr, count(*) c
              FROM unnest(st, rs) WITH ORDINALITY AS r(status, reason, ord)
              JOIN bench_list b ON b.fig = f AND b.i = r.ord
             WHERE (r.status, r.reason) IS DISTINCT FROM (b.expect_status, b.expect_reason)
             GROUP BY 1, 2, 3, 4) w;
    RAISE NOTICE 'PROBE_BENCH fig=% run=% n=% seconds=% wrong=% sessions=% rcpts=% max_per_host=% catch_all_probes=% tls=% wrong_kinds=%',
        f, run, n, round(extract(epoch FROM t1 - t0)::numeric, 4), wrong, s.sessions_opened - s0.sessions_opened,
        s.rcpts_sent - s0.rcpts_sent, s.max_sessions_per_host, s.catch_all_probes - s0.catch_all_probes,
        s.tls_sessions - s0.tls_sessions, wrong_kinds;
END
$$;

-- Figure 3: single verify_email() calls, each timed with clock_timestamp(),
-- followed in the same iteration by verify_email(addr, 'syntax') (the
-- comparator: what the call costs without the network). A variant stops
-- after n calls or once `budget` seconds have gone by, whichever is first.
--
--   warm         result_ttl 1h, one address verified once beforehand: every
--                timed call is a result-cache hit
--   cold         clear_cache() before each call (not timed), a distinct
--                domain per call (l0000..l0199): DNS + catch-all RCPT + RCPT
--   route        result_ttl 0, one domain per run looked up beforehand:
--                DNS cached; catch-all RCPT + RCPT (result_ttl 0 also
--                disables the catch-all cache)
--   route_ca     result_ttl 1h, one domain per run probed beforehand, a
--                distinct user per call: route and catch-all cached; 1 RCPT
--   cold_unknown as cold, with unknown users (550 at RCPT): no accepted RCPT
CREATE FUNCTION bench_latency(run int, variant text, n int, budget float8) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
    addr text;
    dom text;
    t0 timestamptz;
    t1 timestamptz;
    t2 timestamptz;
    r email_verify.result;
    k int := 0;
BEGIN
    IF variant IN ('warm', 'route_ca') THEN
        PERFORM set_config('email_verify.result_ttl', '3600', true);
    ELSE
        PERFORM set_config('email_verify.result_ttl', '0', true);
    END IF;
    PERFORM email_verify.clear_cache();
    -- the primer (not timed)
    IF variant = 'warm' THEN
        PERFORM verify_email('u1@l0900.test', 'smtp');
    ELSIF variant = 'route' THEN
        PERFORM verify_email('u99@' || format('l%s.test', lpad((300 + run)::text, 4, '0')), 'smtp');
    ELSIF variant = 'route_ca' THEN
        PERFORM verify_email('u99@' || format('l%s.test', lpad((400 + run)::text, 4, '0')), 'smtp');
    END IF;
    WHILE k < n AND extract(epoch FROM clock_timestamp() - started) < budget LOOP
        IF variant = 'warm' THEN
            addr := 'u1@l0900.test';
        ELSIF variant = 'cold' THEN
            PERFORM email_verify.clear_cache();
            addr := format('u%s@l%s.test', k % 100, lpad(((run * 40 + k) % 200)::text, 4, '0'));
        ELSIF variant = 'cold_unknown' THEN
            PERFORM email_verify.clear_cache();
            addr := format('nobody%s@l%s.test', k, lpad((200 + (run * 40 + k) % 100)::text, 4, '0'));
        ELSIF variant = 'route' THEN
            addr := format('u%s@l%s.test', k % 99, lpad((300 + run)::text, 4, '0'));
        ELSIF variant = 'route_ca' THEN
            addr := format('u%s@l%s.test', k % 99, lpad((400 + run)::text, 4, '0'));
        ELSE
            RAISE EXCEPTION 'unknown variant %', variant;
        END IF;
        t0 := clock_timestamp();
        r := verify_email(addr, 'smtp');
        t1 := clock_timestamp();
        PERFORM verify_email(addr, 'syntax');
        t2 := clock_timestamp();
        INSERT INTO latency_samples
        VALUES (run, variant, k, extract(epoch FROM t1 - t0) * 1000, extract(epoch FROM t2 - t1) * 1000,
                r.status, r.reason, r.from_cache);
        k := k + 1;
    END LOOP;
END
$$;

-- The medians of figure 3 over all runs, one PROBE_BENCH line per variant.
CREATE FUNCTION bench_latency_report() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    FOR v IN
        SELECT variant, count(*) AS calls, count(DISTINCT run) AS runs,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY smtp_ms) AS smtp_med,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY smtp_ms) AS smtp_p90,
               min(smtp_ms) AS smtp_min, max(smtp_ms) AS smtp_max,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY syntax_ms) AS syntax_med,
               count(*) FILTER (WHERE variant IN ('warm') AND NOT from_cache) AS not_cached,
               count(*) FILTER (WHERE variant NOT IN ('warm') AND from_cache) AS cached,
               count(*) FILTER (WHERE (variant = 'cold_unknown' AND (status, reason) IS DISTINCT FROM ('invalid', 'mailbox_not_found'))
                                   OR (variant <> 'cold_unknown' AND (status, reason) IS DISTINCT FROM ('valid', 'accepted'))) AS wrong,
               string_agg(DISTINCT status || '/' || reason, ',') AS verdicts
          FROM latency_samples GROUP BY variant
    LOOP
        RAISE NOTICE 'PROBE_BENCH fig=3 variant=% calls=% runs=% smtp_median_ms=% smtp_p90_ms=% smtp_min_ms=% smtp_max_ms=% syntax_median_ms=% wrong=% unexpected_cache=% verdicts=%',
            v.variant, v.calls, v.runs, round(v.smtp_med::numeric, 4), round(v.smtp_p90::numeric, 4),
            round(v.smtp_min::numeric, 4), round(v.smtp_max::numeric, 4), round(v.syntax_med::numeric, 4),
            v.wrong, v.not_cached + v.cached, v.verdicts;
    END LOOP;
    FOR v IN
        SELECT variant, run, count(*) AS calls,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY smtp_ms) AS smtp_med,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY syntax_ms) AS syntax_med
          FROM latency_samples GROUP BY variant, run ORDER BY variant, run
    LOOP
        RAISE NOTICE 'PROBE_BENCH_RUN fig=3 variant=% run=% calls=% smtp_median_ms=% syntax_median_ms=%',
            v.variant, v.run, v.calls, round(v.smtp_med::numeric, 4), round(v.syntax_med::numeric, 4);
    END LOOP;
END
$$;
