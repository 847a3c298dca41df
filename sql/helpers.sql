-- Helpers for CHECK constraints, indexes and WHERE clauses.
SELECT email_verify.is_valid_syntax('john@example.com') AS ok,
       email_verify.is_valid_syntax('john@@example.com') AS bad,
       email_verify.is_valid_syntax('"a b"@example.com') AS quoted_default,
       email_verify.is_valid_syntax('"a b"@example.com', allow_quoted_local => true) AS quoted_allowed,
       email_verify.is_valid_syntax('a@[192.0.2.1]', allow_domain_literal => true) AS literal_allowed,
       email_verify.is_valid_syntax(NULL) IS NULL AS null_in;

SELECT email_verify.normalize_email('  Jane.Doe@Bücher.EXAMPLE ') AS normalized,
       email_verify.normalize_email('not an address') AS invalid,
       email_verify.email_domain('Jane@Sub.Example.COM') AS domain,
       email_verify.email_domain('Jane@例子.广告') AS idn_domain;

SELECT email_verify.suggest_email('John.Doe@GMIAL.con') AS typo,
       email_verify.suggest_email('john@gmx.com') AS real_domain,
       email_verify.suggest_email('john@mail.com') AS real_domain2,
       email_verify.suggest_email('john@yahoo.co.uk') AS real_domain3,
       email_verify.suggest_email('broken@') AS invalid;

SELECT email_verify.is_disposable('x@mailinator.com') AS disp_address,
       email_verify.is_disposable('mailinator.com') AS disp_domain,
       email_verify.is_disposable('a.b.MAILINATOR.com') AS disp_subdomain,
       email_verify.is_disposable('x@gmail.com') AS not_disp,
       email_verify.is_disposable('x@@') AS malformed,
       email_verify.is_free('x@gmail.com') AS free_address,
       email_verify.is_free('outlook.com') AS free_domain,
       email_verify.is_free('example.com') AS not_free,
       email_verify.is_role('Sales+x@example.com') AS role_address,
       email_verify.is_role('no_reply') AS role_local,
       email_verify.is_role('jane@example.com') AS not_role;

-- Volatility and parallel safety as declared. The API is what email_verify
-- holds; what the triggers, views and workers call is in email_verify_internal.
SELECT p.pronamespace::regnamespace AS schema, p.proname, p.provolatile, p.proparallel, p.proisstrict
FROM pg_proc p
WHERE p.pronamespace IN ('email_verify'::regnamespace, 'email_verify_internal'::regnamespace) AND p.prokind = 'f'
ORDER BY p.pronamespace::regnamespace::text, p.proname;

-- In a CHECK constraint and an expression index.
CREATE TABLE signups (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL CHECK (email_verify.is_valid_syntax(email))
);
CREATE UNIQUE INDEX signups_normalized ON signups (email_verify.normalize_email(email));
CREATE INDEX signups_domain ON signups (email_verify.email_domain(email));
INSERT INTO signups (email) VALUES ('Jane@Example.com');
INSERT INTO signups (email) VALUES ('jane@EXAMPLE.COM ');  -- same normalized address
INSERT INTO signups (email) VALUES ('Jane@Example.com');
INSERT INTO signups (email) VALUES ('jane@@example.com');
INSERT INTO signups (email) VALUES ('bob@example.org');
SELECT email FROM signups WHERE email_verify.email_domain(email) = 'example.org';
DROP TABLE signups;
-- A provider's country domains are real: no suggestion, never the address
-- itself; typos of them are still caught.
SELECT email_verify.suggest_email('u@yahoo.ca') AS yahoo_ca,
       email_verify.suggest_email('u@hotmail.se') AS hotmail_se,
       email_verify.suggest_email('u@y7mail.com') AS y7mail,
       email_verify.suggest_email('u@yandex.fu') AS yandex_fu,
       email_verify.suggest_email('u@gmail.cm') AS gmail_cm;
