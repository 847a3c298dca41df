-- In-place verification, the background worker's side (src/pg/worker.cpp):
-- finding work, claiming it, putting it back and writing verdicts. None of
-- these is executable by PUBLIC (90_privileges.sql). The C functions pin
-- search_path: their statements are prepared once under pg_catalog, pg_temp
-- (src/pg/spi_plans.cpp) and would be analysed again under any other path.

-- Finding work ------------------------------------------------------------------

-- The worker's two ways of finding work, per watch, up to max_rows rows each
-- (src/pg/queue_claim.cpp, the sweep): rows that have an address but no verdict
-- and no queue item for that address (rows inserted, or whose address changed,
-- since the last call), and rows whose verdict is older than the watch's
-- recheck_after, oldest first. Both walk the <col>_verified_at index (rows
-- without an address are not in it), from its NULL end or from its oldest
-- verdict, so they read about as many rows as the queue holds of the watch's
-- unverified ones plus what they queue; scans that would read the whole table
-- (a sequential or bitmap scan, a hash over the queue) are turned off, and so is
-- materializing the watch's queue items for the "already queued?" test, which a
-- queue whose statistics say it is empty invites, and which costs rows x items
-- when it is not. One worker at a time walks a watch (a transaction advisory
-- lock; the others skip it), so two never queue the same rows, and a watch that
-- a privileged reader may not read now (may_read: suspended, its table locked,
-- its columns changed) is skipped. The statement of each pass is built by
-- enqueue_sql.

-- Rows inserted, or whose address changed, since the last call (see above).
CREATE FUNCTION email_verify_internal.enqueue_unverified(max_rows int)
RETURNS int
AS 'MODULE_PATHNAME', 'enqueue_unverified'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.enqueue_unverified(int) IS
    'worker: queues, per watch, up to max_rows rows that have an address but no verdict and no queue item; returns the number queued';

-- Queues, for each watch, up to max_rows rows whose verdict is older than the
-- watch's recheck_after, oldest first (see above), skipping rows already
-- queued. Returns the number queued.
CREATE FUNCTION email_verify_internal.enqueue_stale(max_rows int)
RETURNS int
AS 'MODULE_PATHNAME', 'enqueue_stale'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.enqueue_stale(int) IS
    'worker: queues, per watch, up to max_rows rows whose verdict is older than recheck_after; returns the number queued';

-- Claiming and putting back -----------------------------------------------------

-- How many times an item may be claimed: the retries of transient verdicts
-- (email_verify.retry_attempts) and two more for claims that came to nothing (a
-- worker died with the item, or its write-back failed as a whole). An item past
-- it is given up, state 'failed', instead of going round for ever. The rule is
-- the core's retry policy (src/core/queue/item_lifecycle.h).
CREATE FUNCTION email_verify_internal.claim_limit()
RETURNS int
AS 'MODULE_PATHNAME', 'claim_limit'
LANGUAGE C STABLE;

-- The worker's claim (src/pg/queue_claim.cpp, which the worker calls itself):
-- expired claims that used up their attempts are given up, then what the queue
-- holds ready is claimed (first items whose lease ran out, their worker died:
-- counted as an attempt, so an address that kills workers is not retried for
-- ever; then pending items, oldest first; SKIP LOCKED, so workers claim side
-- by side; the items of suspended watches stay), topped up, when that falls short of
-- batch_size, with rows new to the queue, inserted already claimed (the sweep
-- above). The table is swept only then, so rows inserted behind a long queue
-- wait their turn instead of being walked over on every claim.
CREATE FUNCTION email_verify_internal.claim_batch(worker_id int, batch_size int, lease interval DEFAULT '5 minutes')
RETURNS TABLE(queue_id bigint, watch_id int, row_key jsonb, email text, level text, attempts int)
AS 'MODULE_PATHNAME', 'claim_batch'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

-- Puts claimed items back for a later attempt (greylisting, temporary failures,
-- timeouts): pending again after its delay (NULL: at once), one attempt more,
-- last_status 'unknown' and last_reason the reason given (NULL: kept). An item
-- whose row was queued anew meanwhile (its address changed) is dropped instead:
-- the newer pending item stands for it; one that has used up claim_limit()
-- attempts is given up. Returns the number put back. Its C++ is
-- src/pg/queue_items.cpp, where every change of an item's state is made.
CREATE FUNCTION email_verify_internal.retry_later(queue_ids bigint[], reasons text[], delays interval[])
RETURNS int
AS 'MODULE_PATHNAME', 'retry_later'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.retry_later(bigint[], text[], interval[]) IS
    'worker: returns claimed items to the queue after a delay, one attempt more';

-- A worker starting again frees what it had claimed before it stopped, instead
-- of waiting for the leases to run out (as retry_later, at once, no reason).
-- Returns the number freed.
CREATE FUNCTION email_verify_internal.release_claims(worker_id int)
RETURNS int
AS 'MODULE_PATHNAME', 'release_claims'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.release_claims(int) IS
    'worker: frees the items a worker had claimed (on its start after a crash or restart)';

-- Writing verdicts back ---------------------------------------------------------

-- Writes a batch of verdicts back to the watched rows and settles their queue
-- items; returns the number of rows written. It is the SQL face of the one
-- write-back path, src/pg/verdict_write_back.cpp, which the worker calls with
-- typed verdicts:
--   * one UPDATE per watch, matching each row by its primary key and by the
--     address the verdict is for, so a row deleted meanwhile or whose address
--     changed is skipped, never given another address's verdict;
--   * each UPDATE as the table's owner inside a security-restricted operation,
--     with search_path pg_catalog, pg_temp (src/pg/owner_context.cpp): the
--     owner's triggers, index expressions and domain checks cannot climb back
--     to the worker's identity, and run under the write-back watchdog;
--   * a watch whose UPDATE fails (e.g. the owner's trigger raises) does not fail
--     the batch: its verdicts are written one by one, and an item that still
--     fails is kept in state 'failed' with the error as last_reason (watch()
--     called again retries it);
--   * rows a writer holds locked are skipped (FOR UPDATE SKIP LOCKED), the rest
--     written at once; their items, those of a suspended watch and those whose
--     watch's level was raised while they were probed go back to the queue
--     without losing an attempt; no other lock is waited for longer than 2 s.
-- verdicts: [{"queue_id", "watch_id", "row_key", "email", "status", "reason",
--             "catch_all", "checked_at", "level"}, ...]; level, the level the
-- item was claimed at, may be left out (taken as the watch's).
CREATE FUNCTION email_verify_internal.apply_verdicts(verdicts jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'apply_verdicts'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION email_verify_internal.apply_verdicts(jsonb) IS
    'worker: writes a batch of verdicts to the watched rows by primary key and address; returns rows written';
