-- Privileges: what PUBLIC may do, in one place. Everything not granted here
-- is the extension owner's (the superuser who created it) alone, but what the
-- workers' role is granted in 95_worker_role.sql.

GRANT USAGE ON SCHEMA email_verify TO PUBLIC;
-- Names only: a sync watch's trigger, run as the writer, calls
-- email_verify_internal.sync_verdict; EXECUTE on the rest is revoked below.
GRANT USAGE ON SCHEMA email_verify_internal TO PUBLIC;
-- Every backend reads the table to build its list cache.
GRANT SELECT ON email_verify.list_entries TO PUBLIC;
-- And this one for its provider rules (85_providers.sql); only the owner writes it.
GRANT SELECT ON email_verify.providers TO PUBLIC;

-- In-place verification: the tables are internal, the views are for all (each
-- shows a role only its own watches, see may_see).
REVOKE ALL ON email_verify.watches, email_verify.queue, email_verify.worker_counters FROM PUBLIC;
GRANT SELECT ON email_verify.queue_stats, email_verify.verdict_stats, email_verify.watch_status TO PUBLIC;

-- The internal helpers, the triggers and the worker's functions. watch(),
-- unwatch(), sync_verdict() (the sync trigger's way to the probe, which
-- checks its caller itself), may_see() and unqueued_rows() stay callable.
REVOKE EXECUTE ON FUNCTION
    -- 40_helpers.sql
    email_verify_internal.wake_workers_at_commit(),
    email_verify_internal.calling_role(),
    email_verify_internal.may_probe(name),
    email_verify_internal.key_sql(regclass, name[], text, text),
    email_verify_internal.watch_of(oid, name),
    email_verify_internal.queueable_sql(email_verify.watches, text, text, boolean, text, int),
    email_verify_internal.enqueue_sql(email_verify.watches, text, text, boolean, text, int, boolean),
    email_verify_internal.try_lock_table(regclass),
    email_verify_internal.column_problem(regclass, name),
    email_verify_internal.underlying_type(oid, boolean),
    email_verify_internal.trusted_type(pg_type),
    email_verify_internal.may_read(email_verify.watches),
    email_verify_internal.check_supported(regclass, name[]),
    email_verify_internal.check_owner(regclass),
    email_verify_internal.why_no_worker(),
    -- 50_watch.sql
    email_verify_internal.watch_wake(),
    email_verify_internal.watch_clear_verdict(),
    email_verify_internal.sync_probe(regclass, name, text, oid),
    email_verify_internal.watch_check(),
    email_verify_internal.watch_triggers(regclass, name),
    email_verify_internal.end_watch(int),
    email_verify_internal.suspend_watch(int, text),
    -- 60_ddl.sql
    email_verify_internal.forget_dropped_watches(),
    email_verify_internal.follow_altered_tables(),
    -- 70_worker.sql
    email_verify_internal.enqueue_unverified(int),
    email_verify_internal.enqueue_stale(int),
    email_verify_internal.claim_limit(),
    email_verify_internal.claim_batch(int, int, interval),
    email_verify_internal.retry_later(bigint[], text[], interval[]),
    email_verify_internal.release_claims(int),
    email_verify_internal.apply_verdicts(jsonb)
FROM PUBLIC;
