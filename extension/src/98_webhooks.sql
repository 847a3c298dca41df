-- Webhooks: the events of bulk jobs (97_jobs.sql), kept in an outbox that the
-- background worker delivers (src/pg/webhook_sender.cpp): signed, retried
-- with backoff, and parked as dead letters after the last attempt. Every event
-- is also sent as NOTIFY email_verify when it is created. Secrets stay in the
-- internal tables: no view, function result, log line or error shows them.

-- Tables ---------------------------------------------------------------------------

-- The outbox: one row per event and target. event_id is fixed when the event
-- is created and sent unchanged with every attempt. A job's events go out in
-- order: one waits while an earlier one of its job is pending or sending.
CREATE TABLE email_verify_internal.webhook_events (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    job_id          bigint NOT NULL,
    event_type      text NOT NULL,
    body            jsonb NOT NULL,
    url             text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_status     int,
    last_cause      text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_events_due_idx ON email_verify_internal.webhook_events (next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX webhook_events_job_idx ON email_verify_internal.webhook_events (job_id, id);
CREATE INDEX webhook_events_sending_idx ON email_verify_internal.webhook_events (lease_until)
    WHERE state = 'sending';

-- One row per delivery attempt, for the statistics view.
CREATE TABLE email_verify_internal.webhook_attempts (
    event_row    bigint NOT NULL,
    url          text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    http_status  int,
    cause        text NOT NULL,
    latency_ms   double precision NOT NULL
);
CREATE INDEX webhook_attempts_event_idx ON email_verify_internal.webhook_attempts (event_row);

SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_events', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_events_id_seq', '');

-- Provided by the module (src/core/webhook/): a fresh secret.
CREATE FUNCTION email_verify.new_webhook_secret()
RETURNS text
AS 'MODULE_PATHNAME', 'new_webhook_secret'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.new_webhook_secret() IS
    'a new random secret "whsec_<base64>" that Stripe-style and Standard Webhooks receivers both accept unchanged';

-- Events ------------------------------------------------------------------------------

-- The body of event_type for job: jsonb, never text pasted together. Counts
-- are over inputs (duplicates included), equal to what job_results returns;
-- a completed job of at most email_verify.webhook_inline_results addresses
-- carries its results too.
CREATE FUNCTION email_verify_internal.event_body(job bigint, event_type text, event_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
               'event_id', event_id, 'event_type', event_type, 'job_id', j.id,
               'created_at', now(), 'state', j.state, 'level', j.level,
               'total', j.total, 'processed', j.processed,
               'summary', jsonb_build_object(
                   'total', j.total,
                   'valid', coalesce(sum(c.n) FILTER (WHERE c.status = 'valid'), 0),
                   'invalid', coalesce(sum(c.n) FILTER (WHERE c.status = 'invalid'), 0),
                   'risky', coalesce(sum(c.n) FILTER (WHERE c.status = 'risky'), 0),
                   'unknown', coalesce(sum(c.n) FILTER (WHERE c.status = 'unknown'), 0),
                   'disposable', coalesce(sum(c.disposable), 0),
                   'catch_all', coalesce(sum(c.catch_all), 0)),
               'reasons', coalesce(jsonb_object_agg(c.status || '/' || c.reason, c.n) FILTER (WHERE c.n IS NOT NULL),
                                   '{}'))
           || CASE WHEN event_type = 'bulk.failed'
                   THEN jsonb_build_object('reason', j.failure_reason) ELSE '{}' END
           || CASE WHEN event_type = 'bulk.completed'
                        AND j.total <= coalesce(current_setting('email_verify.webhook_inline_results', true), '100')::int
                   THEN jsonb_build_object('results', (
                            SELECT jsonb_agg(to_jsonb(r) - 'duration_ms' - 'from_cache' - 'ordinality'
                                             ORDER BY i.chunk, r.ordinality)
                            FROM email_verify_internal.job_input_chunks i
                            CROSS JOIN LATERAL email_verify_internal.job_chunk_rows(i.job_id, i.emails,
                                                                                   i.addresses)
                                       WITH ORDINALITY r
                            WHERE i.job_id = j.id))
                   ELSE '{}' END
    FROM email_verify_internal.jobs j
    LEFT JOIN email_verify_internal.job_counts c ON c.job_id = j.id
    WHERE j.id = job
    GROUP BY j.id
$$;

-- Creates an event of a job: NOTIFY email_verify at commit, and an outbox row
-- when the job has a webhook that takes this event type. A progress event
-- not attempted yet is replaced by the newer one (coalesced); the completion
-- replaces it too, so bulk.completed never goes out before the last progress
-- event that does.
CREATE FUNCTION email_verify_internal.emit_event(job bigint, event_type text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id uuid := gen_random_uuid();
    body jsonb := email_verify_internal.event_body(job, event_type, id);
    j email_verify_internal.jobs;
    payload text := body::text;
BEGIN
    SELECT * INTO j FROM email_verify_internal.jobs WHERE jobs.id = job;
    -- Any role may LISTEN: NOTIFY never carries a job's results (the
    -- addresses), only its identity and counts. Its payload must stay under
    -- 8000 bytes: a larger event goes out trimmed, with where to read the rest.
    payload := CASE WHEN body ? 'results'
                    THEN (body - 'results' || jsonb_build_object(
                              'trimmed', true, 'read', format('SELECT * FROM email_verify.job_results(%s)', job)))::text
                    ELSE payload END;
    IF octet_length(payload) >= 7900 THEN
        payload := jsonb_build_object('event_id', id, 'event_type', event_type, 'job_id', job,
                                      'created_at', body -> 'created_at', 'state', body -> 'state',
                                      'summary', body -> 'summary', 'trimmed', true,
                                      'read', format('SELECT * FROM email_verify.job_status(%s)', job))::text;
    END IF;
    PERFORM pg_notify('email_verify', payload);
    DELETE FROM email_verify_internal.webhook_events e
    WHERE e.job_id = job AND e.event_type = 'bulk.progress' AND e.state = 'pending' AND e.attempts = 0;
    IF j.webhook_url IS NOT NULL
       AND (j.endpoint_id IS NULL
            OR event_type = ANY ((SELECT w.events FROM email_verify_internal.webhook_endpoints w
                                  WHERE w.id = j.endpoint_id)::text[])) THEN
        INSERT INTO email_verify_internal.webhook_events (event_id, job_id, event_type, body, url)
        VALUES (id, job, event_type, body, j.webhook_url);
    END IF;
END
$$;

-- Endpoints ---------------------------------------------------------------------------

CREATE FUNCTION email_verify.register_webhook_endpoint(name text, url text, secret text,
        events text[] DEFAULT '{bulk.progress,bulk.completed,bulk.failed}')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR url IS NULL OR secret IS NULL OR secret = '' THEN
        RAISE EXCEPTION 'name, url and secret are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF events IS NULL OR cardinality(events) = 0
       OR NOT events <@ '{bulk.progress,bulk.completed,bulk.failed}'::text[] THEN
        RAISE EXCEPTION 'events must be some of bulk.progress, bulk.completed, bulk.failed'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM email_verify_internal.check_webhook_url(url);
    INSERT INTO email_verify_internal.webhook_endpoints (owner, name, url, secret, events)
    VALUES (email_verify_internal.calling_role_oid(),
            register_webhook_endpoint.name, register_webhook_endpoint.url, register_webhook_endpoint.secret,
            register_webhook_endpoint.events);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'webhook endpoint "%" already exists', register_webhook_endpoint.name
        USING ERRCODE = 'duplicate_object', HINT = 'Rotate its secret with email_verify.rotate_webhook_secret.';
END
$$;

-- The new secret signs from now on; the old one signs too (a second v1=)
-- until overlap has passed, so receivers can switch at their own pace.
CREATE FUNCTION email_verify.rotate_webhook_secret(name text, new_secret text,
                                                   overlap interval DEFAULT '24 hours')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF new_secret IS NULL OR new_secret = '' THEN
        RAISE EXCEPTION 'new_secret is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE email_verify_internal.webhook_endpoints e
    SET previous_secret = e.secret, previous_until = now() + coalesce(overlap, '0'), secret = new_secret
    WHERE e.name = rotate_webhook_secret.name
      AND e.owner = email_verify_internal.calling_role_oid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist', rotate_webhook_secret.name
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE FUNCTION email_verify.unregister_webhook_endpoint(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_job bigint;
BEGIN
    -- Its secret signs the events of its jobs: not while one may still send.
    SELECT j.id INTO user_job
    FROM email_verify_internal.jobs j JOIN email_verify_internal.webhook_endpoints e ON e.id = j.endpoint_id
    WHERE e.name = unregister_webhook_endpoint.name
      AND e.owner = email_verify_internal.calling_role_oid()
      AND (j.state IN ('queued', 'running')
           OR EXISTS (SELECT FROM email_verify_internal.webhook_events w
                      WHERE w.job_id = j.id AND w.state IN ('pending', 'sending')))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" is in use by job %', unregister_webhook_endpoint.name, user_job
            USING ERRCODE = 'object_in_use',
                  HINT = 'Wait until its jobs are finished and their events delivered, or cancel them.';
    END IF;
    DELETE FROM email_verify_internal.webhook_endpoints e
    WHERE e.name = unregister_webhook_endpoint.name
      AND e.owner = email_verify_internal.calling_role_oid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist', unregister_webhook_endpoint.name
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- A URL disabled by 410 Gone takes events again (its dead letters can be replayed).
CREATE FUNCTION email_verify.enable_webhook_endpoint(url text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE email_verify_internal.webhook_endpoints e SET disabled_at = NULL, disabled_reason = NULL
    WHERE e.url = enable_webhook_endpoint.url
      AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), e.owner);
    DELETE FROM email_verify_internal.webhook_endpoints e
    WHERE e.url = enable_webhook_endpoint.url AND e.name IS NULL
      AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), e.owner);
$$;

-- The endpoints the current role may see; never their secrets.
CREATE VIEW email_verify.webhook_endpoints WITH (security_barrier) AS
SELECT e.name, e.url, e.events, r.rolname AS owner, e.created_at,
       e.previous_until > now() AS rotating, e.disabled_at, e.disabled_reason
FROM email_verify_internal.webhook_endpoints e
LEFT JOIN pg_roles r ON r.oid = e.owner
WHERE email_verify_internal.may_see_job(current_user, e.owner);

-- Dead letters ---------------------------------------------------------------------------

CREATE VIEW email_verify.webhook_dead_letters WITH (security_barrier) AS
SELECT e.event_id, e.job_id, e.event_type, e.url, e.attempts, e.last_status, e.last_cause, e.last_error,
       e.created_at, e.next_attempt_at AS last_attempt_at, e.body
FROM email_verify_internal.webhook_events e
JOIN email_verify_internal.jobs j ON j.id = e.job_id
WHERE e.state = 'dead' AND email_verify_internal.may_see_job(current_user, j.owner);

-- Sends dead letters again (same event id, attempts counted from zero):
-- one event, or every dead event of a job. Returns how many.
CREATE FUNCTION email_verify.replay_webhook(event_id uuid)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH replayed AS (
        UPDATE email_verify_internal.webhook_events e
        SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL
        FROM email_verify_internal.jobs j
        WHERE e.event_id = replay_webhook.event_id AND e.state = 'dead' AND j.id = e.job_id
          AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner)
        RETURNING e.id
    )
    SELECT count(*) FROM replayed, LATERAL email_verify_internal.wake_workers_at_commit();
$$;

CREATE FUNCTION email_verify.replay_job_webhooks(job_id bigint)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH replayed AS (
        UPDATE email_verify_internal.webhook_events e
        SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL
        WHERE e.job_id = (email_verify_internal.visible_job(replay_job_webhooks.job_id)).id AND e.state = 'dead'
        RETURNING e.id
    )
    SELECT count(*) FROM replayed, LATERAL email_verify_internal.wake_workers_at_commit();
$$;

-- Delivery statistics per target URL: attempts, outcomes by cause, latency
-- percentiles, events delivered, waiting and dead.
CREATE VIEW email_verify.webhook_delivery_stats WITH (security_barrier) AS
WITH visible AS (
    SELECT e.* FROM email_verify_internal.webhook_events e
    JOIN email_verify_internal.jobs j ON j.id = e.job_id
    WHERE email_verify_internal.may_see_job(current_user, j.owner)
), attempts AS (
    SELECT a.url, count(*) AS attempts,
           count(*) FILTER (WHERE a.cause = 'delivered') AS successes,
           count(*) FILTER (WHERE a.cause <> 'delivered') AS failures,
           coalesce(jsonb_object_agg(a.cause, a.n) FILTER (WHERE a.cause <> 'delivered'), '{}') AS failures_by_cause,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p95_ms,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p99_ms
    FROM (SELECT t.url, t.cause, t.latency_ms, count(*) OVER (PARTITION BY t.url, t.cause) AS n
          FROM email_verify_internal.webhook_attempts t
          WHERE t.event_row IN (SELECT v.id FROM visible v)) a
    GROUP BY a.url
)
SELECT u.url, coalesce(a.attempts, 0) AS attempts, coalesce(a.successes, 0) AS successes,
       coalesce(a.failures, 0) AS failures, coalesce(a.failures_by_cause, '{}') AS failures_by_cause,
       a.latency_p50_ms, a.latency_p95_ms, a.latency_p99_ms,
       u.delivered, u.waiting, u.dead,
       (SELECT max(w.disabled_at) FROM email_verify_internal.webhook_endpoints w WHERE w.url = u.url) AS disabled_at
FROM (SELECT v.url, count(*) FILTER (WHERE v.state = 'delivered') AS delivered,
             count(*) FILTER (WHERE v.state IN ('pending', 'sending')) AS waiting,
             count(*) FILTER (WHERE v.state = 'dead') AS dead
      FROM visible v GROUP BY v.url) u
LEFT JOIN attempts a ON a.url = u.url;

-- Retention ----------------------------------------------------------------------------

-- Removes the jobs finished longer than email_verify.job_retention ago, with
-- their results and events, but not while an event of theirs still waits to
-- be delivered; at most max_jobs a call (the worker calls it between batches).
CREATE FUNCTION email_verify_internal.remove_expired_jobs(max_jobs int)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH expired AS (
        SELECT j.id FROM email_verify_internal.jobs j
        WHERE j.finished_at < now() - coalesce(current_setting('email_verify.job_retention', true), '7 days')::interval
          AND NOT EXISTS (SELECT FROM email_verify_internal.webhook_events e
                          WHERE e.job_id = j.id AND e.state IN ('pending', 'sending'))
        ORDER BY j.finished_at LIMIT max_jobs
        FOR UPDATE SKIP LOCKED
    ), attempts AS (
        DELETE FROM email_verify_internal.webhook_attempts t
        USING email_verify_internal.webhook_events e
        WHERE t.event_row = e.id AND e.job_id IN (SELECT id FROM expired)
    ), events AS (
        DELETE FROM email_verify_internal.webhook_events e WHERE e.job_id IN (SELECT id FROM expired)
    ), inputs AS (
        DELETE FROM email_verify_internal.job_input_chunks i WHERE i.job_id IN (SELECT id FROM expired)
    ), addresses AS (
        DELETE FROM email_verify_internal.job_address_chunks a WHERE a.job_id IN (SELECT id FROM expired)
    ), claims AS (
        DELETE FROM email_verify_internal.job_claims c WHERE c.job_id IN (SELECT id FROM expired)
    ), retries AS (
        DELETE FROM email_verify_internal.job_retries r WHERE r.job_id IN (SELECT id FROM expired)
    ), counts AS (
        DELETE FROM email_verify_internal.job_counts c WHERE c.job_id IN (SELECT id FROM expired)
    ), jobs AS (
        DELETE FROM email_verify_internal.jobs j WHERE j.id IN (SELECT id FROM expired) RETURNING j.id
    )
    SELECT count(*)::int FROM jobs;
$$;

-- Privileges -----------------------------------------------------------------------------

REVOKE ALL ON email_verify_internal.jobs, email_verify_internal.job_input_chunks,
    email_verify_internal.job_address_chunks,
    email_verify_internal.job_claims, email_verify_internal.job_retries,
    email_verify_internal.job_counts, email_verify_internal.webhook_endpoints,
    email_verify_internal.webhook_events, email_verify_internal.webhook_attempts,
    email_verify_internal.visible_job_results
FROM PUBLIC;
GRANT SELECT ON email_verify_internal.visible_job_results, email_verify.jobs, email_verify.webhook_endpoints,
    email_verify.webhook_dead_letters, email_verify.webhook_delivery_stats TO PUBLIC;
REVOKE EXECUTE ON FUNCTION
    email_verify_internal.calling_role_oid(),
    email_verify_internal.job_being_built(bigint),
    email_verify_internal.may_read_job(bigint),
    email_verify_internal.job_chunk_rows(bigint, text[], int[]),
    email_verify_internal.event_body(bigint, text, uuid),
    email_verify_internal.emit_event(bigint, text),
    email_verify_internal.remove_expired_jobs(int)
FROM PUBLIC;

-- The workers claim job addresses, write their verdicts and counts, end jobs,
-- and deliver the outbox (src/pg/job_items.cpp, src/pg/webhook_outbox.cpp).
GRANT SELECT, UPDATE ON email_verify_internal.jobs, email_verify_internal.webhook_endpoints TO email_verify_worker;
GRANT SELECT, UPDATE ON email_verify_internal.job_address_chunks TO email_verify_worker;
GRANT SELECT ON email_verify_internal.job_input_chunks TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.job_claims, email_verify_internal.job_retries
    TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify_internal.job_claims_id_seq TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE ON email_verify_internal.job_counts TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.webhook_events TO email_verify_worker;
GRANT INSERT ON email_verify_internal.webhook_endpoints TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify_internal.webhook_events_id_seq, email_verify_internal.webhook_endpoints_id_seq
    TO email_verify_worker;
GRANT SELECT, INSERT ON email_verify_internal.webhook_attempts TO email_verify_worker;
GRANT EXECUTE ON FUNCTION
    email_verify_internal.event_body(bigint, text, uuid),
    email_verify_internal.job_chunk_rows(bigint, text[], int[]),
    email_verify_internal.emit_event(bigint, text),
    email_verify_internal.may_probe(name)
TO email_verify_worker;
-- Retention deletes every table's rows of an expired job.
GRANT DELETE ON email_verify_internal.jobs, email_verify_internal.job_input_chunks,
    email_verify_internal.job_address_chunks,
    email_verify_internal.job_counts, email_verify_internal.webhook_attempts TO email_verify_worker;
GRANT EXECUTE ON FUNCTION email_verify_internal.remove_expired_jobs(int) TO email_verify_worker;
