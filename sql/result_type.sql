-- The result type's columns, in the contract's order (README.md, "The result"),
-- and the unqualified entry points.
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute
WHERE attrelid = 'email_verify.result'::regclass AND attnum > 0
ORDER BY attnum;

-- Callable unqualified with the default search_path.
SHOW search_path;
SELECT email, normalized, status, reason, level, suggestion, is_disposable, is_role, is_free,
       is_catch_all, mx_found, mx_host, smtp_code, smtp_message, score, from_cache,
       checked_at IS NOT NULL AND checked_at <= clock_timestamp() AS checked_at_ok,
       duration_ms >= 0 AS duration_ok
FROM verify_email('John.Doe@GMIAL.con', 'syntax');

SELECT (email_verify.verify_email('jane@example.com', 'syntax')).status;
SELECT count(*) FROM verify_emails(ARRAY['a@example.com', 'b@example.com'], 'syntax');

-- NULL in, NULL out.
SELECT verify_email(NULL) IS NULL AS null_result;
SELECT verify_email(NULL, 'syntax') IS NULL AS null_result;
SELECT count(*) FROM verify_emails(NULL, 'syntax');

-- Levels.
SELECT (verify_email('a@example.com', 'bogus')).status;
SET email_verify.dns_servers = '127.0.53.1:53';  -- the local test world (testworld/)
SELECT (verify_email('a@nullmx.test', 'dns')).level;
SELECT (verify_email('a@nullmx.test')).reason;  -- default_level is smtp; no MX, so no SMTP
RESET email_verify.dns_servers;
SET email_verify.default_level = 'syntax';
SELECT (verify_email('a@example.com')).level;
RESET email_verify.default_level;

-- The function signatures the README fixes.
SELECT p.oid::regprocedure AS function, p.prorettype::regtype AS returns, p.proretset AS setof
FROM pg_proc p
WHERE p.proname IN ('verify_email', 'verify_emails')
ORDER BY p.pronamespace::regnamespace::text, 1;
