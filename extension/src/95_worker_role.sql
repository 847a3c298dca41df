-- The workers' role. The background workers log in as email_verify_worker,
-- not as a superuser (src/pg/worker_launcher.cpp): a role with LOGIN, because
-- PostgreSQL 15 lets a background worker connect as nothing else, but no
-- password, and every client login as it is refused
-- (src/pg/worker_login_guard.cpp). Roles belong to the cluster: the first
-- CREATE EXTENSION makes it, the next ones (in other databases) find it, and
-- each resets its attributes, whatever was done to it meanwhile.
--   * BYPASSRLS: the sweep reads the watched tables as this role, and a row
--     security policy would be code of the table's owner evaluated outside the
--     owner switch (src/pg/owner_context.cpp); bypassing policies, the sweep
--     reads only the columns column_problem() vets.
--   * It reads a table only while watched: watch() grants it SELECT on the
--     table and USAGE on its schema (let_worker_read), and the end of the
--     last watch revokes them (end_worker_read); the sweep skips a table it
--     may not read (src/pg/queue_claim.cpp). It writes a table only through
--     the owner switch, as the table's owner.
--   * Inside the extension, what the worker's functions (70_worker.sql) touch.
DO $$
BEGIN
    IF to_regrole('email_verify_worker') IS NULL THEN
        CREATE ROLE email_verify_worker LOGIN;
    END IF;
END
$$;
ALTER ROLE email_verify_worker NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT LOGIN NOREPLICATION BYPASSRLS
    CONNECTION LIMIT -1 PASSWORD NULL;
COMMENT ON ROLE email_verify_worker IS
    'email_verify: the background workers'' role; clients cannot log in as it';

GRANT USAGE ON SCHEMA email_verify_internal TO email_verify_worker;
GRANT SELECT, UPDATE ON email_verify.watches TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify.queue TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify.queue_id_seq TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE ON email_verify.worker_counters TO email_verify_worker;
GRANT EXECUTE ON FUNCTION
    -- 40_helpers.sql
    email_verify_internal.wake_workers_at_commit(),
    email_verify_internal.key_sql(regclass, name[], text, text),
    email_verify_internal.queueable_sql(email_verify.watches, text, text, boolean, text, int),
    email_verify_internal.enqueue_sql(email_verify.watches, text, text, boolean, text, int, boolean),
    email_verify_internal.try_lock_table(regclass),
    email_verify_internal.column_problem(regclass, name),
    email_verify_internal.underlying_type(oid, boolean),
    email_verify_internal.trusted_type(pg_type),
    -- 50_watch.sql
    email_verify_internal.suspend_watch(int, text),
    -- 70_worker.sql
    email_verify_internal.enqueue_unverified(int),
    email_verify_internal.enqueue_stale(int),
    email_verify_internal.claim_limit(),
    email_verify_internal.claim_batch(int, int, interval),
    email_verify_internal.retry_later(bigint[], text[], interval[]),
    email_verify_internal.release_claims(int),
    email_verify_internal.apply_verdicts(jsonb)
TO email_verify_worker;

-- What the workers' role may read of a watched table: the table, and its
-- schema's names. Called by watch() and, after every ALTER TABLE of a watched
-- table (SET SCHEMA moves it), by follow_altered_tables.
CREATE FUNCTION email_verify_internal.let_worker_read(tbl regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO email_verify_worker',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl));
    EXECUTE format('GRANT SELECT ON %s TO email_verify_worker', tbl);
END
$$;

-- The end of watch `ending`: the workers' role no longer reads its table once
-- no other watch is on it, nor the table's schema once no watched table is
-- left in it.
CREATE FUNCTION email_verify_internal.end_worker_read(tbl regclass, ending int)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    schema oid := (SELECT c.relnamespace FROM pg_class c WHERE c.oid = tbl);
BEGIN
    IF NOT EXISTS (SELECT FROM email_verify.watches o WHERE o.relid = tbl AND o.id <> ending) THEN
        EXECUTE format('REVOKE SELECT ON %s FROM email_verify_worker', tbl);
    END IF;
    IF NOT EXISTS (SELECT FROM email_verify.watches o JOIN pg_class c ON c.oid = o.relid
                   WHERE c.relnamespace = schema AND o.id <> ending) THEN
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM email_verify_worker',
                       (SELECT n.nspname FROM pg_namespace n WHERE n.oid = schema));
    END IF;
END
$$;

REVOKE EXECUTE ON FUNCTION email_verify_internal.let_worker_read(regclass), email_verify_internal.end_worker_read(regclass, int)
FROM PUBLIC;

-- The launcher starts the workers once this commits.
SELECT email_verify_internal.wake_workers_at_commit();
