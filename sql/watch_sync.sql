-- In-place verification, sync mode: the address is checked before the row is
-- written (at most level dns inline), the verdict lands in the row, and with
-- reject_invalid an invalid address fails the statement with SQLSTATE 23514.
\set SHOW_CONTEXT never

CREATE TABLE signups (id int PRIMARY KEY, email text, note text);
INSERT INTO signups VALUES (1, 'existing@example.com', NULL);
SELECT email_verify.watch('signups', 'email', level => 'syntax', mode => 'sync');
SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'signups'::regclass ORDER BY tgname;
-- The row already there goes to the worker ('new': it claims it from the
-- table); new rows are checked inline.
SELECT table_name, state, items FROM email_verify.queue_stats;

-- Level syntax: the verdict is written into the row as it is inserted, final
-- (nothing is queued for the worker).
INSERT INTO signups VALUES (2, 'jane@example.com', NULL), (3, 'info@example.com', NULL),
                           (4, 'x@mailinator.com', NULL), (5, 'not-an-address', NULL), (6, NULL, NULL);
COPY signups (id, email) FROM STDIN;
7	john@gmial.con
8	bad@@example.com
\.
SELECT id, email, email_status, email_reason, email_catch_all, email_verified_at IS NOT NULL AS verified
FROM signups ORDER BY id;
SELECT table_name, state, items FROM email_verify.queue_stats;

-- Changing the address checks it again; other updates leave the verdict alone.
UPDATE signups SET email = 'jane@@example.com' WHERE id = 2;
UPDATE signups SET email_status = 'untouched' WHERE id = 3;
UPDATE signups SET note = 'n', email = email WHERE id = 3;
UPDATE signups SET email = NULL WHERE id = 4;
SELECT id, email, email_status, email_reason, email_verified_at IS NOT NULL AS verified
FROM signups WHERE id IN (2, 3, 4) ORDER BY id;

-- reject_invalid: an invalid address fails the statement, with SQLSTATE 23514.
SELECT email_verify.watch('signups', 'email', level => 'syntax', mode => 'sync', reject_invalid => true);
INSERT INTO signups VALUES (10, 'not an address', NULL);
UPDATE signups SET email = 'jane@example..com' WHERE id = 2;
INSERT INTO signups VALUES (11, 'ok@example.com', NULL);
-- The error carries the table and column, for clients that look.
DO $$
DECLARE
    state text; msg text; tbl text; col text; sch text;
BEGIN
    INSERT INTO signups VALUES (12, '@example.com', NULL);
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        sch = SCHEMA_NAME, tbl = TABLE_NAME, col = COLUMN_NAME;
    RAISE NOTICE 'sqlstate %, schema %, table %, column %: %', state, sch, tbl, col, msg;
END
$$;
-- COPY with one invalid row fails as a whole; without it, every row goes in.
COPY signups (id, email) FROM STDIN;
20	first@example.com
21	second@@example.com
22	third@example.com
\.
SELECT count(*) AS copied FROM signups WHERE id >= 20;
COPY signups (id, email) FROM STDIN;
20	first@example.com
22	third@example.com
\.
SELECT id, email, email_status, email_reason FROM signups WHERE id >= 20 ORDER BY id;

-- Level dns (against the local test world, as in network_levels): the signup
-- check of the README's example, a typo domain refused with the suggestion in
-- the message.
SET email_verify.dns_servers = '127.0.53.1:53';
SET email_verify.result_ttl = 0;
SELECT email_verify.watch('signups', 'email', level => 'dns', mode => 'sync', reject_invalid => true);
INSERT INTO signups VALUES (30, 'john@gmial.con', NULL);
INSERT INTO signups VALUES (31, 'alice@strict.test', NULL), (32, 'a@servfail.test', NULL);
-- A dns_error is unknown: let in, and queued for the worker to try again.
SELECT id, email, email_status, email_reason, email_verified_at IS NOT NULL AS verified
FROM signups WHERE id >= 30 ORDER BY id;
SELECT email_verify_internal.enqueue_unverified(100) > 0 AS queued;
SELECT row_key, email FROM email_verify.queue ORDER BY row_key;

-- The trigger probes on behalf of writers who could not probe themselves.
CREATE ROLE ev_regress_signup;
GRANT INSERT, SELECT ON signups TO ev_regress_signup;
SET ROLE ev_regress_signup;
SELECT status FROM verify_email('bob@strict.test', 'dns');
INSERT INTO signups VALUES (33, 'bob@strict.test', NULL);
INSERT INTO signups VALUES (34, 'bob@nosuch.test', NULL);
SELECT id, email_status, email_reason FROM signups WHERE id = 33;
RESET ROLE;
DROP OWNED BY ev_regress_signup;
DROP ROLE ev_regress_signup;

-- Level smtp in sync mode: syntax and dns inline, then the row is marked for
-- the deep check (verified_at stays NULL) and queued for the worker's probe.
DELETE FROM email_verify.queue;
SELECT email_verify.watch('signups', 'email', level => 'smtp', mode => 'sync');
DELETE FROM email_verify.queue;
INSERT INTO signups VALUES (40, 'carol@strict.test', NULL), (41, 'carol@nosuch.test', NULL);
SELECT id, email, email_status, email_reason, email_verified_at IS NOT NULL AS verified
FROM signups WHERE id >= 40 ORDER BY id;
-- The worker's claim takes it, and with it the rows still without a verdict
-- from before (1, 32).
SELECT row_key, email, level FROM email_verify_internal.claim_batch(1, 10) ORDER BY row_key;
SELECT email_verify_internal.apply_verdicts(jsonb_agg(jsonb_build_object(
    'queue_id', q.id, 'watch_id', q.watch_id, 'row_key', q.row_key, 'email', q.email,
    'status', 'valid', 'reason', 'accepted', 'catch_all', false, 'checked_at', now())))
FROM email_verify.queue q WHERE q.state = 'claimed';
SELECT id, email, email_status, email_reason, email_catch_all, email_verified_at IS NOT NULL AS verified
FROM signups WHERE id >= 40 ORDER BY id;
RESET email_verify.dns_servers;
RESET email_verify.result_ttl;

-- Back to async: the inline check's triggers make way for the async ones.
SELECT email_verify.watch('signups', 'email', level => 'syntax');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'signups'::regclass ORDER BY tgname;
INSERT INTO signups VALUES (50, 'later@@example.com', NULL);
SELECT id, email_status FROM signups WHERE id = 50;

SELECT email_verify.unwatch('signups', 'email');
DROP TABLE signups;
TRUNCATE email_verify.worker_counters;
