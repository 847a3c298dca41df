-- Bad input gets a clear verdict or a clear error, never a crash or a hang.
SELECT (verify_email('', 'syntax')).reason AS empty,
       (verify_email('   ', 'syntax')).reason AS blanks,
       (verify_email(chr(1) || 'a@example.com', 'syntax')).reason AS c0_control,
       (verify_email('a' || chr(127) || '@example.com', 'syntax')).reason AS del,
       (verify_email('a' || chr(133) || '@example.com', 'syntax')).reason AS c1_control,
       (verify_email(E'a\tb@example.com', 'syntax')).reason AS inner_tab,
       (verify_email(E'\t a@example.com \r\n', 'syntax')).status AS trimmed;

-- 10 MB inputs, in every position.
SELECT (verify_email(repeat('a', 10 * 1024 * 1024) || '@example.com', 'syntax')).reason AS huge_local,
       (verify_email('a@' || repeat('b', 10 * 1024 * 1024) || '.com', 'syntax')).reason AS huge_domain,
       (verify_email('a@' || repeat('ü', 5 * 1024 * 1024) || '.com', 'syntax')).reason AS huge_idn,
       (verify_email(repeat(' ', 10 * 1024 * 1024) || 'a@example.com', 'syntax')).status AS huge_padding,
       (verify_email(repeat('@', 10 * 1024 * 1024), 'syntax')).reason AS all_ats,
       length((verify_email(repeat('x', 10 * 1024 * 1024), 'syntax')).email) AS echoed;

-- Invalid UTF-8 cannot even become text: the server refuses it first.
SELECT verify_email(convert_from('\x61ff40782e636f6d'::bytea, 'UTF8'), 'syntax');
SELECT verify_email(convert_from('\xc0af40782e636f6d'::bytea, 'UTF8'), 'syntax');

-- Odd arrays.
SELECT count(*) FROM verify_emails(ARRAY[]::text[], 'syntax');
SELECT count(*) FROM verify_emails(ARRAY[[ 'a@x.com', 'b@x.com' ], [ 'c@x.com', NULL ]], 'syntax');
SELECT ord, email, status, reason
FROM verify_emails(ARRAY['b@example.com', NULL, 'bad', 'a@example.com'], 'syntax') WITH ORDINALITY AS v(email, normalized, status, reason, level, suggestion, is_disposable, is_role, is_free, is_catch_all, mx_found, mx_host, smtp_code, smtp_message, score, checked_at, duration_ms, from_cache, ord);

-- Many addresses in one call, cancellable by statement_timeout.
SELECT count(*) FILTER (WHERE status = 'valid') AS valid, count(*) AS total
FROM verify_emails(ARRAY(SELECT 'user' || g || '@example.com' FROM generate_series(1, 50000) g), 'syntax');
CREATE TEMP TABLE million AS
SELECT array_agg('user' || g || '@example' || g || '.com') AS addresses FROM generate_series(1, 1000000) g;
SET statement_timeout = '300ms';
SELECT count(*) FROM million, verify_emails(million.addresses, 'syntax');
RESET statement_timeout;
SELECT 'still alive' AS backend;
-- Called again for each row (LATERAL): each call's rows stand on their own.
SELECT l.n, v.email, v.status
FROM (VALUES (1, ARRAY['a@example.com', 'bad']), (2, ARRAY['b@example.com'])) AS l(n, list),
     LATERAL verify_emails(l.list, 'syntax') v
ORDER BY l.n, v.email;
