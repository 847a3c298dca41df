-- Probers on other machines: the email-verify-prober program (src/prober/)
-- claims work from the same queue as the in-server workers (watched rows and
-- bulk jobs), probes with no transaction open, and writes its verdicts back
-- through the functions below, protocol 1. It logs in as a member of
-- email_verify_remote_prober, and may do nothing else: every function is
-- SECURITY DEFINER and checks that the prober it names is the calling
-- login's own.
--
-- Nothing is done twice and nothing is lost: a claim is a lease (as the
-- workers' are); a prober killed or cut off loses its leases and its items
-- are claimed again; and a report is fenced: a verdict is written only for an
-- item the prober still holds (claimed_by, a job claim of its own), so one
-- that comes back after its leases ran out writes nothing over a newer
-- verdict. Its verdicts are then counted as stale in its row.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'email_verify_remote_prober') THEN
        CREATE ROLE email_verify_remote_prober NOLOGIN;
        COMMENT ON ROLE email_verify_remote_prober IS
            'members log in as email-verify-prober programs: they claim work and report verdicts, nothing else';
    END IF;
END
$$;

-- One row per prober that said hello. The ids start at 1000: the in-server
-- workers claim as their slot (0 to 15), in the same columns.
CREATE SEQUENCE email_verify_internal.probers_id_seq AS int START 1000;
CREATE TABLE email_verify_internal.probers (
    id            int PRIMARY KEY DEFAULT nextval('email_verify_internal.probers_id_seq'),
    name          text NOT NULL,
    host          text NOT NULL,
    version       text NOT NULL,
    login         name NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    in_flight     int NOT NULL DEFAULT 0,
    verdicts      bigint NOT NULL DEFAULT 0,
    stale         bigint NOT NULL DEFAULT 0,
    -- verdicts in the calendar minute minute_start, and in the one before
    minute_start  timestamptz NOT NULL DEFAULT date_trunc('minute', now()),
    this_minute   int NOT NULL DEFAULT 0,
    last_minute   int NOT NULL DEFAULT 0,
    last_error    text,
    last_error_at timestamptz,
    stopped_at    timestamptz
);
ALTER SEQUENCE email_verify_internal.probers_id_seq OWNED BY email_verify_internal.probers.id;

-- Politeness across machines (src/pg/domain_leases.h): a domain is probed
-- at level smtp by one claimer at a time, the in-server workers together
-- (holder -1) or a prober (its id), from its claim until the claimer holds
-- none of its items any more, or its claim's lease ends; the others put its
-- items back until then. workers: for the in-server workers' lease, the
-- slots of those whose batch holds it (it ends when the last is done; a
-- prober says itself when it is done).
CREATE TABLE email_verify_internal.domain_leases (
    domain      text COLLATE "C" PRIMARY KEY,
    holder      int NOT NULL,
    lease_until timestamptz NOT NULL,
    workers     int[] NOT NULL DEFAULT '{}'
);
CREATE INDEX domain_leases_holder_idx ON email_verify_internal.domain_leases (holder);

-- The prober of this id, if it is the calling login's and still running; else an error.
CREATE FUNCTION email_verify_internal.own_prober(prober int)
RETURNS int
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM email_verify_internal.probers p
                   WHERE p.id = prober AND p.login = session_user AND p.stopped_at IS NULL) THEN
        RAISE EXCEPTION 'email_verify prober % is not a running prober of this login', prober
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A prober says prober_hello first.';
    END IF;
    RETURN prober;
END
$$;

-- The handshake. A prober of another protocol is refused with a message
-- that says both sides' versions, before it can claim or write anything.
-- settings: the server's email_verify.* settings the prober follows unless
-- its own configuration says otherwise (none that may hold a secret).
CREATE FUNCTION email_verify.prober_hello(name text, host text, version text, protocol int,
    OUT prober_id int, OUT extension_version text, OUT settings jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ours CONSTANT int := 1;
BEGIN
    SELECT e.extversion INTO extension_version FROM pg_extension e WHERE e.extname = 'email_verify';
    IF protocol IS DISTINCT FROM ours THEN
        RAISE EXCEPTION 'email-verify-prober % speaks protocol %; the extension email_verify % speaks protocol %',
            version, protocol, extension_version, ours
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Run the email-verify-prober of the same release as the extension.';
    END IF;
    IF coalesce(name, '') = '' OR coalesce(host, '') = '' THEN
        RAISE EXCEPTION 'a prober needs a name and a host' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The settings are the module's: load it (a C function does).
    PERFORM email_verify_internal.claim_limit();
    INSERT INTO email_verify_internal.probers (name, host, version, login)
    VALUES (name, host, version, session_user) RETURNING id INTO prober_id;
    SELECT jsonb_object_agg(s.name, s.setting) INTO settings
    FROM pg_settings s
    WHERE s.name LIKE 'email\_verify.%'
      AND s.name NOT IN ('email_verify.socks5_proxy', 'email_verify.source_addresses', 'email_verify.database');
END
$$;

-- Up to batch_size items for the prober, leased for lease_seconds: watched
-- rows first, then bulk jobs in what is left (never less than a quarter of
-- the batch), as the in-server workers share them. kind 'row': item is the
-- queue item; kind 'job': job_id and address (its ordinal), and claim the
-- job claim (range) it belongs to, NULL for a retry. The claim also counts
-- as the prober's heartbeat.
CREATE FUNCTION email_verify.prober_claim(prober_id int, batch_size int, lease_seconds int DEFAULT 300)
RETURNS TABLE(kind text, item bigint, job_id bigint, address int, email text, level text, attempts int,
              claim bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me int := email_verify_internal.own_prober(prober_id);
    rows_claimed int;
    jobs_claimed int;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 OR lease_seconds IS NULL OR lease_seconds < 1 THEN
        RAISE EXCEPTION 'batch_size and lease_seconds must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE email_verify_internal.probers SET heartbeat_at = now() WHERE id = me;
    RETURN QUERY
    SELECT 'row', c.queue_id, NULL::bigint, NULL::int, c.email, c.level, c.attempts, NULL::bigint
    FROM email_verify_internal.claim_batch(me, batch_size, make_interval(secs => lease_seconds)) c;
    GET DIAGNOSTICS rows_claimed = ROW_COUNT;
    RETURN QUERY
    SELECT 'job', NULL::bigint, j.job_id, j.address, j.email, j.level, j.attempts, j.claim
    FROM email_verify_internal.claim_job_batch(me, greatest(batch_size - rows_claimed, batch_size / 4),
                                               lease_seconds) j;
    GET DIAGNOSTICS jobs_claimed = ROW_COUNT;
    -- What it holds now, for the probers view (its report sets it back).
    UPDATE email_verify_internal.probers SET in_flight = rows_claimed + jobs_claimed WHERE id = me;
END
$$;

-- The job items' side of prober_claim (src/pg/job_claims.cpp, as the workers claim).
CREATE FUNCTION email_verify_internal.claim_job_batch(worker_id int, max_items int, lease_seconds int)
RETURNS TABLE(job_id bigint, address int, email text, level text, attempts int, claim bigint)
AS 'MODULE_PATHNAME', 'claim_job_batch'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

-- Job verdicts written (src/pg/job_items.cpp), and job addresses put back.
CREATE FUNCTION email_verify_internal.settle_job_batch(job_ids bigint[], addresses int[], from_retry boolean[],
                                                       results email_verify.result[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'settle_job_batch'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION email_verify_internal.retry_job_batch(job_ids bigint[], addresses int[], attempts int[],
                                                      delays float8[])
RETURNS void
AS 'MODULE_PATHNAME', 'retry_job_batch'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION email_verify_internal.end_job_batch(worker_id int, claims bigint[])
RETURNS void
AS 'MODULE_PATHNAME', 'end_job_batch'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION email_verify_internal.release_job_batch(worker_id int)
RETURNS void
AS 'MODULE_PATHNAME', 'release_job_batch'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;

-- What a prober found, written back (fenced: see the top of this file).
-- report, a jsonb object (every key optional):
--   rows:        [{queue_id, status, reason, catch_all, checked_at, level}]  final verdicts of watched rows
--   row_retries: [{queue_id, reason, delay, deferred}]   back to the queue after delay seconds, one attempt
--                                                         more (none when deferred: not probed, politeness)
--   jobs:        [{job_id, address, from_retry, result}]  final verdicts of job addresses (result: an
--                                                         email_verify.result as JSON, its email the key probed)
--   job_retries: [{job_id, address, attempts, delay}]     back as retries, with the attempts they now have
--   claims:      [claim, ...]                             job claims whose batch is done
--   domains_done: [domain, ...]                          domains of which it holds no item any more:
--                                                         their leases end
--   in_flight, error                                      for the prober's row
-- Returns {written, stale}: verdicts written, and those refused because the
-- prober no longer held their item.
CREATE FUNCTION email_verify.prober_report(prober_id int, report jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me int := email_verify_internal.own_prober(prober_id);
    rows_json jsonb;
    row_count int;
    rows_sent int := jsonb_array_length(coalesce(report->'rows', '[]'));
    rows_written int := 0;
    jobs_sent int := jsonb_array_length(coalesce(report->'jobs', '[]'));
    jobs_written int := 0;
    job_inputs bigint := 0;
    held_job_ids bigint[];
    held_addresses int[];
    held_retry boolean[];
    held_results email_verify.result[];
BEGIN
    -- Watched rows still claimed by this prober.
    SELECT jsonb_agg(jsonb_build_object('queue_id', q.id, 'watch_id', q.watch_id, 'row_key', q.row_key,
                                        'email', q.email, 'status', r.status, 'reason', r.reason,
                                        'catch_all', r.catch_all, 'checked_at', r.checked_at, 'level', r.level)),
           count(*)
    INTO rows_json, row_count
    FROM jsonb_to_recordset(coalesce(report->'rows', '[]'))
         AS r(queue_id bigint, status text, reason text, catch_all boolean, checked_at timestamptz, level text)
    JOIN email_verify.queue q ON q.id = r.queue_id AND q.state = 'claimed' AND q.claimed_by = me;
    IF row_count > 0 THEN
        rows_written := row_count;
        PERFORM email_verify_internal.apply_verdicts(rows_json);
    END IF;
    PERFORM email_verify_internal.retry_later(array_agg(q.id), array_agg(r.reason),
                                              array_agg(make_interval(secs => r.delay)))
    FROM jsonb_to_recordset(coalesce(report->'row_retries', '[]'))
         AS r(queue_id bigint, reason text, delay float8, deferred boolean)
    JOIN email_verify.queue q ON q.id = r.queue_id AND q.state = 'claimed' AND q.claimed_by = me
    WHERE NOT coalesce(r.deferred, false)
    HAVING count(*) > 0;
    -- Not probed (the prober's politeness budget, no socket): nothing the
    -- address did, no attempt counted (as the workers put such rows back).
    UPDATE email_verify.queue q
    SET state = 'pending', lease_until = NULL, claimed_by = NULL, not_before = now() + make_interval(secs => r.delay),
        last_status = 'unknown', last_reason = r.reason
    FROM jsonb_to_recordset(coalesce(report->'row_retries', '[]'))
         AS r(queue_id bigint, reason text, delay float8, deferred boolean)
    WHERE r.deferred AND q.id = r.queue_id AND q.state = 'claimed' AND q.claimed_by = me;

    -- Job addresses this prober still holds: a retry it claimed, or one in
    -- a job claim (range) of its own.
    SELECT array_agg(r.job_id), array_agg(r.address), array_agg(r.from_retry),
           array_agg(jsonb_populate_record(NULL::email_verify.result, r.result))
    INTO held_job_ids, held_addresses, held_retry, held_results
    FROM jsonb_to_recordset(coalesce(report->'jobs', '[]'))
         AS r(job_id bigint, address int, from_retry boolean, result jsonb)
    WHERE CASE WHEN r.from_retry
               THEN EXISTS (SELECT FROM email_verify_internal.job_retries x
                            WHERE x.job_id = r.job_id AND x.address = r.address AND x.claimed_by = me)
               ELSE EXISTS (SELECT FROM email_verify_internal.job_claims c
                            WHERE c.job_id = r.job_id AND c.worker_id = me
                              AND r.address BETWEEN c.first_address AND c.last_address) END;
    IF held_job_ids IS NOT NULL THEN
        jobs_written := cardinality(held_job_ids);
        job_inputs := email_verify_internal.settle_job_batch(held_job_ids, held_addresses, held_retry, held_results);
    END IF;
    PERFORM email_verify_internal.retry_job_batch(array_agg(r.job_id), array_agg(r.address), array_agg(r.attempts),
                                                  array_agg(r.delay))
    FROM jsonb_to_recordset(coalesce(report->'job_retries', '[]'))
         AS r(job_id bigint, address int, attempts int, delay float8)
    WHERE EXISTS (SELECT FROM email_verify_internal.job_retries x
                  WHERE x.job_id = r.job_id AND x.address = r.address AND x.claimed_by = me)
       OR EXISTS (SELECT FROM email_verify_internal.job_claims c
                  WHERE c.job_id = r.job_id AND c.worker_id = me
                    AND r.address BETWEEN c.first_address AND c.last_address)
    HAVING count(*) > 0;
    PERFORM email_verify_internal.end_job_batch(me, array_agg(c::bigint))
    FROM jsonb_array_elements_text(coalesce(report->'claims', '[]')) AS c
    HAVING count(*) > 0;
    -- Domains the prober is done with are free for the other claimers.
    DELETE FROM email_verify_internal.domain_leases l
    USING jsonb_array_elements_text(coalesce(report->'domains_done', '[]')) AS d(domain)
    WHERE l.domain = d.domain AND l.holder = me;

    UPDATE email_verify_internal.probers p
    SET heartbeat_at = now(),
        in_flight = coalesce((report->>'in_flight')::int, p.in_flight),
        verdicts = p.verdicts + rows_written + jobs_written,
        stale = p.stale + (rows_sent - rows_written) + (jobs_sent - jobs_written),
        last_minute = CASE WHEN p.minute_start = date_trunc('minute', now()) THEN p.last_minute
                           WHEN p.minute_start = date_trunc('minute', now()) - interval '1 minute' THEN p.this_minute
                           ELSE 0 END,
        this_minute = CASE WHEN p.minute_start = date_trunc('minute', now()) THEN p.this_minute ELSE 0 END
                      + rows_written + jobs_written,
        minute_start = date_trunc('minute', now()),
        last_error = coalesce(report->>'error', p.last_error),
        last_error_at = CASE WHEN report ? 'error' THEN now() ELSE p.last_error_at END
    WHERE p.id = me;
    RETURN jsonb_build_object('written', rows_written + jobs_written,
                              'stale', (rows_sent - rows_written) + (jobs_sent - jobs_written),
                              'job_inputs', job_inputs);
END
$$;

-- A prober alive but idle says so (in_flight, the last error) at least every
-- minute; a prober that stops says goodbye: what it holds is free at once.
CREATE FUNCTION email_verify.prober_heartbeat(prober_id int, in_flight int DEFAULT 0, error text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE email_verify_internal.probers p
    SET heartbeat_at = now(), in_flight = $2,
        last_error = coalesce($3, p.last_error),
        last_error_at = CASE WHEN $3 IS NULL THEN p.last_error_at ELSE now() END
    WHERE p.id = email_verify_internal.own_prober($1)
$$;

CREATE FUNCTION email_verify.prober_goodbye(prober_id int)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me int := email_verify_internal.own_prober(prober_id);
BEGIN
    PERFORM email_verify_internal.release_claims(me);
    PERFORM email_verify_internal.release_job_batch(me);
    DELETE FROM email_verify_internal.domain_leases WHERE holder = me;
    UPDATE email_verify_internal.probers SET stopped_at = now(), in_flight = 0 WHERE id = me;
END
$$;

-- Every prober that said hello in the last day: where it runs, its version,
-- what it holds and how fast it writes, its last error.
CREATE VIEW email_verify.probers AS
SELECT p.id AS prober_id, p.name, p.host, p.version, p.login, p.started_at, p.heartbeat_at,
       CASE WHEN p.stopped_at IS NOT NULL THEN 'stopped'
            WHEN p.heartbeat_at < now() - interval '2 minutes' THEN 'silent'
            ELSE 'running' END AS state,
       p.in_flight,
       -- The last 60 seconds, from two calendar minutes' counts: this
       -- minute's so far and the part of the one before still inside them.
       (CASE WHEN p.minute_start = date_trunc('minute', now())
             THEN p.this_minute + p.last_minute * (1 - extract(epoch FROM now() - p.minute_start) / 60)
             WHEN p.minute_start = date_trunc('minute', now()) - interval '1 minute'
             THEN p.this_minute * (1 - extract(epoch FROM now() - date_trunc('minute', now())) / 60)
             ELSE 0 END)::int AS verdicts_per_minute,
       p.verdicts, p.stale, p.last_error, p.last_error_at, p.stopped_at
FROM email_verify_internal.probers p
WHERE p.stopped_at IS NULL OR p.stopped_at > now() - interval '1 day';
COMMENT ON VIEW email_verify.probers IS
    'email-verify-prober programs: host, version, items in flight, verdicts per minute, last error';

REVOKE ALL ON email_verify_internal.probers, email_verify_internal.probers_id_seq,
    email_verify_internal.domain_leases FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.domain_leases TO email_verify_worker;
REVOKE ALL ON email_verify.probers FROM PUBLIC;
GRANT SELECT ON email_verify.probers TO email_verify_admin;
REVOKE EXECUTE ON FUNCTION
    email_verify_internal.own_prober(int),
    email_verify.prober_hello(text, text, text, int),
    email_verify.prober_claim(int, int, int),
    email_verify.prober_report(int, jsonb),
    email_verify.prober_heartbeat(int, int, text),
    email_verify.prober_goodbye(int),
    email_verify_internal.claim_job_batch(int, int, int),
    email_verify_internal.settle_job_batch(bigint[], int[], boolean[], email_verify.result[]),
    email_verify_internal.retry_job_batch(bigint[], int[], int[], float8[]),
    email_verify_internal.end_job_batch(int, bigint[]),
    email_verify_internal.release_job_batch(int)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    email_verify.prober_hello(text, text, text, int),
    email_verify.prober_claim(int, int, int),
    email_verify.prober_report(int, jsonb),
    email_verify.prober_heartbeat(int, int, text),
    email_verify.prober_goodbye(int)
TO email_verify_remote_prober;
-- The risk lists a prober applies are the server's.
GRANT USAGE ON SCHEMA email_verify TO email_verify_remote_prober;
GRANT SELECT ON email_verify.list_entries TO email_verify_remote_prober;
