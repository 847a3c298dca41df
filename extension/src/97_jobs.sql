-- Bulk jobs: a list submitted at once, verified by the background workers
-- beside the watched tables, its progress and results read with SQL, its
-- events sent as signed webhooks (98_webhooks.sql).
--
-- Security model (as for watches, 30_tables.sql): the tables are internal,
-- readable by the extension's owner and the workers' role alone. A role
-- reaches its own jobs through the functions below, which check the calling
-- role (email_verify_internal.calling_role); superusers and members of
-- email_verify_admin reach every job. Levels dns and smtp need the prober
-- privilege (may_probe), at submission and again whenever the workers claim
-- the job's addresses: a job whose owner lost it fails.
-- submit_job and submit_job_from_query are the module's (src/pg/job_functions.cpp):
-- they run as the caller (the query of submit_job_from_query is the caller's
-- own code, run with the caller's own rights) and write the job through the
-- SECURITY DEFINER functions job_create, job_add and job_seal, which accept
-- only a job the calling role created in the current transaction.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'email_verify_admin') THEN
        CREATE ROLE email_verify_admin NOLOGIN;
        COMMENT ON ROLE email_verify_admin IS
            'members see, cancel and replay the webhooks of every role''s email_verify jobs';
    END IF;
END
$$;

-- Tables ---------------------------------------------------------------------------

-- One row per job. webhook_secret is the secret given with the job (a
-- registered endpoint keeps its own, 98_webhooks.sql); no view or function
-- shows it. processed counts inputs (duplicates included) whose verdict is in.
-- claimed_through counts the addresses the workers have claimed, in ordinal
-- order (see job_address_chunks).
CREATE TABLE email_verify_internal.jobs (
    id               bigserial PRIMARY KEY,
    owner            oid NOT NULL,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    level            text NOT NULL CHECK (level IN ('syntax', 'dns', 'smtp')),
    total            bigint NOT NULL DEFAULT 0,
    unique_addresses bigint NOT NULL DEFAULT 0,
    processed        bigint NOT NULL DEFAULT 0,
    webhook_url      text,
    webhook_secret   text,
    endpoint_id      int,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    progress_sent_at timestamptz,
    claimed_through  bigint NOT NULL DEFAULT 0
);
CREATE INDEX jobs_open_idx ON email_verify_internal.jobs (id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished_idx ON email_verify_internal.jobs (finished_at) WHERE finished_at IS NOT NULL;

-- A job is kept in chunks, not a row per address: a million-address job is a
-- few thousand rows to write, claim and read (src/core/jobs/job_builder.h).
--
-- The inputs, in input order, 1,000 to a chunk: emails[k] as given, and
-- addresses[k] the ordinal of its address (0-based; duplicates, the same
-- email_verify_internal.address_key, share their first input's).
CREATE TABLE email_verify_internal.job_input_chunks (
    job_id    bigint NOT NULL,
    chunk     int NOT NULL,
    emails    text[] NOT NULL,
    addresses int[] NOT NULL,
    PRIMARY KEY (job_id, chunk)
);

-- The distinct addresses, 256 to a chunk (address ordinal n is slot
-- n % 256 of chunk n / 256): what is probed (keys), how many inputs each
-- stands for (copies), and the verdicts written so far (a slot per address,
-- encoded by src/core/jobs/verdict_slots.h; NULL before the first), done of
-- them. A chunk is what the workers claim and write back at once.
CREATE TABLE email_verify_internal.job_address_chunks (
    job_id   bigint NOT NULL,
    chunk    int NOT NULL,
    keys     text[] COLLATE "C" NOT NULL,
    copies   int[] NOT NULL,
    verdicts bytea,
    done     int NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, chunk)
);

-- Chunks are written once or twice and read whole: lz4 compresses them
-- several times faster than the default pglz, where the server has it.
DO $$
BEGIN
    ALTER TABLE email_verify_internal.job_input_chunks
        ALTER COLUMN emails SET COMPRESSION lz4, ALTER COLUMN addresses SET COMPRESSION lz4;
    ALTER TABLE email_verify_internal.job_address_chunks
        ALTER COLUMN keys SET COMPRESSION lz4, ALTER COLUMN copies SET COMPRESSION lz4,
        ALTER COLUMN verdicts SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;  -- built without lz4: pglz
END
$$;

-- Ranges of addresses (by ordinal) a worker has claimed, in order after the
-- job's claimed_through, until lease_until; a range is deleted when its batch
-- has been written back. One whose lease ran out (its worker died) puts its
-- addresses without a verdict back, as retries.
CREATE TABLE email_verify_internal.job_claims (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL,
    worker_id   int NOT NULL,
    first_address int NOT NULL,
    last_address  int NOT NULL,
    lease_until timestamptz NOT NULL
);

-- Addresses put back (a transient verdict retried, a claim whose lease ran
-- out), by ordinal, with the attempts made: due at not_before, claimed
-- (claimed_by) until lease_until, deleted when their verdict is written.
CREATE TABLE email_verify_internal.job_retries (
    job_id      bigint NOT NULL,
    address     int NOT NULL,
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz NOT NULL,
    claimed_by  int,
    lease_until timestamptz,
    PRIMARY KEY (job_id, address)
);
CREATE INDEX job_retries_due_idx ON email_verify_internal.job_retries (job_id, not_before);

-- Verdicts per job, status and reason, counted over inputs: job_status, the
-- progress events and the completion summary read these, never the results.
CREATE TABLE email_verify_internal.job_counts (
    job_id     bigint NOT NULL,
    status     text NOT NULL,
    reason     text NOT NULL,
    n          bigint NOT NULL,
    disposable bigint NOT NULL,
    catch_all  bigint NOT NULL,
    PRIMARY KEY (job_id, status, reason)
);

-- Endpoints registered once (name, url, secret, events) instead of a secret
-- with every job; and URLs that answered 410 Gone (disabled_at set, name
-- NULL when nobody registered them): no event is sent to them until
-- enable_webhook_endpoint.
CREATE TABLE email_verify_internal.webhook_endpoints (
    id                serial PRIMARY KEY,
    owner             oid NOT NULL,
    name              text,
    url               text NOT NULL,
    secret            text,
    previous_secret   text,
    previous_until    timestamptz,
    events            text[] NOT NULL DEFAULT '{bulk.progress,bulk.completed,bulk.failed}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz,
    disabled_reason   text,
    UNIQUE (owner, name)
);

-- Provided by the module (src/core/webhook/url_policy.h): only http and
-- https, a host, no credentials; the worker checks the address it connects
-- to at every attempt (email_verify.webhook_allow_private).
CREATE FUNCTION email_verify_internal.check_webhook_url(url text)
RETURNS void
AS 'MODULE_PATHNAME', 'check_webhook_url'
LANGUAGE C STABLE STRICT;

-- Jobs and their results survive pg_dump and restore.
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_input_chunks', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_address_chunks', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_counts', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_claims', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_claims_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_retries', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_endpoints', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_endpoints_id_seq', '');

-- Who may see a job ---------------------------------------------------------------

-- The OID of the role that called (calling_role): what jobs and endpoints
-- record as their owner.
CREATE FUNCTION email_verify_internal.calling_role_oid()
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.oid FROM pg_roles r WHERE r.rolname = email_verify_internal.calling_role()
$$;

-- Whether role may see and act on the jobs of owner.
CREATE FUNCTION email_verify_internal.may_see_job(role name, owner oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role AND (r.oid = owner OR r.rolsuper))
        OR (EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'email_verify_admin')
            AND pg_has_role(role, 'email_verify_admin', 'USAGE'))
$$;

-- The job the calling role may see, or an error that says no more than that it
-- does not exist (another role's job is not revealed).
CREATE FUNCTION email_verify_internal.visible_job(job bigint)
RETURNS email_verify_internal.jobs
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs;
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO j FROM email_verify_internal.jobs WHERE id = job;
    IF NOT FOUND OR NOT email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner) THEN
        RAISE EXCEPTION 'email_verify job % does not exist', job USING ERRCODE = 'no_data_found',
            HINT = 'A role sees its own jobs; superusers and members of email_verify_admin see all.';
    END IF;
    RETURN j;
END
$$;

-- Building a job (called by submit_job and submit_job_from_query) ------------------------

-- The dedupe key: provided by the module (src/core/jobs/address_key.h).
CREATE FUNCTION email_verify_internal.address_key(address text)
RETURNS text
AS 'MODULE_PATHNAME', 'job_address_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A new, empty job of the calling role. Checks what can be checked before any
-- address is read: the level and its privilege, the webhook target.
CREATE FUNCTION email_verify_internal.job_create(level text, webhook_url text, webhook_secret text,
                                                 endpoint text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller name := email_verify_internal.calling_role();
    -- Case-insensitive, as the setting and verify_email's level are.
    chosen text := lower(coalesce(level, current_setting('email_verify.default_level')));
    target email_verify_internal.webhook_endpoints;
    id bigint;
BEGIN
    IF chosen NOT IN ('syntax', 'dns', 'smtp') THEN
        RAISE EXCEPTION 'invalid level "%"', chosen USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''syntax'', ''dns'' or ''smtp''.';
    END IF;
    IF chosen <> 'syntax' AND NOT email_verify_internal.may_probe(caller) THEN
        RAISE EXCEPTION 'permission denied to submit a job at level %', chosen
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Levels dns and smtp need membership in email_verify_prober.';
    END IF;
    IF endpoint IS NOT NULL THEN
        IF webhook_url IS NOT NULL OR webhook_secret IS NOT NULL THEN
            RAISE EXCEPTION 'give either endpoint or webhook_url and webhook_secret, not both'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT * INTO target FROM email_verify_internal.webhook_endpoints e
        WHERE e.name = endpoint AND e.owner = email_verify_internal.calling_role_oid();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'webhook endpoint "%" does not exist', endpoint USING ERRCODE = 'no_data_found',
                HINT = 'Register it with email_verify.register_webhook_endpoint.';
        END IF;
    ELSIF webhook_url IS NOT NULL THEN
        PERFORM email_verify_internal.check_webhook_url(webhook_url);
        IF webhook_secret IS NULL OR webhook_secret = '' THEN
            RAISE EXCEPTION 'a webhook_url needs a webhook_secret to sign its events'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'email_verify.new_webhook_secret() makes one.';
        END IF;
    ELSIF webhook_secret IS NOT NULL THEN
        RAISE EXCEPTION 'webhook_secret given without a webhook_url' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO email_verify_internal.jobs (owner, level, webhook_url, webhook_secret, endpoint_id)
    VALUES (email_verify_internal.calling_role_oid(), chosen,
            coalesce(webhook_url, target.url), webhook_secret, target.id)
    RETURNING jobs.id INTO id;
    RETURN id;
END
$$;

-- The job being built: the calling role's, created in this very transaction.
CREATE FUNCTION email_verify_internal.job_being_built(job bigint)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id FROM email_verify_internal.jobs j
    WHERE j.id = job AND j.xmin = pg_current_xact_id()::xid
      AND j.owner = email_verify_internal.calling_role_oid()
$$;

-- Appends the next chunk of inputs (job_input_chunks) to a job being built.
CREATE FUNCTION email_verify_internal.job_add(job bigint, chunk int, emails text[], addresses int[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hole int := array_position(emails, NULL);
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF hole IS NOT NULL THEN
        RAISE EXCEPTION 'address % of the job is NULL',
            (SELECT coalesce(sum(cardinality(c.emails)), 0) FROM email_verify_internal.job_input_chunks c
             WHERE c.job_id = job) + hole
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Leave NULL addresses out (WHERE email IS NOT NULL).';
    END IF;
    IF cardinality(emails) IS DISTINCT FROM cardinality(addresses) OR array_position(addresses, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'a chunk needs an address ordinal for each of its inputs' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The job's totals are counted once, by job_seal: the row updated at
    -- every chunk would leave a version per chunk to walk past.
    INSERT INTO email_verify_internal.job_input_chunks (job_id, chunk, emails, addresses)
    VALUES (job, chunk, emails, addresses);
    RETURN job;
END
$$;

-- Appends distinct addresses to a job being built, from address chunk
-- first_chunk on, 256 to a chunk (job_address_chunks).
CREATE FUNCTION email_verify_internal.job_add_addresses(job bigint, first_chunk int, keys text[], copies int[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF cardinality(keys) IS DISTINCT FROM cardinality(copies) OR cardinality(keys) = 0
       OR array_position(keys, NULL) IS NOT NULL OR array_position(copies, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'addresses need a key and copies each' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO email_verify_internal.job_address_chunks (job_id, chunk, keys, copies)
    SELECT job, first_chunk + c, keys[c * 256 + 1 : c * 256 + 256], copies[c * 256 + 1 : c * 256 + 256]
    FROM generate_series(0, (cardinality(keys) - 1) / 256) AS c;
    RETURN job;
END
$$;

-- Ends the building of a job: it must hold an address, and its addresses'
-- copies must add up to its inputs (a job that could never complete is not
-- sealed). The workers are woken when the transaction commits.
CREATE FUNCTION email_verify_internal.job_seal(job bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs;
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE email_verify_internal.jobs built
    SET total = (SELECT coalesce(sum(cardinality(c.emails)), 0) FROM email_verify_internal.job_input_chunks c
                 WHERE c.job_id = job),
        unique_addresses = (SELECT coalesce(sum(cardinality(c.keys)), 0) FROM email_verify_internal.job_address_chunks c
                            WHERE c.job_id = job)
    WHERE built.id = job RETURNING built.* INTO j;
    IF j.total = 0 THEN
        RAISE EXCEPTION 'a job needs at least one address' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF j.total IS DISTINCT FROM (SELECT sum(n) FROM email_verify_internal.job_address_chunks c, unnest(c.copies) AS n
                                 WHERE c.job_id = job) THEN
        RAISE EXCEPTION 'the copies of job %''s addresses do not add up to its % inputs', job, j.total
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM email_verify_internal.wake_workers_at_commit();
    RETURN job;
END
$$;

-- Whether the calling role may read the verdicts of a job: its own, or any
-- for superusers and members of email_verify_admin.
CREATE FUNCTION email_verify_internal.may_read_job(job bigint)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM email_verify_internal.jobs j
                   WHERE j.id = job AND email_verify_internal.may_see_job(email_verify_internal.calling_role(),
                                                                          j.owner))
$$;

-- One chunk of a job's results, input by input: the email as given, and the
-- verdict of its address when there is one (the rest NULL). Provided by the
-- module (src/pg/job_results.cpp): the verdicts are read from
-- job_address_chunks, a few chunks of them cached for the query. Callable by
-- everyone, it answers only for a job the caller may read (may_read_job).
CREATE FUNCTION email_verify_internal.job_chunk_results(job bigint, emails text[], addresses int[])
RETURNS SETOF email_verify.result
AS 'MODULE_PATHNAME', 'job_chunk_results'
LANGUAGE C STABLE STRICT SECURITY DEFINER;

-- The same without the check, for the extension's own statements (the
-- inline results of bulk.completed, built by the workers and by probers'
-- reports): not executable by PUBLIC; it reads with its caller's rights.
CREATE FUNCTION email_verify_internal.job_chunk_rows(job bigint, emails text[], addresses int[])
RETURNS SETOF email_verify.result
AS 'MODULE_PATHNAME', 'job_chunk_rows'
LANGUAGE C STABLE STRICT;

-- The API ----------------------------------------------------------------------------

CREATE FUNCTION email_verify.submit_job(addresses text[], webhook_url text DEFAULT NULL,
                                        webhook_secret text DEFAULT NULL, level text DEFAULT NULL,
                                        endpoint text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'submit_job'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.submit_job(text[], text, text, text, text) IS
    'submits a bulk job; returns its id (email_verify.job_status, job_results, cancel_job)';

CREATE FUNCTION email_verify.submit_job_from_query(query text, webhook_url text DEFAULT NULL,
                                                   webhook_secret text DEFAULT NULL, level text DEFAULT NULL,
                                                   endpoint text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'submit_job_from_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.submit_job_from_query(text, text, text, text, text) IS
    'submits a bulk job of the addresses a query returns (its first column, read in batches, in its order)';

CREATE FUNCTION email_verify.job_status(job_id bigint,
    OUT job_id bigint, OUT state text, OUT level text, OUT total bigint, OUT processed bigint,
    OUT percent_done numeric, OUT valid bigint, OUT invalid bigint, OUT risky bigint, OUT unknown bigint,
    OUT disposable bigint, OUT catch_all bigint, OUT reasons jsonb, OUT unique_addresses bigint,
    OUT created_at timestamptz, OUT started_at timestamptz, OUT finished_at timestamptz,
    OUT estimated_completion timestamptz, OUT failure_reason text, OUT webhook_url text,
    OUT webhook_endpoint text, OUT owner name)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id, j.state, j.level, j.total, j.processed,
           round(100.0 * j.processed / greatest(j.total, 1), 1),
           coalesce(sum(c.n) FILTER (WHERE c.status = 'valid'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'invalid'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'risky'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'unknown'), 0)::bigint,
           coalesce(sum(c.disposable), 0)::bigint, coalesce(sum(c.catch_all), 0)::bigint,
           coalesce(jsonb_object_agg(c.status || '/' || c.reason, c.n) FILTER (WHERE c.n IS NOT NULL), '{}'),
           j.unique_addresses, j.created_at, j.started_at, j.finished_at,
           CASE WHEN j.state = 'running' AND j.processed > 0
                THEN now() + (now() - j.started_at) * ((j.total - j.processed)::float8 / j.processed) END,
           j.failure_reason, j.webhook_url,
           (SELECT e.name FROM email_verify_internal.webhook_endpoints e WHERE e.id = j.endpoint_id),
           (SELECT r.rolname FROM pg_roles r WHERE r.oid = j.owner)
    FROM email_verify_internal.visible_job($1) j
    LEFT JOIN email_verify_internal.job_counts c ON c.job_id = j.id
    GROUP BY j.id, j.state, j.level, j.total, j.processed, j.unique_addresses, j.created_at, j.started_at,
             j.finished_at, j.failure_reason, j.webhook_url, j.endpoint_id, j.owner
$$;
COMMENT ON FUNCTION email_verify.job_status(bigint) IS
    'a job''s state, progress, counts per status and per reason, times and estimated completion';

-- The ids of the jobs the calling role may see.
CREATE FUNCTION email_verify_internal.visible_job_ids()
RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(j.id), '{}') FROM email_verify_internal.jobs j
    WHERE email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner)
$$;

-- The results of the jobs the calling role may see, in input order; what
-- job_results reads. A view reads the tables with its owner's rights; its
-- filter lets a role see its own jobs' rows only. Driven by the input chunks'
-- index, each chunk expanded by job_chunk_results: rows come in input order,
-- the first at once, however large the job, and the executor holds a chunk
-- of them at a time (a function in FROM is read into a tuplestore: one
-- chunk's).
CREATE VIEW email_verify_internal.visible_job_results WITH (security_barrier) AS
SELECT i.job_id, i.chunk, r.email, r.normalized, r.status, r.reason, r.level, r.suggestion, r.is_disposable,
       r.is_role, r.is_free, r.is_catch_all, r.mx_found, r.mx_host, r.smtp_code, r.smtp_message, r.score,
       r.checked_at, r.duration_ms, r.from_cache
FROM email_verify_internal.job_input_chunks i
CROSS JOIN LATERAL email_verify_internal.job_chunk_results(i.job_id, i.emails, i.addresses) r
-- The filter is an InitPlan (computed once) and no index condition: as an
-- index condition an array on the leading column would cost the scan its
-- order (PostgreSQL 15), and job_results would sort the whole job.
WHERE (i.job_id = ANY ((SELECT email_verify_internal.visible_job_ids())::bigint[])) IS TRUE
-- A security_barrier view is planned as a subquery of its own, blind to the
-- caller's ORDER BY: without one here the scan that gives input order is
-- never considered. Within a chunk the rows come in the function's order.
ORDER BY i.job_id, i.chunk;

-- Inlined into the caller's query (plain SQL, no SET, not STRICT): the rows
-- stream from the input chunks' index in input order, so COPY of a
-- million-row job holds no more than a chunk at a time. The job is matched
-- by a plain equality (leakproof, so the planner may use it below the view's
-- barrier and knows the index order is input order); visible_job raises the
-- error for a job the caller may not see. An address not verified yet (a
-- cancelled or failed job) has only its email.
CREATE FUNCTION email_verify.job_results(job_id bigint)
RETURNS SETOF email_verify.result
LANGUAGE sql STABLE
AS $$
    SELECT r.email, r.normalized, r.status, r.reason, r.level, r.suggestion, r.is_disposable, r.is_role,
           r.is_free, r.is_catch_all, r.mx_found, r.mx_host, r.smtp_code, r.smtp_message, r.score,
           r.checked_at, r.duration_ms, r.from_cache
    FROM email_verify_internal.visible_job_results r
    WHERE r.job_id OPERATOR(pg_catalog.=) $1
      -- No column in it: checked once, before the first row.
      AND (email_verify_internal.visible_job($1)).id IS NOT NULL
    ORDER BY r.job_id, r.chunk
$$;
COMMENT ON FUNCTION email_verify.job_results(bigint) IS
    'a job''s results, one row per input in input order (streamed: COPY it to export)';

-- Cancels a queued or running job: the addresses not verified yet stay so,
-- its results so far stay readable, and a bulk.failed event (reason
-- cancelled) tells its webhook.
CREATE FUNCTION email_verify.cancel_job(job_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs := email_verify_internal.visible_job(job_id);
BEGIN
    UPDATE email_verify_internal.jobs SET state = 'cancelled', finished_at = now(),
           failure_reason = format('cancelled by %s', email_verify_internal.calling_role())
    WHERE id = j.id AND state IN ('queued', 'running');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'email_verify job % is already %', j.id, j.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM email_verify_internal.emit_event(j.id, 'bulk.failed');
    -- The worker sends the event as soon as this commits.
    PERFORM email_verify_internal.wake_workers_at_commit();
END
$$;
COMMENT ON FUNCTION email_verify.cancel_job(bigint) IS
    'cancels a queued or running job; its results so far stay readable';

-- Every job the current role may see, newest first.
CREATE VIEW email_verify.jobs WITH (security_barrier) AS
SELECT j.id AS job_id, r.rolname AS owner, j.state, j.level, j.total, j.processed,
       round(100.0 * j.processed / greatest(j.total, 1), 1) AS percent_done,
       j.created_at, j.started_at, j.finished_at, j.failure_reason, j.webhook_url
FROM email_verify_internal.jobs j
LEFT JOIN pg_roles r ON r.oid = j.owner
WHERE email_verify_internal.may_see_job(current_user, j.owner);
COMMENT ON VIEW email_verify.jobs IS 'the bulk jobs the current role may see (its own; all for admins)';
