-- email_verify 0.7.0: bulk jobs kept in chunks (a thousand inputs, 256
-- distinct addresses to a row) instead of a row per input and per address,
-- so that a job is several times cheaper to submit, drain and read; and the
-- protocol of probers on other machines (email-verify-prober). Each
-- part below is its source file's (extension/src/97_jobs.sql,
-- 98_webhooks.sql) text as it now reads, or the statements that move the
-- jobs of 0.6.0 into the new tables, nothing of them lost.
\echo Use "ALTER EXTENSION email_verify UPDATE TO '0.7.0'" to load this file. \quit

-- The new tables (extension/src/97_jobs.sql).

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

SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_input_chunks', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_address_chunks', '');

-- The retries move to a table keyed by address ordinal; the old one is
-- renamed out of the way until its rows are moved.
ALTER TABLE email_verify_internal.job_retries RENAME TO job_retries_0_6;
ALTER INDEX email_verify_internal.job_retries_pkey RENAME TO job_retries_0_6_pkey;
ALTER INDEX email_verify_internal.job_retries_due_idx RENAME TO job_retries_0_6_due_idx;

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

SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_retries', '');

-- Claims now hold ranges of address ordinals.
ALTER TABLE email_verify_internal.job_claims RENAME COLUMN first_position TO first_address;
ALTER TABLE email_verify_internal.job_claims RENAME COLUMN last_position TO last_address;
ALTER TABLE email_verify_internal.job_claims ALTER COLUMN first_address TYPE int, ALTER COLUMN last_address TYPE int;

-- Moving the jobs of 0.6.0. An address's ordinal is its rank among the
-- job's addresses by position (the first input that had it), so chunks keep
-- input order; its verdict (result) goes into its chunk's slots, encoded by
-- a function used here only.
CREATE FUNCTION email_verify_internal.job_verdict_slots(results email_verify.result[])
RETURNS bytea
AS 'MODULE_PATHNAME', 'job_verdict_slots'
LANGUAGE C STRICT;

CREATE TABLE email_verify_internal.job_ordinals_0_6 AS
SELECT a.job_id, a.address_key, a.state, a.attempts,
       (row_number() OVER (PARTITION BY a.job_id ORDER BY a.position) - 1)::int AS ordinal
FROM email_verify_internal.job_addresses a;
CREATE UNIQUE INDEX ON email_verify_internal.job_ordinals_0_6 (job_id, address_key);

INSERT INTO email_verify_internal.job_address_chunks (job_id, chunk, keys, copies, verdicts, done)
SELECT o.job_id, o.ordinal / 256, array_agg(a.address_key ORDER BY o.ordinal),
       array_agg(a.copies::int ORDER BY o.ordinal),
       CASE WHEN count(a.result) > 0
            THEN email_verify_internal.job_verdict_slots(array_agg(a.result ORDER BY o.ordinal)) END,
       count(*) FILTER (WHERE a.state = 'done')
FROM email_verify_internal.job_addresses a
JOIN email_verify_internal.job_ordinals_0_6 o USING (job_id, address_key)
GROUP BY o.job_id, o.ordinal / 256;

INSERT INTO email_verify_internal.job_input_chunks (job_id, chunk, emails, addresses)
SELECT i.job_id, ((i.ordinal - 1) / 1000)::int, array_agg(i.email ORDER BY i.ordinal),
       array_agg(o.ordinal ORDER BY i.ordinal)
FROM email_verify_internal.job_inputs i
JOIN email_verify_internal.job_ordinals_0_6 o USING (job_id, address_key)
GROUP BY i.job_id, (i.ordinal - 1) / 1000;

-- An open job's addresses without a verdict all become retries, with the
-- attempts they had (due when they were due, or now), and all its addresses
-- count as claimed: the workers take them up one by one, as after a crash.
INSERT INTO email_verify_internal.job_retries (job_id, address, attempts, not_before)
SELECT o.job_id, o.ordinal, o.attempts, coalesce(r.not_before, now())
FROM email_verify_internal.job_ordinals_0_6 o
JOIN email_verify_internal.jobs j ON j.id = o.job_id AND j.state IN ('queued', 'running')
LEFT JOIN email_verify_internal.job_retries_0_6 r ON r.job_id = o.job_id AND r.address_key = o.address_key
WHERE o.state <> 'done';
UPDATE email_verify_internal.jobs j
SET claimed_through = j.unique_addresses
WHERE j.state IN ('queued', 'running');
DELETE FROM email_verify_internal.job_claims;

DROP TABLE email_verify_internal.job_ordinals_0_6;
DROP FUNCTION email_verify_internal.job_verdict_slots(email_verify.result[]);

-- What read the old tables (97_jobs.sql, 98_webhooks.sql), then the tables.
DROP VIEW email_verify_internal.visible_job_results;
DROP FUNCTION email_verify_internal.job_add(bigint, text[]);
ALTER EXTENSION email_verify DROP TABLE email_verify_internal.job_inputs;
ALTER EXTENSION email_verify DROP TABLE email_verify_internal.job_addresses;
ALTER EXTENSION email_verify DROP TABLE email_verify_internal.job_retries_0_6;
DROP TABLE email_verify_internal.job_inputs, email_verify_internal.job_addresses,
    email_verify_internal.job_retries_0_6;

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
CREATE OR REPLACE FUNCTION email_verify_internal.job_seal(job bigint)
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
CREATE OR REPLACE FUNCTION email_verify.job_results(job_id bigint)
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

-- extension/src/98_webhooks.sql: the inline results and retention read the new tables.

CREATE OR REPLACE FUNCTION email_verify_internal.event_body(job bigint, event_type text, event_id uuid)
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

CREATE OR REPLACE FUNCTION email_verify_internal.remove_expired_jobs(max_jobs int)
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

-- Privileges (extension/src/98_webhooks.sql).
REVOKE ALL ON email_verify_internal.job_input_chunks, email_verify_internal.job_address_chunks,
    email_verify_internal.job_retries, email_verify_internal.visible_job_results
FROM PUBLIC;
GRANT SELECT ON email_verify_internal.visible_job_results TO PUBLIC;
REVOKE EXECUTE ON FUNCTION email_verify_internal.may_read_job(bigint),
    email_verify_internal.job_chunk_rows(bigint, text[], int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION email_verify_internal.job_chunk_rows(bigint, text[], int[]) TO email_verify_worker;
GRANT SELECT, UPDATE ON email_verify_internal.job_address_chunks TO email_verify_worker;
GRANT SELECT ON email_verify_internal.job_input_chunks TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.job_retries TO email_verify_worker;
GRANT DELETE ON email_verify_internal.job_input_chunks, email_verify_internal.job_address_chunks
    TO email_verify_worker;

-- Probers on other machines: extension/src/99_remote_probers.sql, new.

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

-- extension/src/40_helpers.sql: a running prober on another machine drains the queue too.
CREATE OR REPLACE FUNCTION email_verify_internal.why_no_worker()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (plpgsql: worker_stats and probers are created further down this script)
    RETURN CASE
        WHEN EXISTS (SELECT FROM email_verify_internal.probers p
                     WHERE p.stopped_at IS NULL AND p.heartbeat_at > now() - interval '2 minutes') THEN
            NULL
        WHEN (SELECT s.batches FROM email_verify.worker_stats() s) IS NULL THEN
            'email_verify is not in shared_preload_libraries, so no background worker runs.'
        WHEN current_setting('email_verify.workers')::int = 0 THEN
            'email_verify.workers is 0.'
        WHEN current_setting('email_verify.database') <> current_database() THEN
            format('The workers work in database %s (email_verify.database).',
                   quote_ident(current_setting('email_verify.database')))
    END;
END
$$;

-- Partitioned tables (extension/src/40_helpers.sql, 50_watch.sql,
-- 60_ddl.sql): unwatch() accepts a partition watched on its own before it
-- was attached, watch() refuses a partitioned table one of whose partitions
-- is watched so, and the DDL follower looks at the watch of a partitioned
-- table after DDL on any table below it, CREATE FOREIGN TABLE ... PARTITION
-- OF included.

CREATE OR REPLACE FUNCTION email_verify_internal.check_owner(tbl regclass)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    owner oid;
    persistence "char";
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT relkind, relowner, relpersistence INTO kind, owner, persistence
    FROM pg_class WHERE oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', tbl::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF NOT pg_has_role(email_verify_internal.calling_role(), owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    -- A temporary table lives in one session's own schema, where the worker
    -- cannot read it, and goes without a trace (no event trigger fires).
    IF persistence = 't' THEN
        RAISE EXCEPTION '% is a temporary table', tbl
            USING ERRCODE = 'wrong_object_type', DETAIL = 'The background worker cannot see another session''s temporary tables.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION email_verify.watch(tbl regclass, col name, level text DEFAULT 'smtp',
        mode text DEFAULT 'async', reject_invalid boolean DEFAULT false,
        recheck_after interval DEFAULT '30 days', policy text DEFAULT NULL, sync_budget interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
SET TimeZone = 'UTC'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$
DECLARE
    caller name := email_verify_internal.calling_role();
    k record;
    col_attnum int2;
    col_category "char";
    col_generated "char";
    verdict_columns CONSTANT text[][] := ARRAY[['_status', 'text'], ['_reason', 'text'],
                                               ['_catch_all', 'boolean'],
                                               ['_verified_at', 'timestamp with time zone']];
    existing_type text;
    problem text;
    old email_verify.watches;
    w email_verify.watches;
    trigger_prefix text;
    trigger_name name;
    qcol text := quote_ident(col);
    own_watch regclass;
BEGIN
    PERFORM email_verify_internal.check_owner(tbl);
    -- A partition is watched through its partitioned table: the row triggers
    -- are cloned to every partition, present and future, and one sweep and
    -- one write-back by key serve them all. Two watches on the same rows
    -- would queue and probe every row twice.
    IF (SELECT c.relispartition FROM pg_class c WHERE c.oid = tbl) THEN
        RAISE EXCEPTION '% is a partition', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Watch the partitioned table.';
    END IF;
    SELECT o.relid INTO own_watch FROM email_verify.watches o
    WHERE o.column_name = col AND o.relid <> tbl AND tbl IN (SELECT pg_partition_ancestors(o.relid))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'partition % of table % is watched on its own', own_watch, tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It was watched before it was attached; two watches would queue its rows twice.',
                  HINT = format('Call email_verify.unwatch(%L, %L) first: the watch of %s covers its partitions.',
                                own_watch, col, tbl);
    END IF;
    IF col IS NULL OR watch.level IS NULL OR watch.mode IS NULL OR watch.reject_invalid IS NULL
       OR watch.recheck_after IS NULL THEN
        RAISE EXCEPTION 'arguments of email_verify.watch must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Case-insensitive, as the setting and verify_email's level are.
    watch.level := lower(watch.level);
    IF watch.level NOT IN ('syntax', 'dns', 'smtp') THEN
        RAISE EXCEPTION 'invalid level "%"', watch.level
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use syntax, dns or smtp.';
    END IF;
    IF watch.mode NOT IN ('async', 'sync') THEN
        RAISE EXCEPTION 'invalid mode "%"', watch.mode
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use async or sync.';
    END IF;
    IF watch.reject_invalid AND watch.mode <> 'sync' THEN
        RAISE EXCEPTION 'reject_invalid needs mode ''sync''' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'In async mode the row is written before its address is verified.';
    END IF;
    IF (watch.policy IS NOT NULL OR watch.sync_budget IS NOT NULL) AND watch.mode <> 'sync' THEN
        RAISE EXCEPTION '% needs mode ''sync''', CASE WHEN watch.policy IS NOT NULL THEN 'policy' ELSE 'sync_budget' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'In async mode the row is written before its address is verified.';
    END IF;
    IF watch.policy IS NOT NULL AND watch.reject_invalid THEN
        RAISE EXCEPTION 'give either reject_invalid or policy, not both' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'reject_invalid is a policy that blocks invalid addresses and nothing else.';
    END IF;
    IF watch.policy IS NOT NULL AND NOT EXISTS (SELECT FROM email_verify.signup_policies p WHERE p.name = watch.policy) THEN
        RAISE EXCEPTION 'signup policy "%" does not exist', watch.policy USING ERRCODE = 'undefined_object',
            HINT = 'The policies are the rows of email_verify.signup_policies.';
    END IF;
    IF watch.sync_budget <= interval '0' OR watch.sync_budget > interval '1 minute' THEN
        RAISE EXCEPTION 'sync_budget must be positive and at most 1 minute' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF watch.recheck_after <= interval '0' OR watch.recheck_after > interval '100 years' THEN
        RAISE EXCEPTION 'recheck_after must be positive and at most 100 years' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF watch.level <> 'syntax' AND NOT email_verify_internal.may_probe(caller) THEN
        RAISE EXCEPTION 'permission denied to watch at level "%"', watch.level
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Levels dns and smtp send network traffic on the server''s behalf.',
                  HINT = 'A superuser can GRANT email_verify_prober to the role; level => ''syntax'' needs no privilege.';
    END IF;

    -- Lock out writers until COMMIT: no row slips between the triggers and the
    -- initial enqueue.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);

    SELECT a.attnum, t.typcategory, a.attgenerated INTO col_attnum, col_category, col_generated
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column % of table % does not exist', qcol, tbl USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A domain has its base type's category: text, varchar, char(n), citext ...
    IF col_category <> 'S' THEN
        RAISE EXCEPTION 'column % of table % is not of a string type', qcol, tbl
            USING ERRCODE = 'datatype_mismatch', HINT = 'Watch a text, varchar or citext column.';
    END IF;
    IF col_generated <> '' THEN
        RAISE EXCEPTION 'column % of table % is a generated column', qcol, tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'BEFORE triggers cannot see the value of a generated column.';
    END IF;
    -- Longer names would be truncated to NAMEDATALEN and no longer be found.
    IF octet_length(col || '_verified_at') > 63 THEN
        RAISE EXCEPTION 'column name % is too long to add %_verified_at', qcol, col
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    k := email_verify_internal.key_sql(tbl, NULL, 'o', 'n');
    IF k.pk_columns IS NULL THEN
        RAISE EXCEPTION 'table % has no primary key', tbl
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Verdicts for column %s are written back by primary key.', qcol);
    END IF;
    PERFORM email_verify_internal.check_supported(tbl, k.pk_columns);

    -- The verdict columns: added when missing, refused when of another type.
    FOR i IN 1 .. array_length(verdict_columns, 1) LOOP
        SELECT format_type(a.atttypid, a.atttypmod) INTO existing_type
        FROM pg_attribute a
        WHERE a.attrelid = tbl AND a.attname = col || verdict_columns[i][1] AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', tbl, col || verdict_columns[i][1], verdict_columns[i][2]);
        ELSIF existing_type <> verdict_columns[i][2] THEN
            RAISE EXCEPTION 'column % of table % has type %, not %', quote_ident(col || verdict_columns[i][1]),
                tbl, existing_type, verdict_columns[i][2]
                USING ERRCODE = 'datatype_mismatch';
        END IF;
    END LOOP;

    -- Where a policy's decision is recorded.
    IF watch.policy IS NOT NULL THEN
        SELECT format_type(a.atttypid, a.atttypmod) INTO existing_type
        FROM pg_attribute a
        WHERE a.attrelid = tbl AND a.attname = col || '_decision' AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I text', tbl, col || '_decision');
        ELSIF existing_type <> 'text' THEN
            RAISE EXCEPTION 'column % of table % has type %, not text', quote_ident(col || '_decision'), tbl,
                existing_type USING ERRCODE = 'datatype_mismatch';
        END IF;
    END IF;

    -- The types the privileged readers need (column_problem): a string type of
    -- a superuser's for the watched column, and the verdict columns as above.
    problem := email_verify_internal.column_problem(tbl, col);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'cannot watch column % of table %: %', qcol, tbl, problem
            USING ERRCODE = 'datatype_mismatch';
    END IF;

    -- The worker finds its work through an index on <col>_verified_at: rows
    -- without a verdict (enqueue_unverified) and the oldest verdicts
    -- (enqueue_stale). Rows without an address are left out of it, so that
    -- they are never walked. Any index on the column serves as well (e.g. one
    -- made CONCURRENTLY beforehand).
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = tbl AND a.attname = col || '_verified_at'
                     AND (i.indpred IS NULL
                          OR pg_get_expr(i.indpred, i.indrelid) = format('(%I IS NOT NULL)', col))) THEN
        EXECUTE format('CREATE INDEX ON %s (%I) WHERE %I IS NOT NULL', tbl, col || '_verified_at', col);
    END IF;

    SELECT * INTO old FROM email_verify.watches WHERE relid = tbl AND column_name = col FOR UPDATE;
    IF FOUND THEN
        UPDATE email_verify.watches
        SET level = watch.level, mode = watch.mode, reject_invalid = watch.reject_invalid,
            recheck_after = watch.recheck_after, key_columns = k.pk_columns, suspended_reason = NULL,
            policy = watch.policy, sync_budget = watch.sync_budget
        WHERE id = old.id
        RETURNING * INTO w;
        -- Items keyed by a primary key the table no longer has can never be
        -- applied; failed items get another chance.
        DELETE FROM email_verify.queue
        WHERE watch_id = w.id AND (state = 'failed' OR old.key_columns IS DISTINCT FROM w.key_columns);
    ELSE
        INSERT INTO email_verify.watches (relid, column_name, level, mode, reject_invalid, recheck_after, key_columns,
                                          policy, sync_budget)
        VALUES (tbl, col, watch.level, watch.mode, watch.reject_invalid, watch.recheck_after, k.pk_columns,
                watch.policy, watch.sync_budget)
        RETURNING * INTO w;
    END IF;

    -- The workers' role reads the table while it is watched (95_worker_role.sql).
    PERFORM email_verify_internal.let_worker_read(tbl);

    -- (Re)create the triggers for the mode asked for.
    FOR trigger_name IN SELECT email_verify_internal.watch_triggers(tbl, col) LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, tbl);
    END LOOP;
    trigger_prefix := 'email_verify_' || col;
    IF octet_length(trigger_prefix || '_check_insert') > 63 THEN
        trigger_prefix := 'email_verify_' || col_attnum;
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.watch_wake(%L)',
                   trigger_prefix || '_wake_insert', tbl, col);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %I ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.watch_wake(%L)',
                   trigger_prefix || '_wake_update', col, tbl, col);
    IF w.mode = 'async' THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %s FOR EACH ROW
                        WHEN (OLD.%I::text IS DISTINCT FROM NEW.%I::text)
                        EXECUTE FUNCTION email_verify_internal.watch_clear_verdict(%L)',
                       trigger_prefix || '_clear', col, tbl, col, col, col);
    ELSE
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW
                        EXECUTE FUNCTION email_verify_internal.watch_check(%L)',
                       trigger_prefix || '_check_insert', tbl, col);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF %I ON %s FOR EACH ROW
                        WHEN (OLD.%I::text IS DISTINCT FROM NEW.%I::text)
                        EXECUTE FUNCTION email_verify_internal.watch_check(%L)',
                       trigger_prefix || '_check_update', col, tbl, col, col, col);
    END IF;

    -- The rows already there. Those without a verdict are waiting as they are:
    -- the worker claims them straight from the table (see "Triggers" above), so
    -- they cost the queue one write each. Those with a verdict are queued for a
    -- new watch or a new level (their verdicts were not reached at this level),
    -- otherwise they wait until they are stale.
    IF old.id IS NULL OR old.level <> w.level OR old.key_columns IS DISTINCT FROM w.key_columns THEN
        EXECUTE email_verify_internal.enqueue_sql(w, tbl::text, format('n.%I IS NOT NULL', col || '_verified_at'),
                                         fresh => old.id IS NULL)
            USING w.id, NULL::int, NULL::interval, w.level;
    END IF;
    PERFORM email_verify_internal.wake_workers_at_commit();

    -- A new watch nobody will serve is almost always a mistake in the setup.
    IF old.id IS NULL AND email_verify_internal.why_no_worker() IS NOT NULL THEN
        RAISE WARNING 'no email_verify worker serves database %: the rows will wait', quote_ident(current_database())
            USING DETAIL = email_verify_internal.why_no_worker(),
                  HINT = 'See "The background workers" in the README of email_verify.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION email_verify_internal.follow_altered_tables()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, email_verify, pg_temp
AS $$
DECLARE
    w email_verify.watches;
    k record;
    problem text;
BEGIN
    FOR w IN
        SELECT * FROM email_verify.watches o
        WHERE EXISTS (SELECT FROM email_verify.watches a
                      WHERE a.column_name = o.column_name AND a.relid <> o.relid
                        AND a.relid IN (SELECT pg_partition_ancestors(o.relid)))
        ORDER BY id
    LOOP
        RAISE NOTICE 'email_verify: column % of table % is now watched through its partitioned table',
            quote_ident(w.column_name), w.relid;
        PERFORM email_verify_internal.end_watch(w.id);
    END LOOP;
    FOR w IN
        SELECT * FROM email_verify.watches
        WHERE relid IN (SELECT t.relid
                        FROM pg_event_trigger_ddl_commands() c
                        -- (a table that is no partition has no ancestors, not even itself)
                        CROSS JOIN LATERAL (SELECT c.objid UNION SELECT pg_partition_ancestors(c.objid)) t(relid)
                        WHERE c.classid = 'pg_class'::regclass)
        ORDER BY id
    LOOP
        -- The columns are vetted after every ALTER TABLE: a watch whose
        -- watched or verdict columns changed to types the privileged readers
        -- must not read is suspended until they are fixed.
        problem := email_verify_internal.column_problem(w.relid, w.column_name);
        IF problem IS DISTINCT FROM w.suspended_reason
           AND (problem IS NOT NULL OR w.suspended_reason LIKE 'column %') THEN
            UPDATE email_verify.watches SET suspended_reason = problem WHERE id = w.id RETURNING * INTO w;
            IF problem IS NOT NULL THEN
                RAISE WARNING 'email_verify: the watch of column % of table % is suspended: %',
                    quote_ident(w.column_name), w.relid, problem
                    USING HINT = format('Restore the column, or call email_verify.unwatch(%L, %L).', w.relid, w.column_name);
            ELSE
                RAISE NOTICE 'email_verify: the watch of column % of table % is active again',
                    quote_ident(w.column_name), w.relid;
                PERFORM email_verify_internal.wake_workers_at_commit();
            END IF;
        END IF;
        CONTINUE WHEN problem IS NOT NULL;
        -- A table moved to another schema (SET SCHEMA) stays readable.
        PERFORM email_verify_internal.let_worker_read(w.relid);
        k := email_verify_internal.key_sql(w.relid, NULL, 'o', 'n');
        IF k.pk_columns IS NOT NULL THEN
            BEGIN
                PERFORM email_verify_internal.check_supported(w.relid, k.pk_columns);
            EXCEPTION WHEN feature_not_supported THEN
                PERFORM email_verify_internal.end_watch(w.id);
                RAISE WARNING 'email_verify: column % of table % is no longer watched: %',
                    quote_ident(w.column_name), w.relid, SQLERRM;
                CONTINUE;
            END;
        END IF;
        CONTINUE WHEN k.pk_columns IS NOT DISTINCT FROM w.key_columns;
        IF k.pk_columns IS NULL THEN
            RAISE WARNING 'email_verify: table % has no primary key; verdicts for column % wait until it has one',
                w.relid, quote_ident(w.column_name);
            CONTINUE;
        END IF;
        UPDATE email_verify.watches SET key_columns = k.pk_columns WHERE id = w.id RETURNING * INTO w;
        -- Items keyed by the old key can never be applied. The rows they stood
        -- for are still without a verdict: the worker queues them again by the
        -- new key (stale ones when they are found stale).
        DELETE FROM email_verify.queue WHERE watch_id = w.id;
        PERFORM email_verify_internal.wake_workers_at_commit();
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'email_verify: could not follow ALTER TABLE: %', SQLERRM;
END
$$;

DROP EVENT TRIGGER email_verify_follow_altered_tables;
CREATE EVENT TRIGGER email_verify_follow_altered_tables ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'CREATE FOREIGN TABLE')
    EXECUTE FUNCTION email_verify_internal.follow_altered_tables();

-- extension/src/30_tables.sql: the claims take due retries first (their
-- index), not after the backlog queued before them.
CREATE INDEX queue_retry_idx ON email_verify.queue (not_before, id) WHERE state = 'pending' AND attempts > 0;
