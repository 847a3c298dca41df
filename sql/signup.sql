-- The signup moment: policies (the shipped default, the user's own, bad
-- values), check_signup's decisions and messages at level syntax, a sync
-- watch deciding with a policy (block: 23514; warn: let in, recorded), the
-- consumer limits (a role over its limit, the statistics view) and what an
-- ordinary role may not do. The network levels and the time budget are
-- tested against the test world (test/t/027_signup.pl).
\set SHOW_CONTEXT never

SELECT * FROM email_verify.signup_policies;

-- Decisions at level syntax, under the default policy.
SELECT address, d.decision, d.message, d.suggestion, d.status, d.reason, d.recheck, d.budget_spent
FROM unnest(ARRAY['jane@example.com', 'john@gmial.com', 'not an address', 'x@mailinator.com',
                  'info@example.com']) AS address,
     LATERAL email_verify.check_signup(address, level => 'syntax') d;
SELECT email_verify.check_signup(NULL) IS NULL AS null_in_null_out;

-- A policy of one's own: free providers warned, role accounts blocked,
-- disposable addresses let in.
INSERT INTO email_verify.signup_policies (name, risky, free_provider, role_account, reasons, description)
VALUES ('strict', 'block', 'warn', 'block', '{"disposable": "accept"}', 'for the test');
SELECT address, d.decision, d.message
FROM unnest(ARRAY['jane@gmail.com', 'info@example.com', 'x@mailinator.com']) AS address,
     LATERAL email_verify.check_signup(address, 'strict', level => 'syntax') d;

-- Bad policies and arguments.
INSERT INTO email_verify.signup_policies (name, valid) VALUES ('bad', 'maybe');
INSERT INTO email_verify.signup_policies (name, unknown) VALUES ('bad', 'warn');
INSERT INTO email_verify.signup_policies (name, reasons) VALUES ('bad', '{"no_such_reason": "block"}');
INSERT INTO email_verify.signup_policies (name, reasons) VALUES ('bad', '{"timeout": "later"}');
INSERT INTO email_verify.signup_policies (name, reasons) VALUES ('bad', '["timeout"]');
SELECT email_verify.check_signup('a@example.com', 'nope', 'syntax');
SELECT email_verify.check_signup('a@example.com', NULL, 'syntax');
SELECT email_verify.check_signup('a@example.com', 'default', 'deep');
SELECT email_verify.check_signup('a@example.com', 'default', 'syntax', '0 ms');
SELECT email_verify.check_signup('a@example.com', 'default', 'syntax', '2 minutes');
DELETE FROM email_verify.signup_policies WHERE name = 'default';
-- The default can be edited; an INSERT of it (what a restore does) replaces it.
UPDATE email_verify.signup_policies SET suggestion = 'block' WHERE name = 'default';
SELECT (email_verify.check_signup('john@gmial.com', level => 'syntax')).decision;
INSERT INTO email_verify.signup_policies (name, suggestion) VALUES ('default', 'warn');
SELECT name, suggestion FROM email_verify.signup_policies WHERE name = 'default';

-- A sync watch with a policy: blocked inserts fail, warned ones are let in
-- with the decision in <col>_decision.
CREATE TABLE members (id int PRIMARY KEY, email text);
SELECT email_verify.watch('members', 'email', level => 'syntax', mode => 'sync', policy => 'strict');
INSERT INTO members VALUES (1, 'jane@example.com'), (2, 'jane@gmail.com');
INSERT INTO members VALUES (3, 'info@example.com');
INSERT INTO members VALUES (4, 'bad@@example.com');
SELECT id, email, email_status, email_reason, email_decision, email_verified_at IS NOT NULL AS verified
FROM members ORDER BY id;
-- The policy is in use.
DELETE FROM email_verify.signup_policies WHERE name = 'strict';
-- Options that do not go together.
SELECT email_verify.watch('members', 'email', level => 'syntax', mode => 'async', policy => 'strict');
SELECT email_verify.watch('members', 'email', level => 'syntax', mode => 'sync', policy => 'strict',
                          reject_invalid => true);
SELECT email_verify.watch('members', 'email', level => 'syntax', mode => 'sync', policy => 'nope');
SELECT email_verify.watch('members', 'email', level => 'syntax', mode => 'sync', sync_budget => '0 s');
SELECT email_verify.unwatch('members', 'email');
DELETE FROM email_verify.signup_policies WHERE name = 'strict';

-- Consumer limits: an ordinary role with the prober privilege and a limit of
-- two network-level checks a minute. (Malformed addresses: the check is
-- counted before the syntax check, and no network is needed here.)
CREATE ROLE signup_app IN ROLE email_verify_prober;
INSERT INTO email_verify.consumer_limits VALUES ('signup_app', 2, NULL);
SET ROLE signup_app;
SELECT (email_verify.check_signup('not an address', level => 'dns')).decision;
SELECT (email_verify.verify_email('also not one', 'dns')).status;
SELECT (email_verify.check_signup('third', level => 'dns')).decision;
SELECT email_verify.verify_emails(ARRAY['a', 'b', 'c'], 'dns');
-- Level syntax is never limited.
SELECT (email_verify.check_signup('jane@example.com', level => 'syntax')).decision;
SELECT role_name, per_minute, per_day, checks, refusals, last_refusal_at IS NOT NULL AS refused
FROM email_verify.consumer_limit_stats;
-- A role may not lift its own limit, nor use the internal functions.
UPDATE email_verify.consumer_limits SET per_minute = 1000 WHERE role_name = 'signup_app';
SELECT * FROM email_verify.consumer_limits;
INSERT INTO email_verify.signup_policies (name) VALUES ('mine');
SELECT email_verify_internal.take_consumer_check('signup_app'::regrole);
SELECT email_verify_internal.signup_verdict('a@example.com', NULL, 'smtp', '1 s', false, false);
RESET ROLE;
SELECT role_name, per_minute, checks, refusals FROM email_verify.consumer_limit_stats WHERE role_name = 'signup_app';
-- Members of email_verify_admin write policies and limits.
CREATE ROLE signup_admin IN ROLE email_verify_admin;
SET ROLE signup_admin;
INSERT INTO email_verify.signup_policies (name, risky) VALUES ('team', 'block');
UPDATE email_verify.signup_policies SET risky = 'warn' WHERE name = 'team';
DELETE FROM email_verify.signup_policies WHERE name = 'team';
UPDATE email_verify.consumer_limits SET per_minute = 10 WHERE role_name = 'signup_app';
SELECT * FROM email_verify.consumer_limits;
RESET ROLE;
DROP ROLE signup_admin;
DELETE FROM email_verify.consumer_limits;
DROP ROLE signup_app;
DROP TABLE members;
