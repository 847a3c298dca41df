-- In-place verification, its tables. watch() (50_watch.sql) puts verdict
-- columns and triggers on a table; rows without a verdict wait in the table
-- itself, and the background worker (src/pg/worker.cpp) claims them through
-- claim_batch, writes their verdicts with apply_verdicts, retries them with
-- retry_later and re-checks stale rows through enqueue_stale (70_worker.sql).

-- Security model ---------------------------------------------------------------
-- watches, queue and worker_counters are internal: nobody but their owner (the
-- superuser who created the extension) reads or writes them directly.
--   * watch()/unwatch() are SECURITY DEFINER and check the *calling* role: it must
--     have the privileges of the table's owner, and for levels dns/smtp be a
--     superuser or have the privileges of email_verify_prober (as verify_email
--     does). Inside a SECURITY DEFINER function current_user is the definer, so the
--     caller is taken from the role setting (SET ROLE) or, without one, the session
--     user: neither can be changed without holding that role.
--   * The triggers run as the writer of the row, but for watch_wake, which only
--     wakes the workers. A sync watch's check borrows the probe alone:
--     sync_verdict checks that the writer may write the table, then calls the
--     SECURITY DEFINER sync_probe ("Sync watches" in 50_watch.sql); the
--     authority to probe is the one checked when watch() was called. The
--     trigger functions take their options from the watches row of the table
--     they fire on, and only watch() can attach them (EXECUTE is revoked from
--     PUBLIC).
--   * The privileged readers (the worker's sweep, queue_stats, watch itself)
--     read only the watched column and the key columns of a row, whose types
--     column_problem() and check_supported() vet (40_helpers.sql), so no code
--     of the table's owner (a cast, a domain check) runs with the extension's
--     privileges.
--   * The worker's functions are not executable by PUBLIC; apply_verdicts writes
--     to a table through run_as_table_owner: as the table's owner, inside a
--     security-restricted operation (src/pg/owner_context.cpp).
--   * The workers log in as email_verify_worker, no superuser: it may run the
--     worker's functions and read a table only while the table is watched
--     (95_worker_role.sql).
-- Every function pins search_path, and dynamic SQL quotes every name (format %I)
-- and compares keys with the primary key index's own operators.

-- Tables -------------------------------------------------------------------------

-- One row per watched column. Kept by pg_dump (the relid is dumped as a name).
-- No watch may stop the others: recheck_after is bounded, so that
-- now() - recheck_after stays a timestamp for the stale re-check of every
-- watch (and check_owner refuses temporary tables). suspended_reason is set
-- when the watch's columns change to types the privileged readers must not
-- read (column_problem, follow_altered_tables) or when its write-back outlived
-- email_verify.write_back_timeout ("Suspended watches" in 50_watch.sql).
CREATE TABLE email_verify.watches (
    id               serial PRIMARY KEY,
    relid            regclass NOT NULL,
    column_name      name NOT NULL,
    level            text NOT NULL CHECK (level IN ('syntax', 'dns', 'smtp')),
    mode             text NOT NULL CHECK (mode IN ('async', 'sync')),
    reject_invalid   boolean NOT NULL,
    recheck_after    interval NOT NULL CHECK (recheck_after > interval '0'),
    key_columns      name[] NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    suspended_reason text,
    -- Sync watches: the signup policy deciding each row (NULL: none; see
    -- 99_signup.sql) and the inline check's time budget (NULL: the check
    -- stops at level dns).
    policy           text,
    sync_budget      interval CHECK (sync_budget > interval '0' AND sync_budget <= interval '1 minute'),
    UNIQUE (relid, column_name),
    CONSTRAINT watches_recheck_after_bounded CHECK (recheck_after <= interval '100 years')
);
COMMENT ON TABLE email_verify.watches IS
    'watched columns (email_verify.watch): level, mode and the primary key the verdicts are written back by';
COMMENT ON COLUMN email_verify.watches.suspended_reason IS
    'why the watch is suspended (its columns changed to types email_verify does not read); NULL when active';

-- Addresses waiting for the worker: pending, claimed by a worker until
-- lease_until, or failed (its verdict could not be written back). An item is
-- deleted once its verdict is applied (counted in worker_counters), so the queue
-- holds only open work; 'done' is never used.
-- row_key is the row's primary key as {"column": value, ...} (to_jsonb of each
-- value; jsonb_to_record with the key's types reads it back).
-- watch_id has no foreign key to watches: pg_restore -j restores the two
-- tables' data in parallel, and the key's check failed the queue's COPY
-- whenever it came first, so the open items were lost. end_watch deletes a
-- watch's items itself, and the sweep holds the watch row (FOR KEY SHARE)
-- while it inserts items for it.
CREATE TABLE email_verify.queue (
    id          bigserial PRIMARY KEY,
    watch_id    int NOT NULL,
    row_key     jsonb NOT NULL,
    email       text NOT NULL,
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    claimed_by  int,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    last_status text,
    last_reason text
);
COMMENT ON TABLE email_verify.queue IS
    'addresses waiting for the background worker; items are deleted when their verdict is applied';

-- claim_batch takes the oldest ready pending items ...
CREATE INDEX queue_pending_idx ON email_verify.queue (not_before, id) WHERE state = 'pending';
-- ... retries first (src/pg/queue_items.h) ...
CREATE INDEX queue_retry_idx ON email_verify.queue (not_before, id) WHERE state = 'pending' AND attempts > 0;
-- ... and items whose lease ran out (a worker that died mid-batch).
CREATE INDEX queue_claimed_idx ON email_verify.queue (state, lease_until) WHERE state = 'claimed';
-- What the "already queued?" checks probe, over every state: a row being probed
-- (claimed) or parked (failed) is not queued a second time. Deliberately not
-- unique: a unique index would make one enqueue wait for another's transaction
-- in progress, and the same row may be queued twice by a race (the second
-- probe is wasted, never wrong: apply_verdicts checks the address).
CREATE INDEX queue_row_idx ON email_verify.queue (watch_id, row_key);

-- Verdicts applied since the extension was installed, by status and reason
-- (counting over the watched tables would mean scanning them).
CREATE TABLE email_verify.worker_counters (
    status text NOT NULL,
    reason text NOT NULL,
    n      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (status, reason)
);
COMMENT ON TABLE email_verify.worker_counters IS
    'verdicts received by apply_verdicts, by status and reason ('''' when the verdict had none)';

-- The watch configuration and the open work survive pg_dump/restore (the
-- watched tables' triggers and verdict columns are dumped with the tables).
SELECT pg_catalog.pg_extension_config_dump('email_verify.watches', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.watches_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.queue', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify.queue_id_seq', '');
