-- Helpers of bench/run-prober-bench.sh, loaded into its own database (bench,
-- in the bench's throwaway cluster). Each reports through RAISE NOTICE lines
-- starting with PROBER_BENCH, which the script collects.
--
-- Addresses are at scripted domains of the test world, served by the bench's
-- private scripted server: alice, bob and info exist there (info@ is a role
-- account, which the verdict says), anyone else is unknown (550).

CREATE FUNCTION pb_expected(email text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE split_part(email, '@', 1) WHEN 'alice' THEN 'accepted' WHEN 'bob' THEN 'accepted'
                WHEN 'info' THEN 'role_account' ELSE 'mailbox_not_found' END
$$;

-- One application session's verify_emails() of n addresses at `domain`
-- (bob, then unknown users f<fig>s<session>x<k>): how many verdicts are
-- right, and how many were deferred by the politeness budget instead.
CREATE FUNCTION pb_session(fig int, session int, domain text, n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lst text[];
    t0 timestamptz := clock_timestamp();
    r record;
BEGIN
    SELECT array_agg(CASE WHEN k = 0 THEN 'bob' ELSE format('f%ss%sx%s', fig, session, k) END || '@' || domain ORDER BY k)
      INTO lst FROM generate_series(0, n - 1) k;
    SELECT count(*) AS total,
           count(*) FILTER (WHERE v.reason = pb_expected(v.email)) AS right_,
           count(*) FILTER (WHERE v.smtp_message LIKE 'not probed: the politeness budget%') AS deferred,
           coalesce(string_agg(DISTINCT v.reason, ',') FILTER (WHERE v.reason <> pb_expected(v.email)), '-') AS wrong_reasons
      INTO r FROM verify_emails(lst, 'smtp') v;
    RAISE NOTICE 'PROBER_BENCH fig=% session=% total=% right=% deferred=% wrong_reasons=% seconds=%',
        fig, session, r.total, r.right_, r.deferred, r.wrong_reasons,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric, 3);
END
$$;

-- Figure 3, backend A: n addresses at `domain` verified (and so cached in
-- the server's shared cache); alice, bob, info and unknown users c<k>.
CREATE FUNCTION pb_cache_prime(domain text, n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT count(*) AS total, count(*) FILTER (WHERE v.reason = pb_expected(v.email)) AS right_,
           count(*) FILTER (WHERE v.from_cache) AS cached
      INTO r
      FROM verify_emails(ARRAY(SELECT pb_cache_address(domain, k) FROM generate_series(0, n - 1) k), 'smtp') v;
    RAISE NOTICE 'PROBER_BENCH fig=3 phase=prime total=% right=% from_cache=% backend=%',
        r.total, r.right_, r.cached, pg_backend_pid();
END
$$;

CREATE FUNCTION pb_cache_address(domain text, k int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT (CASE k WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' WHEN 2 THEN 'info' ELSE 'c' || k END) || '@' || domain
$$;

CREATE TABLE pb_cache_samples (
    k int PRIMARY KEY,
    smtp_ms float8 NOT NULL,    -- verify_email(addr, 'smtp'): the first call for addr in this backend
    syntax_ms float8 NOT NULL,  -- verify_email(addr, 'syntax'), same iteration (the comparator)
    from_cache bool,
    right_ bool
);

-- Figure 3, backend B (another session, started after A's ended): each
-- address once, timed with clock_timestamp() around the call; then the same
-- address at level syntax in the same iteration. Only the calls are timed.
CREATE FUNCTION pb_cache_read(domain text, n int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    t2 timestamptz;
    addr text;
    v email_verify.result;
    hits0 bigint;
    hits1 bigint;
    r record;
BEGIN
    TRUNCATE pb_cache_samples;
    -- The backend's first call loads and sets up the prober: not timed.
    PERFORM verify_email('warm-up@' || domain, 'syntax');
    SELECT hits INTO hits0 FROM email_verify.prober_cache;
    FOR k IN 0 .. n - 1 LOOP
        addr := pb_cache_address(domain, k);
        t0 := clock_timestamp();
        v := verify_email(addr, 'smtp');
        t1 := clock_timestamp();
        PERFORM verify_email(addr, 'syntax');
        t2 := clock_timestamp();
        INSERT INTO pb_cache_samples VALUES (k, extract(epoch FROM t1 - t0) * 1000, extract(epoch FROM t2 - t1) * 1000,
                                             v.from_cache, v.reason = pb_expected(addr));
    END LOOP;
    SELECT hits INTO hits1 FROM email_verify.prober_cache;
    SELECT count(*) AS calls, count(*) FILTER (WHERE from_cache) AS cached, count(*) FILTER (WHERE right_) AS right_,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY smtp_ms) AS smtp_med,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY smtp_ms) AS smtp_p90,
           max(smtp_ms) AS smtp_max,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY syntax_ms) AS syntax_med
      INTO r FROM pb_cache_samples;
    RAISE NOTICE 'PROBER_BENCH fig=3 phase=read calls=% from_cache=% right=% smtp_median_ms=% smtp_p90_ms=% smtp_max_ms=% syntax_median_ms=% shared_hits=% backend=%',
        r.calls, r.cached, r.right_, round(r.smtp_med::numeric, 4), round(r.smtp_p90::numeric, 4),
        round(r.smtp_max::numeric, 3), round(r.syntax_med::numeric, 4), hits1 - hits0, pg_backend_pid();
END
$$;
