-- email_verify.providers: the shipped rows, which MX names they claim, what
-- the table refuses, and how shipped rows and the user's own behave.
SELECT name, behaviour, mx_patterns, enabled, origin FROM email_verify.providers ORDER BY name;
SELECT name FROM email_verify.providers WHERE notes = '' OR source = '';

-- Which provider an MX host name belongs to: parent domains, any case, a
-- trailing dot; the longest pattern wins; label boundaries only.
SELECT h AS mx_host, email_verify.provider_for_mx(h) AS provider
FROM unnest(ARRAY['aspmx.l.google.com', 'ASPMX2.GOOGLEMAIL.COM.', 'smtp.google.com', 'google.com',
                  'notgoogle.com', 'google.com.example.net', 'contoso-com.mail.protection.outlook.com',
                  'contoso-us.mail.protection.office365.us', 'outlook-com.olc.protection.outlook.com',
                  'eur.olc.protection.outlook.com', 'mx-aol.mail.gm0.yahoodns.net', 'mx02.mail.icloud.com',
                  'mail.protonmail.ch', 'mx2.zoho.com', 'mx.zoho.com.au', 'mx.yandex.ru', 'emx.mail.ru',
                  'mx.example.com', '', '[192.0.2.1]']) AS h;
SELECT email_verify.provider_for_mx(NULL) IS NULL AS null_in_null_out;

-- Rows that could never match, or say nothing, are refused.
\set VERBOSITY terse
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{com}', 'accepts_all');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{}', 'accepts_all');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{a.example,NULL}', 'accepts_all');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{*.example.com}', 'accepts_all');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{{a.example},{b.example}}', 'accepts_all');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{a.example}', 'eats_mail');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES (E'tab\there', '{a.example}', 'tarpits');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('', '{a.example}', 'tarpits');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES (repeat('n', 65), '{a.example}', 'tarpits');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('bad', '{a.example}', 'tarpits'), ('bad', '{b.example}', 'tarpits');
INSERT INTO email_verify.providers (name, mx_patterns, behaviour, origin) VALUES ('bad', '{a.example}', 'tarpits', 'mine');
SELECT email_verify_internal.mx_patterns_are_valid(ARRAY['Mx.Example.COM.', 'example.co.uk']) AS valid_patterns,
       email_verify_internal.mx_patterns_are_valid(ARRAY(SELECT 'h' || g || '.example' FROM generate_series(1, 65) g)) AS too_many;
\set VERBOSITY default

-- A row of your own takes effect at once in this session.
INSERT INTO email_verify.providers (name, mx_patterns, behaviour, notes, source)
VALUES ('Example Mail', '{mail.example.net}', 'accepts_all', 'accepts everyone', 'our own tests');
SELECT email_verify.provider_for_mx('mx1.mail.example.net') AS added, origin FROM email_verify.providers WHERE name = 'Example Mail';
UPDATE email_verify.providers SET enabled = false WHERE name = 'Example Mail';
SELECT email_verify.provider_for_mx('mx1.mail.example.net') IS NULL AS disabled;
DELETE FROM email_verify.providers WHERE name = 'Example Mail';

-- Editing a shipped row makes it yours ('edited', kept by pg_dump); a change
-- that changes nothing does not.
UPDATE email_verify.providers SET notes = notes WHERE name = 'Mail.ru';
UPDATE email_verify.providers SET mx_patterns = mx_patterns || '{ya.example}'::text[] WHERE name = 'Yandex';
SELECT name, origin FROM email_verify.providers WHERE name IN ('Yandex', 'Mail.ru') ORDER BY name;
SELECT email_verify.provider_for_mx('mx.ya.example') AS edited_pattern;

-- A row of yours under a shipped row's name takes its place.
INSERT INTO email_verify.providers (name, mx_patterns, behaviour, notes, source)
VALUES ('Proton Mail', '{protonmail.ch,proton.example}', 'reveals_mailboxes', 'seen refusing unknown users', 'our logs');
SELECT name, behaviour, origin FROM email_verify.providers WHERE name = 'Proton Mail';

-- Shipped and edited rows stay: CREATE EXTENSION, and so the restore of a
-- dump, would bring them back.
DELETE FROM email_verify.providers WHERE name = 'Google';
DELETE FROM email_verify.providers WHERE name = 'Yandex';
UPDATE email_verify.providers SET name = 'Zoho' WHERE name = 'Zoho Mail';
TRUNCATE email_verify.providers;
UPDATE email_verify.providers SET enabled = false WHERE name = 'Google';
SELECT email_verify.provider_for_mx('aspmx.l.google.com') IS NULL AS google_disabled;
UPDATE email_verify.providers SET enabled = true WHERE name = 'Google';
-- (Google stays 'edited': the extension does not remember what it shipped.)
SELECT count(*) AS rows, count(*) FILTER (WHERE origin = 'shipped') AS shipped FROM email_verify.providers;

-- pg_dump keeps your rows and edits, not the shipped ones.
SELECT c.relname, e.cond
FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS e(cfg, cond)
JOIN pg_class c ON c.oid = e.cfg
WHERE x.extname = 'email_verify' AND c.relname = 'providers';

-- Everyone reads; only the owner writes.
CREATE ROLE ev_regress_reader;
SET ROLE ev_regress_reader;
SELECT count(*) AS readable FROM email_verify.providers;
SELECT email_verify.provider_for_mx('mx.yandex.net') AS readers_see;
\set VERBOSITY terse
INSERT INTO email_verify.providers (name, mx_patterns, behaviour) VALUES ('x', '{x.example}', 'tarpits');
UPDATE email_verify.providers SET enabled = false;
DELETE FROM email_verify.providers WHERE origin = 'user';
\set VERBOSITY default
RESET ROLE;
DROP ROLE ev_regress_reader;
