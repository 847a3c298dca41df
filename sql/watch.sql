-- In-place verification, async mode: watch/unwatch, the triggers, and the
-- worker's side (enqueue_unverified, claim_batch, apply_verdicts, retry_later,
-- enqueue_stale) called by hand: no worker serves the regression database.
\set SHOW_CONTEXT never

-- The queue as a user would want to read it (ids and times vary).
CREATE VIEW queued AS
SELECT w.relid AS tbl, w.column_name AS col, q.row_key, q.email, q.state, q.attempts,
       q.not_before > now() AS waiting, q.last_reason
FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
ORDER BY w.relid::text, w.column_name, q.row_key, q.state;

-- What the worker does with a claimed batch: one verdict per item.
CREATE FUNCTION verdicts_for(items email_verify.queue[], status text, reason text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'queue_id', i.id, 'watch_id', i.watch_id, 'row_key', i.row_key, 'email', i.email,
        'status', status, 'reason', reason, 'catch_all', false, 'checked_at', now())), '[]')
    FROM unnest(items) AS i
$$;
CREATE FUNCTION claimed() RETURNS email_verify.queue[]
LANGUAGE sql AS $$ SELECT array_agg(q ORDER BY q.id) FROM email_verify.queue q WHERE q.state = 'claimed' $$;

-- Watching ------------------------------------------------------------------------

CREATE TABLE contacts (id int PRIMARY KEY, email text, name text);
INSERT INTO contacts VALUES (1, 'alice@example.com', 'Alice'), (2, NULL, 'Nobody'), (3, 'bob@example.org', 'Bob');
SELECT email_verify.watch('contacts', 'email');

-- Four verdict columns, the index the worker finds its work by, three triggers.
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'contacts'::regclass AND attnum > 0 ORDER BY attnum;
SELECT indexdef FROM pg_indexes WHERE tablename = 'contacts' ORDER BY indexname;
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'contacts'::regclass ORDER BY tgname;
SELECT relid, column_name, level, mode, reject_invalid, recheck_after, key_columns FROM email_verify.watches;
-- The rows already there wait for the worker as they are, counted as 'new' (not
-- the one without an address): the worker claims them straight from the table.
SELECT * FROM queued;
SELECT table_name, state, items, ready FROM email_verify.queue_stats ORDER BY state;

-- A second call updates the options and recreates the triggers; nothing is added twice.
SELECT email_verify.watch('contacts', 'email', level => 'syntax', recheck_after => '7 days');
SELECT email_verify.watch('contacts', 'email', level => 'syntax', recheck_after => '7 days');
SELECT relid, column_name, level, mode, reject_invalid, recheck_after FROM email_verify.watches;
SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = 'contacts'::regclass AND attnum > 0;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'contacts'::regclass;
SELECT count(*) AS indexes FROM pg_indexes WHERE tablename = 'contacts';
SELECT table_name, state, items, ready FROM email_verify.queue_stats ORDER BY state;

-- Async triggers ------------------------------------------------------------------

INSERT INTO contacts VALUES (4, 'carol@example.net', 'Carol');
INSERT INTO contacts VALUES (5, 'dave@example.com', 'Dave'), (6, 'erin@example.com', 'Erin'), (7, NULL, 'Frank');
COPY contacts (id, email, name) FROM STDIN;
8	grace@example.com	Grace
9	\N	Heidi
10	ivan@example.com	Ivan
\.
-- A row that arrives with a verdict is not queued (it is re-checked when stale).
INSERT INTO contacts (id, email, email_status, email_verified_at)
VALUES (11, 'judy@example.com', 'valid', now());
-- The writers only woke the worker: their rows wait in the table itself, counted
-- as 'new' ...
SELECT row_key, email, state FROM queued;
SELECT table_name, state, items, ready FROM email_verify.queue_stats ORDER BY state;
-- ... until the worker moves them into the queue, at most max_rows per watch,
-- each once (claim_batch does the same, when the queue runs short, inserting
-- them already claimed).
SELECT email_verify_internal.enqueue_unverified(2) AS queued;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT email_verify_internal.enqueue_unverified(100) AS queued_again;
SELECT row_key, email, state FROM queued;
SELECT table_name, state, items, ready FROM email_verify.queue_stats ORDER BY state;

-- An UPDATE that keeps the address queues nothing again.
UPDATE contacts SET name = upper(name);
SELECT count(*) AS items FROM email_verify.queue;

-- The worker verifies everything queued so far.
SELECT queue_id > 0 AS queue_id, watch_id > 0 AS watch_id, row_key, email, level, attempts
FROM email_verify_internal.claim_batch(1, 100) ORDER BY row_key;
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'valid', 'syntax_ok')) AS written;
SELECT id, email, email_status, email_reason, email_catch_all, email_verified_at IS NOT NULL AS verified
FROM contacts ORDER BY id;
SELECT count(*) AS items FROM email_verify.queue;

-- Changing the address clears the verdict and queues the row again; other rows
-- and an unchanged address are left alone.
UPDATE contacts SET email = 'alice@example.org' WHERE id = 1;
UPDATE contacts SET email = email, name = 'Bob B.' WHERE id = 3;
UPDATE contacts SET email = NULL WHERE id = 4;
SELECT id, email, email_status, email_verified_at IS NOT NULL AS verified FROM contacts WHERE id IN (1, 3, 4) ORDER BY id;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT row_key, email, state FROM queued;
-- Changed again before the worker got to it: the old address's item gives way.
UPDATE contacts SET email = 'alice@example.net' WHERE id = 1;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT row_key, email, state FROM queued;

-- The worker's side ------------------------------------------------------------------

-- Leases: a claimed item is not claimed again until its lease runs out.
INSERT INTO contacts VALUES (12, 'kim@example.com', 'Kim'), (13, 'lee@example.com', 'Lee');
SELECT row_key, email, attempts FROM email_verify_internal.claim_batch(1, 2, '1 hour') ORDER BY row_key;
SELECT row_key, email FROM email_verify_internal.claim_batch(2, 10) ORDER BY row_key;
SELECT count(*) AS nothing_left FROM email_verify_internal.claim_batch(2, 10);
-- Worker 1 dies: once its lease has run out, its items come back (one attempt more).
UPDATE email_verify.queue SET lease_until = now() - interval '1 second' WHERE claimed_by = 1;
SELECT row_key, email, attempts FROM email_verify_internal.claim_batch(3, 10) ORDER BY row_key;
SELECT claimed_by, count(*) FROM email_verify.queue GROUP BY 1 ORDER BY 1;

-- apply_verdicts writes by primary key and address: a row deleted meanwhile, or
-- whose address changed meanwhile, is skipped (the changed one is queued anew).
DELETE FROM contacts WHERE id = 12;
UPDATE contacts SET email = 'lee@example.org' WHERE id = 13;
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'risky', 'catch_all')) AS written;
SELECT id, email, email_status, email_reason, email_catch_all FROM contacts WHERE id IN (1, 12, 13) ORDER BY id;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT row_key, email, state FROM queued;
SELECT email_verify_internal.apply_verdicts('[]') AS nothing;
SELECT email_verify_internal.apply_verdicts('{}');
SELECT email_verify_internal.apply_verdicts('[{"queue_id": 1, "watch_id": 1, "row_key": {"id": 1}, "email": "x@y.z"}]');

-- retry_later: back to pending after the delay, one attempt more.
SELECT count(*) FROM email_verify_internal.claim_batch(1, 10);
SELECT email_verify_internal.retry_later(array_agg(id), array_agg('greylisted'::text), array_agg(interval '1 hour'))
FROM email_verify.queue WHERE state = 'claimed';
SELECT row_key, email, state, attempts, waiting, last_reason FROM queued;
SELECT count(*) AS not_ready_yet FROM email_verify_internal.claim_batch(1, 10);
SELECT email_verify_internal.retry_later('{1}', '{}', '{}');
-- An item whose row was queued anew meanwhile is dropped: the new item stands for it.
UPDATE email_verify.queue SET not_before = now();
SELECT count(*) FROM email_verify_internal.claim_batch(1, 10);
UPDATE contacts SET email = 'lee@example.net' WHERE id = 13;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT email_verify_internal.retry_later(array_agg(id), array_agg('timeout'::text), array_agg(interval '1 minute'))
FROM email_verify.queue WHERE state = 'claimed';
SELECT row_key, email, state, attempts, waiting, last_reason FROM queued;
SELECT email_verify_internal.apply_verdicts(verdicts_for(
    (SELECT array_agg(q) FROM email_verify.queue q), 'valid', 'syntax_ok')) AS written;
-- A worker that starts again frees what it had claimed, the same way.
INSERT INTO contacts VALUES (17, 'pat@example.com', 'Pat'), (18, 'quinn@example.com', 'Quinn');
SELECT count(*) FROM email_verify_internal.claim_batch(4, 10);
UPDATE contacts SET email = 'quinn@example.org' WHERE id = 18;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT email_verify_internal.release_claims(4) AS released, email_verify_internal.release_claims(5) AS none;
SELECT row_key, email, state, attempts FROM queued;
SELECT email_verify_internal.apply_verdicts(verdicts_for(
    (SELECT array_agg(q) FROM email_verify.queue q), 'valid', 'syntax_ok')) AS written;

-- enqueue_stale: rows verified longer ago than recheck_after (7 days here), oldest
-- first, each at most once.
UPDATE contacts SET email_verified_at = now() - interval '8 days' WHERE id IN (5, 6);
UPDATE contacts SET email_verified_at = now() - interval '9 days' WHERE id = 8;
UPDATE contacts SET email_verified_at = now() - interval '6 days' WHERE id = 10;
SELECT email_verify_internal.enqueue_stale(1) AS queued;
SELECT row_key, email FROM queued;
SELECT email_verify_internal.enqueue_stale(100) AS queued;
SELECT email_verify_internal.enqueue_stale(100) AS queued_again;
-- Claimed items count as queued too.
SELECT count(*) FROM email_verify_internal.claim_batch(1, 10);
UPDATE contacts SET email_verified_at = now() - interval '10 days' WHERE id = 8;
SELECT email_verify_internal.enqueue_stale(100) AS queued_while_claimed;
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'invalid', 'mailbox_not_found')) AS written;

-- The claim's sweep takes the oldest rows without a verdict first, looking at
-- twice as many as it wants; when those already have items (here, retries
-- waiting out their backoff) it takes the newest instead, so rows waiting for
-- a retry are not walked over on every claim.
CREATE TABLE clogged (id int PRIMARY KEY, email text);
INSERT INTO clogged SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 4) g;
SELECT email_verify.watch('clogged', 'email', level => 'syntax');
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
UPDATE email_verify.queue SET not_before = now() + interval '1 hour' WHERE email LIKE 'c_@example.com';
INSERT INTO clogged SELECT g, 'c' || g || '@example.com' FROM generate_series(5, 7) g;
SELECT row_key FROM email_verify_internal.claim_batch(1, 2) ORDER BY row_key;
SELECT row_key FROM email_verify_internal.claim_batch(1, 2) ORDER BY row_key;
SELECT email_verify.unwatch('clogged', 'email');
DROP TABLE clogged;

-- Statistics: queue depth by state, verdicts applied by status and reason.
INSERT INTO contacts VALUES (14, 'mia@example.com', 'Mia'), (15, 'ned@example.com', 'Ned'), (16, 'oz@example.com', 'Oz');
SELECT count(*) FROM email_verify_internal.claim_batch(1, 1);
UPDATE email_verify.queue SET lease_until = now() - interval '1 second' WHERE state = 'claimed';
UPDATE email_verify.queue SET not_before = now() + interval '1 hour' WHERE row_key = '{"id": 16}';
SELECT table_name, column_name, state, items, ready, max_attempts FROM email_verify.queue_stats ORDER BY state;
SELECT * FROM email_verify.verdict_stats ORDER BY status, reason;

-- Quoting, composite keys of any type ----------------------------------------------------

CREATE SCHEMA "My Schema";
CREATE DOMAIN "My Schema".address AS varchar(254);
CREATE TABLE "My Schema"."Contacts Table" (
    "Org" int, "Key Part" text, "Since" timestamptz, "E-Mail" "My Schema".address,
    PRIMARY KEY ("Since", "Org", "Key Part"));
SET TimeZone = 'America/New_York';
INSERT INTO "My Schema"."Contacts Table" VALUES
    (1, 'a"b', '2020-01-01 12:00:00.123456+00', 'o''brien@example.com'),
    (1, 'a"b', '2021-06-01 00:00+02', 'zoë@exämple.com');
SELECT email_verify.watch('"My Schema"."Contacts Table"', 'E-Mail', level => 'syntax');
SELECT attname FROM pg_attribute WHERE attrelid = '"My Schema"."Contacts Table"'::regclass AND attnum > 4 ORDER BY attnum;
SELECT tgname FROM pg_trigger WHERE tgrelid = '"My Schema"."Contacts Table"'::regclass ORDER BY tgname;
-- The worker's session has another time zone; the keys still find their rows.
SET TimeZone = 'Asia/Tokyo';
SELECT c.row_key, c.email FROM email_verify_internal.claim_batch(1, 100) c JOIN email_verify.watches w ON w.id = c.watch_id
WHERE w.column_name = 'E-Mail' ORDER BY 1;
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'valid', 'syntax_ok')) AS written;
RESET TimeZone;
UPDATE "My Schema"."Contacts Table" SET "E-Mail" = 'new@example.com' WHERE "Org" = 1 AND "Since" < '2021-01-01';
SELECT "Since", "E-Mail", "E-Mail_status", "E-Mail_reason" FROM "My Schema"."Contacts Table" ORDER BY 1;
SELECT email_verify_internal.enqueue_unverified(100) > 0 AS queued;
SELECT row_key, email FROM queued WHERE col = 'E-Mail';

-- Partitioned tables are watched through their parent.
CREATE TABLE part_contacts (region text, id int, email text, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
CREATE TABLE part_contacts_eu PARTITION OF part_contacts FOR VALUES IN ('eu');
CREATE TABLE part_contacts_us PARTITION OF part_contacts FOR VALUES IN ('us');
INSERT INTO part_contacts VALUES ('eu', 1, 'a@example.eu');
SELECT email_verify.watch('part_contacts', 'email', level => 'syntax');
INSERT INTO part_contacts VALUES ('us', 1, 'a@example.us');
SELECT email_verify_internal.enqueue_unverified(100) > 0 AS queued;
SELECT email_verify_internal.apply_verdicts(verdicts_for(
    (SELECT array_agg(q) FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
     WHERE w.relid = 'part_contacts'::regclass), 'valid', 'syntax_ok')) AS written;
UPDATE part_contacts SET email = 'b@example.us' WHERE region = 'us';
SELECT email_verify.watch('part_contacts_us', 'email', level => 'syntax');
SELECT region, id, email, email_status FROM part_contacts ORDER BY 1, 2;
SELECT email_verify_internal.enqueue_unverified(100) > 0 AS queued;
SELECT row_key, email FROM queued WHERE tbl = 'part_contacts'::regclass;

-- Refusals ------------------------------------------------------------------------------

CREATE TABLE no_key (email text);
SELECT email_verify.watch('no_key', 'email');
CREATE TABLE numbers (id int PRIMARY KEY, email int);
SELECT email_verify.watch('numbers', 'email');
SELECT email_verify.watch('numbers', 'no_such_column');
SELECT email_verify.watch('numbers', NULL);
CREATE VIEW contacts_view AS SELECT * FROM contacts;
SELECT email_verify.watch('contacts_view', 'email');
SELECT email_verify.watch('contacts', 'email', level => 'deep');
SELECT email_verify.watch('contacts', 'email', mode => 'later');
SELECT email_verify.watch('contacts', 'email', reject_invalid => true);
SELECT email_verify.watch('contacts', 'email', recheck_after => '-1 day');
-- Bounded, so that now() - recheck_after stays a timestamp for every watch's re-check.
SELECT email_verify.watch('contacts', 'email', recheck_after => '10000 years');
-- A temporary table is another session's: the worker could never read it.
CREATE TEMP TABLE scratch_contacts (id int PRIMARY KEY, email text);
SELECT email_verify.watch('scratch_contacts', 'email', level => 'syntax');
DROP TABLE scratch_contacts;
CREATE TABLE wrong_verdict (id int PRIMARY KEY, email text, email_status int);
SELECT email_verify.watch('wrong_verdict', 'email');
SELECT email_verify.unwatch('numbers', 'email');
-- Nothing was left behind by the refusals.
SELECT relid FROM email_verify.watches ORDER BY id;
SELECT count(*) FROM pg_attribute WHERE attrelid IN ('no_key'::regclass, 'numbers'::regclass) AND attnum > 0;

-- Privileges ----------------------------------------------------------------------------

CREATE ROLE ev_regress_owner;
CREATE ROLE ev_regress_writer;
CREATE TABLE owned (id int PRIMARY KEY, email text);
ALTER TABLE owned OWNER TO ev_regress_owner;
GRANT INSERT, SELECT ON owned TO ev_regress_writer;
SET ROLE ev_regress_writer;
SELECT email_verify.watch('owned', 'email', level => 'syntax');
SET ROLE ev_regress_owner;
-- The default level (smtp) probes the network: a privilege.
SELECT email_verify.watch('owned', 'email');
SELECT email_verify.watch('owned', 'email', level => 'syntax');
-- The internal tables and the worker's functions are not for users; the statistics are,
-- queue_stats for the tables whose owner's privileges the role has.
SELECT count(*) FROM email_verify.queue;
SELECT count(*) FROM email_verify.watches;
SELECT count(*) FROM email_verify_internal.claim_batch(1, 1);
SELECT email_verify_internal.apply_verdicts('[]');
SELECT email_verify_internal.enqueue_stale(1);
SELECT count(*) AS others_visible FROM email_verify.queue_stats WHERE table_name <> 'owned'::regclass;
SELECT count(*) > 0 AS visible FROM email_verify.verdict_stats;
SELECT count(*) AS visible FROM email_verify.worker_stats();
SELECT email_verify_internal.release_claims(1);
-- A writer without any email_verify privilege still wakes the worker, which
-- queues its rows.
SET ROLE ev_regress_writer;
INSERT INTO owned VALUES (1, 'writer@example.com');
SELECT email_verify.unwatch('owned', 'email');
RESET ROLE;
SELECT email_verify_internal.enqueue_unverified(100) > 0 AS queued;
SELECT row_key, email FROM queued WHERE tbl = 'owned'::regclass;
-- The worker writes verdicts back as the table's owner: the owner's own
-- triggers never run with the worker's privileges, and see search_path
-- pg_catalog, pg_temp (they name their tables in full). A write-back that fails
-- leaves the items in state 'failed'; watch() called again retries them.
CREATE TABLE owned_audit (who name, email text, status text);
CREATE FUNCTION owned_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email_status = 'risky' THEN
        RAISE EXCEPTION 'no risky addresses here';
    END IF;
    INSERT INTO public.owned_audit VALUES (current_user, NEW.email, NEW.email_status);
    RETURN NEW;
END
$$;
CREATE TRIGGER audit BEFORE UPDATE ON owned FOR EACH ROW EXECUTE FUNCTION owned_audit();
ALTER TABLE owned_audit OWNER TO ev_regress_owner;
ALTER FUNCTION owned_audit() OWNER TO ev_regress_owner;
SELECT count(*) FROM email_verify_internal.claim_batch(1, 10);
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'valid', 'syntax_ok')) AS written;
SELECT * FROM owned_audit;
INSERT INTO owned VALUES (2, 'risky@example.com');
SELECT count(*) FROM email_verify_internal.claim_batch(1, 10);
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'risky', 'role_account')) AS written;
SELECT row_key, email, state, last_reason FROM queued WHERE tbl = 'owned'::regclass;
SELECT table_name, state, items FROM email_verify.queue_stats WHERE table_name = 'owned'::regclass;
SET ROLE ev_regress_owner;
SELECT email_verify.watch('owned', 'email', level => 'syntax');
RESET ROLE;
SELECT email_verify_internal.enqueue_unverified(100) > 0 AS queued;
SELECT row_key, email, state FROM queued WHERE tbl = 'owned'::regclass;

GRANT email_verify_prober TO ev_regress_owner;
SET ROLE ev_regress_owner;
SELECT email_verify.watch('owned', 'email', level => 'dns');
SELECT email_verify.unwatch('owned', 'email');
RESET ROLE;

-- Key values are read by privileged triggers: a key type its owner could hang
-- code on (a cast to json of a user's enum) is refused.
CREATE TYPE owned_kind AS ENUM ('a', 'b');
ALTER TYPE owned_kind OWNER TO ev_regress_owner;
CREATE TABLE owned_enum (kind owned_kind PRIMARY KEY, email text);
ALTER TABLE owned_enum OWNER TO ev_regress_owner;
SET ROLE ev_regress_owner;
SELECT email_verify.watch('owned_enum', 'email', level => 'syntax');
RESET ROLE;
-- ... and so is a change of the key to such a type: the watch ends.
CREATE TABLE owned_later (kind text PRIMARY KEY, email text);
ALTER TABLE owned_later OWNER TO ev_regress_owner;
SET ROLE ev_regress_owner;
SELECT email_verify.watch('owned_later', 'email', level => 'syntax');
ALTER TABLE owned_later ALTER COLUMN kind TYPE owned_kind USING 'a';
RESET ROLE;
SELECT count(*) AS watched FROM email_verify.watches WHERE relid = 'owned_later'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'owned_later'::regclass;

DROP TABLE owned, owned_audit, owned_enum, owned_later;
DROP FUNCTION owned_audit();
DROP TYPE owned_kind;
DROP ROLE ev_regress_owner;
DROP ROLE ev_regress_writer;

-- Following DDL -------------------------------------------------------------------------

-- A table left without a primary key is reported; a new or renamed key re-keys
-- the watch and its queue.
UPDATE contacts SET name = coalesce(name, '');
ALTER TABLE contacts DROP CONSTRAINT contacts_pkey;
INSERT INTO contacts VALUES (30, 'pk@example.com', 'Pk');
ALTER TABLE contacts ADD PRIMARY KEY (id, name);
SELECT key_columns FROM email_verify.watches WHERE relid = 'contacts'::regclass;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT row_key, email, state FROM queued WHERE tbl = 'contacts'::regclass;
ALTER TABLE contacts RENAME COLUMN name TO "Full Name";
SELECT key_columns FROM email_verify.watches WHERE relid = 'contacts'::regclass;
SELECT email_verify_internal.enqueue_unverified(100) AS queued;
SELECT row_key, email, state FROM queued WHERE tbl = 'contacts'::regclass;
SELECT count(*) FROM email_verify_internal.claim_batch(1, 100);
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'valid', 'syntax_ok')) AS written;
SELECT id, email, email_status FROM contacts WHERE id >= 14 ORDER BY id;
-- Renaming the watched column itself is reported (unwatch, then watch the new name).
ALTER TABLE contacts RENAME COLUMN email TO mail;
ALTER TABLE contacts RENAME COLUMN mail TO email;

-- Unwatching ------------------------------------------------------------------------------

SELECT email_verify.unwatch('contacts', 'email');
SELECT email_verify.unwatch('contacts', 'email');
-- The triggers and queue items are gone; the verdict columns and their index stay.
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'contacts'::regclass;
SELECT count(*) AS items FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
WHERE w.relid = 'contacts'::regclass;
SELECT attname FROM pg_attribute WHERE attrelid = 'contacts'::regclass AND attname LIKE 'email_%' ORDER BY attnum;
SELECT id, email, email_status FROM contacts WHERE id <= 3 ORDER BY id;
INSERT INTO contacts VALUES (20, 'after@example.com', 'After');
SELECT count(*) AS items FROM email_verify.queue WHERE row_key = '{"id": 20}';

-- Watching again queues the rows that have a verdict (it was not reached under
-- this watch); those without one, like row 20, wait in the table.
SELECT email_verify.watch('contacts', 'email', level => 'syntax');
SELECT count(*) AS items FROM email_verify.queue;
SELECT count(*) AS items FROM email_verify.queue WHERE row_key = '{"id": 20}';
SELECT table_name, state, items FROM email_verify.queue_stats WHERE table_name = 'contacts'::regclass ORDER BY state;
-- Once all are verified (row 20 through the claim's sweep), the same level
-- queues nothing; a new level queues every row that has a verdict again (it was
-- reached at the old level).
SELECT count(*) FROM email_verify_internal.claim_batch(1, 100);
SELECT email_verify_internal.apply_verdicts(verdicts_for(claimed(), 'valid', 'syntax_ok')) AS written;
SELECT email_verify.watch('contacts', 'email', level => 'syntax', recheck_after => '1 day');
SELECT count(*) AS items FROM email_verify.queue;
SELECT email_verify.watch('contacts', 'email', level => 'dns');
SELECT state, count(*) AS items FROM email_verify.queue GROUP BY state;
-- A verdict carries the level its item was claimed at: claimed at dns, then the
-- watch is raised to smtp while the address is probed. The dns verdict is not
-- written; the item is probed again at the new level, no attempt counted.
SELECT count(*) FROM email_verify_internal.claim_batch(1, 1);
SELECT email_verify.watch('contacts', 'email', level => 'smtp');
SELECT email_verify_internal.apply_verdicts((SELECT jsonb_agg(v || '{"level": "dns"}')
                                    FROM jsonb_array_elements(verdicts_for(claimed(), 'valid', 'domain_ok')) AS v)) AS written;
SELECT state, attempts, last_reason FROM email_verify.queue WHERE last_reason IS NOT NULL;
-- Dropping a watched table or column ends the watch.
ALTER TABLE contacts DROP COLUMN email CASCADE;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'contacts'::regclass;
SELECT relid FROM email_verify.watches ORDER BY id;
DROP TABLE part_contacts;
DROP SCHEMA "My Schema" CASCADE;
SELECT relid FROM email_verify.watches ORDER BY id;
SELECT count(*) AS items FROM email_verify.queue;

DROP TABLE contacts, no_key, numbers, wrong_verdict CASCADE;
DROP FUNCTION verdicts_for, claimed;
DROP VIEW queued;
TRUNCATE email_verify.worker_counters;

-- The level argument is case-insensitive, as email_verify.default_level is.
CREATE TABLE level_case (id int PRIMARY KEY, email text);
SELECT email_verify.watch('level_case', 'email', level => 'SYNTAX');
SELECT level FROM email_verify.watches WHERE relid = 'level_case'::regclass;
SELECT email_verify.unwatch('level_case', 'email');
DROP TABLE level_case CASCADE;
