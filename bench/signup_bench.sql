-- Helpers of bench/run-signup-bench.sh, loaded into the bench database of its
-- own throwaway cluster. Every call is timed server-side (clock_timestamp()
-- around it, in plpgsql, with the statement written out so that its plan is
-- cached): what a signup costs the database, without the client's round
-- trip. Each procedure reports through RAISE NOTICE lines starting with
-- SIGNUP_BENCH, which the script collects.

-- One line for n per-call times (ms): median, p99 (the 99th of 100), max.
CREATE FUNCTION sb_report(fig int, run int, variant text, ms float8[], extra text DEFAULT '')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    med float8;
    p99 float8;
    mx float8;
BEGIN
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_disc(0.99) WITHIN GROUP (ORDER BY x), max(x)
    INTO med, p99, mx FROM unnest(ms) x;
    RAISE NOTICE 'SIGNUP_BENCH fig=% run=% variant=% user=% n=% median_ms=% p99_ms=% max_ms=% %', fig, run, variant,
        current_user, cardinality(ms), round(med::numeric, 4), round(p99::numeric, 4), round(mx::numeric, 4), extra;
END
$$;

CREATE FUNCTION sb_ms(t0 timestamptz) RETURNS float8 LANGUAGE sql VOLATILE AS $$
    SELECT extract(epoch FROM clock_timestamp() - t0)::float8 * 1000
$$;

-- Figure 1a: n calls of check_signup at level smtp against the tarpit (it
-- accepts the connection and never says a word), a fresh address each, with
-- a budget of budget_ms; against the floor of the same loop: pg_sleep of the
-- budget (n_floor calls).
CREATE PROCEDURE sb_fig1_tarpit(run int, n int, budget_ms int, n_floor int)
LANGUAGE plpgsql AS $$
DECLARE
    budget interval := make_interval(secs => budget_ms / 1000.0);
    t0 timestamptz;
    d email_verify.signup_decision;
    ms float8[] := '{}';
    floor_ms float8[] := '{}';
    spent int := 0;
    wrong int := 0;
BEGIN
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        d := email_verify.check_signup(format('t%s-%s@tarpit.test', run, i), 'default', 'smtp', budget);
        ms := ms || sb_ms(t0);
        spent := spent + d.budget_spent::int;
        wrong := wrong + (d.status IS DISTINCT FROM 'unknown' OR d.decision IS DISTINCT FROM 'accept')::int;
    END LOOP;
    PERFORM sb_report(1, run, 'tarpit', ms, format('budget_ms=%s budget_spent=%s wrong=%s', budget_ms, spent, wrong));
    FOR i IN 1..n_floor LOOP
        t0 := clock_timestamp();
        PERFORM pg_sleep(budget_ms / 1000.0);
        floor_ms := floor_ms || sb_ms(t0);
    END LOOP;
    PERFORM sb_report(1, run, 'tarpit_floor_pg_sleep', floor_ms, format('budget_ms=%s', budget_ms));
END
$$;

-- Figure 1b: the local Postfix, a fresh address each call (u0..u99 of one
-- l-domain, known users: a real mailbox verdict, never from the cache),
-- check_signup (level smtp, default budget) and verify_email(smtp)
-- alternately, n calls each.
CREATE PROCEDURE sb_fig1_postfix(run int, n int, domain text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    d email_verify.signup_decision;
    r email_verify.result;
    signup_ms float8[] := '{}';
    verify_ms float8[] := '{}';
    wrong int := 0;
    cached int := 0;
    spent int := 0;
BEGIN
    FOR i IN 0..n - 1 LOOP
        t0 := clock_timestamp();
        d := email_verify.check_signup(format('u%s@%s', 2 * i, domain));
        signup_ms := signup_ms || sb_ms(t0);
        wrong := wrong + (d.status IS DISTINCT FROM 'valid' OR d.decision IS DISTINCT FROM 'accept')::int;
        cached := cached + d.from_cache::int;
        spent := spent + d.budget_spent::int;
        t0 := clock_timestamp();
        r := verify_email(format('u%s@%s', 2 * i + 1, domain), 'smtp');
        verify_ms := verify_ms || sb_ms(t0);
        wrong := wrong + (r.status IS DISTINCT FROM 'valid')::int;
        cached := cached + r.from_cache::int;
    END LOOP;
    PERFORM sb_report(1, run, 'postfix_check_signup', signup_ms,
                      format('domain=%s wrong=%s from_cache=%s budget_spent=%s', domain, wrong, cached, spent));
    PERFORM sb_report(1, run, 'postfix_verify_email', verify_ms, format('domain=%s', domain));
END
$$;

-- Figure 2: a settled address asked again (the shared result cache), n calls
-- of check_signup (level smtp, default policy) and of verify_email at level
-- syntax (the reference: no network, no cache), interleaved.
CREATE PROCEDURE sb_fig2(run int, n int, address text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    d email_verify.signup_decision;
    r email_verify.result;
    signup_ms float8[] := '{}';
    syntax_ms float8[] := '{}';
    from_cache int := 0;
BEGIN
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        d := email_verify.check_signup(address);
        signup_ms := signup_ms || sb_ms(t0);
        from_cache := from_cache + d.from_cache::int;
        t0 := clock_timestamp();
        r := verify_email(address, 'syntax');
        syntax_ms := syntax_ms || sb_ms(t0);
    END LOOP;
    PERFORM sb_report(2, run, 'cached_check_signup', signup_ms,
                      format('from_cache=%s backend=%s', from_cache, pg_backend_pid()));
    PERFORM sb_report(2, run, 'verify_email_syntax', syntax_ms, format('backend=%s', pg_backend_pid()));
END
$$;

-- Figure 3: tables of the same shape, sync-watched under the default policy
-- at level dns and at level syntax, and one not watched.
CREATE FUNCTION sb_fig3_tables() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DROP TABLE IF EXISTS sb_dns, sb_syntax, sb_plain;
    CREATE TABLE sb_dns (id bigserial PRIMARY KEY, email text, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE sb_syntax (LIKE sb_dns INCLUDING ALL);
    CREATE TABLE sb_plain (LIKE sb_dns INCLUDING ALL);
    PERFORM email_verify.watch('sb_dns', 'email', level => 'dns', mode => 'sync', policy => 'default');
    PERFORM email_verify.watch('sb_syntax', 'email', level => 'syntax', mode => 'sync', policy => 'default');
    -- the same columns as the watched ones, without a watch
    ALTER TABLE sb_plain ADD COLUMN email_status text, ADD COLUMN email_reason text, ADD COLUMN email_catch_all boolean,
        ADD COLUMN email_verified_at timestamptz, ADD COLUMN email_decision text;
END
$$;

-- n single-row INSERTs into each table, interleaved, in one session; a fresh
-- address each (never in the result cache) on a domain whose route is
-- cached (warmed first).
CREATE PROCEDURE sb_fig3(run int, n int, domain text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    dns_ms float8[] := '{}';
    syntax_ms float8[] := '{}';
    plain_ms float8[] := '{}';
    wrong int;
BEGIN
    INSERT INTO sb_dns (email) VALUES (format('warm%s@%s', run, domain));
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        INSERT INTO sb_dns (email) VALUES (format('d%s-%s@%s', run, i, domain));
        dns_ms := dns_ms || sb_ms(t0);
        t0 := clock_timestamp();
        INSERT INTO sb_syntax (email) VALUES (format('s%s-%s@%s', run, i, domain));
        syntax_ms := syntax_ms || sb_ms(t0);
        t0 := clock_timestamp();
        INSERT INTO sb_plain (email) VALUES (format('p%s-%s@%s', run, i, domain));
        plain_ms := plain_ms || sb_ms(t0);
    END LOOP;
    SELECT count(*) INTO wrong FROM sb_dns
    WHERE email LIKE format('d%s-%%', run) AND (email_status, email_reason, email_decision) IS DISTINCT FROM ('valid', 'domain_ok', 'accept');
    PERFORM sb_report(3, run, 'insert_dns', dns_ms, format('domain=%s wrong=%s', domain, wrong));
    PERFORM sb_report(3, run, 'insert_syntax', syntax_ms, format('domain=%s', domain));
    PERFORM sb_report(3, run, 'insert_unwatched', plain_ms, format('domain=%s', domain));
END
$$;
