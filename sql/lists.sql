-- The shipped risk lists and the user's own entries on top of them.
SELECT count(*) > 2000 AS many_disposable FROM email_verify.shipped_list('disposable');
SELECT count(*) > 1000 AS many_free FROM email_verify.shipped_list('free');
SELECT count(*) > 30 AS many_roles FROM email_verify.shipped_list('role');
SELECT 'mailinator.com' IN (SELECT email_verify.shipped_list('disposable')) AS has_mailinator;
SELECT email_verify.shipped_list('spam');

-- Additions and removals take effect at once in this session.
SELECT (verify_email('a@trash.example', 'syntax')).reason AS before_add;
INSERT INTO email_verify.list_entries (list, entry, note) VALUES ('disposable', 'Trash.Example', 'seen in signups');
SELECT (verify_email('a@trash.example', 'syntax')).reason AS after_add,
       (verify_email('a@x.trash.example', 'syntax')).reason AS subdomain;
INSERT INTO email_verify.list_entries (list, entry, listed) VALUES ('disposable', 'mailinator.com', false);
SELECT (verify_email('a@mailinator.com', 'syntax')).reason AS removed_shipped;
INSERT INTO email_verify.list_entries (list, entry) VALUES ('role', 'ceo'), ('free', 'bücher.example');
SELECT (verify_email('CEO+board@example.com', 'syntax')).reason AS role_added,
       (verify_email('a@bücher.example', 'syntax')).is_free AS free_idn;
UPDATE email_verify.list_entries SET listed = true WHERE entry = 'mailinator.com';
SELECT (verify_email('a@mailinator.com', 'syntax')).reason AS relisted;

-- Entries that could never match are refused.
\set VERBOSITY terse
INSERT INTO email_verify.list_entries (list, entry) VALUES ('disposable', 'not a domain');
INSERT INTO email_verify.list_entries (list, entry) VALUES ('spam', 'example.com');
INSERT INTO email_verify.list_entries (list, entry) VALUES ('role', '+');

\set VERBOSITY default

-- Inside a transaction that rolls back, the change disappears again.
BEGIN;
DELETE FROM email_verify.list_entries;
SELECT (verify_email('a@trash.example', 'syntax')).reason AS deleted_in_tx;
ROLLBACK;
SELECT (verify_email('a@trash.example', 'syntax')).reason AS after_rollback;

TRUNCATE email_verify.list_entries;
SELECT (verify_email('a@trash.example', 'syntax')).reason AS after_truncate,
       (verify_email('a@mailinator.com', 'syntax')).reason AS shipped_again;

-- The table is dumped with the user's data.
SELECT c.relname, e.extname
FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'email_verify' ORDER BY c.relname;
-- Typo domains of big providers are their own list: neither disposable nor
-- free, and corrected by the suggester.
SELECT 'gmial.com' IN (SELECT email_verify.shipped_list('disposable')) AS typo_is_disposable,
       'gmial.com' IN (SELECT email_verify.shipped_list('free')) AS typo_is_free,
       'yahoo.ca' IN (SELECT email_verify.shipped_list('free')) AS country_domain_is_free;
