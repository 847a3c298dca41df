-- Bulk jobs: submission, its errors, who sees what. No worker serves the
-- regression database, so jobs stay queued here (TAP 024 drains them).
\set SHOW_CONTEXT never
-- The default: webhooks go to public addresses only.
SET email_verify.webhook_allow_private = off;

-- Bad input gets a clear error.
SELECT email_verify.submit_job(NULL);
SELECT email_verify.submit_job('{}');
SELECT email_verify.submit_job(ARRAY['a@example.com', NULL, 'b@example.com']);
SELECT email_verify.submit_job(ARRAY['a@example.com'], level => 'bogus');
SELECT email_verify.submit_job(ARRAY['a@example.com'], 'ftp://example.com/hook', 'whsec_c2VjcmV0', 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], 'not a url', 'whsec_c2VjcmV0', 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], 'https://user:pw@example.com/hook', 'whsec_c2VjcmV0', 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], 'http://127.0.0.1:8080/hook', 'whsec_c2VjcmV0', 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], 'http://[::1]/hook', 'whsec_c2VjcmV0', 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], 'https://example.com/hook', NULL, 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], NULL, 'whsec_c2VjcmV0', 'syntax');
SELECT email_verify.submit_job(ARRAY['a@example.com'], level => 'syntax', endpoint => 'nosuch');
SELECT email_verify.submit_job_from_query(NULL);
SELECT email_verify.submit_job_from_query('SELECT 1 WHERE false');
SELECT email_verify.submit_job_from_query('SELECT NULL::text');
SELECT email_verify.submit_job_from_query('CREATE TABLE nope (a int)');
SELECT email_verify.submit_job_from_query('SELECT FROM generate_series(1, 3)');
SELECT email_verify.job_status(NULL);
SELECT email_verify.job_status(-1);
SELECT * FROM email_verify.job_results(123456789);
SELECT email_verify.cancel_job(123456789);
-- A failed submission leaves no job behind.
SELECT count(*) AS jobs FROM email_verify.jobs;

-- A job from an array: duplicates (same address, domain in any case, spaces
-- around) become one address to probe.
SELECT email_verify.submit_job(ARRAY['Bob@Example.com', ' bob@example.COM ', 'bob@example.com', 'ann@example.com',
                                     'not an address'], level => 'syntax') AS array_job \gset
SELECT state, level, total, unique_addresses, processed, percent_done, valid, reasons, owner
FROM email_verify.job_status(:array_job);
-- In input order; nothing verified yet, so only the inputs.
SELECT email, status FROM email_verify.job_results(:array_job);

-- A job from a query, read in slices (any type with an output function).
CREATE TABLE leads (id int PRIMARY KEY, email varchar(100));
INSERT INTO leads SELECT g, 'user' || g || '@d' || (g % 7) || '.example' FROM generate_series(1, 25000) g;
SELECT email_verify.submit_job_from_query('SELECT email FROM leads ORDER BY id', level => 'syntax') AS query_job \gset
SELECT state, total, unique_addresses FROM email_verify.job_status(:query_job);
SELECT email FROM email_verify.job_results(:query_job) LIMIT 3;

-- Cancelling: once; its results stay readable.
SELECT email_verify.cancel_job(:query_job);
SELECT state, failure_reason FROM email_verify.job_status(:query_job);
SELECT email_verify.cancel_job(:query_job);
SELECT count(*) FROM email_verify.job_results(:query_job);

-- Who sees what: a role sees and cancels its own jobs only; levels dns and
-- smtp need email_verify_prober; members of email_verify_admin see all.
CREATE ROLE job_alice;
CREATE ROLE job_bob;
CREATE ROLE job_admin IN ROLE email_verify_admin;
GRANT SELECT ON leads TO job_alice;
SET ROLE job_alice;
SELECT email_verify.submit_job(ARRAY['x@example.com'], level => 'dns');
SELECT email_verify.submit_job(ARRAY['x@example.com'], level => 'syntax') AS alice_job \gset
SELECT count(*) AS alice_sees FROM email_verify.jobs;
SELECT state FROM email_verify.job_status(:array_job);
SELECT email_verify.cancel_job(:array_job);
SELECT count(*) FROM email_verify.job_results(:array_job);
SELECT count(*) FROM email_verify_internal.jobs;
SELECT count(*) FROM email_verify_internal.job_input_chunks;
SELECT count(*) FROM email_verify_internal.job_address_chunks;
SELECT webhook_secret FROM email_verify_internal.jobs;
SELECT email_verify_internal.job_add(:array_job, 99, ARRAY['sneaky@example.com'], ARRAY[0]);
SELECT email_verify_internal.job_add_addresses(:array_job, 99, ARRAY['sneaky@example.com'], ARRAY[1]);
SELECT email_verify_internal.job_seal(:array_job);
SELECT email_verify_internal.may_read_job(:array_job);
-- The function that expands a chunk of results answers for her own jobs only,
-- whatever arrays she hands it.
SELECT count(*) FROM email_verify_internal.job_chunk_results(:array_job, ARRAY['a', 'b'], ARRAY[0, 1]);
SELECT count(*) AS alice_reads_own FROM email_verify_internal.job_chunk_results(:alice_job, ARRAY['x', 'y'], ARRAY[0, 5000]);
SET ROLE job_bob;
SELECT state FROM email_verify.job_status(:alice_job);
SELECT email_verify.cancel_job(:alice_job);
SELECT email_verify.replay_job_webhooks(:alice_job);
-- The view behind job_results shows bob none of alice's rows, even read directly.
SELECT count(*) AS bob_reads FROM email_verify_internal.visible_job_results WHERE job_id = :alice_job;
SELECT count(*) AS bob_sees FROM email_verify.jobs;
-- Another role's endpoint: neither rotated, unregistered nor re-enabled by bob.
RESET ROLE;
SET ROLE job_alice;
SELECT email_verify.register_webhook_endpoint('alice', 'https://alice.example.com/hooks', 'whsec_c2VjcmV0');
RESET ROLE;
UPDATE email_verify_internal.webhook_endpoints SET disabled_at = now(), disabled_reason = 'test' WHERE name = 'alice';
SET ROLE job_bob;
SELECT email_verify.rotate_webhook_secret('alice', 'whsec_Ym9i');
SELECT email_verify.unregister_webhook_endpoint('alice');
SELECT email_verify.enable_webhook_endpoint('https://alice.example.com/hooks');
SELECT count(*) AS bob_sees_endpoints FROM email_verify.webhook_endpoints;
SELECT email_verify.replay_webhook(gen_random_uuid());
RESET ROLE;
SELECT name, disabled_at IS NOT NULL AS still_disabled,
       secret = 'whsec_c2VjcmV0' AS secret_unchanged FROM email_verify_internal.webhook_endpoints WHERE name = 'alice';
DELETE FROM email_verify_internal.webhook_endpoints WHERE name = 'alice';
SET ROLE job_admin;
SELECT count(*) > 2 AS admin_sees_all FROM email_verify.jobs;
SELECT state, owner FROM email_verify.job_status(:alice_job);
RESET ROLE;
SELECT total FROM email_verify.job_status(:array_job);

-- Endpoints: registered once, never shown with their secret.
SELECT email_verify.register_webhook_endpoint('crm', 'https://crm.example.com/hooks', 'whsec_c2VjcmV0');
SELECT email_verify.register_webhook_endpoint('crm', 'https://crm.example.com/hooks', 'whsec_c2VjcmV0');
SELECT email_verify.register_webhook_endpoint('bad', 'https://crm.example.com/hooks', 'whsec_c2VjcmV0', '{bulk.nope}');
SELECT email_verify.rotate_webhook_secret('crm', 'whsec_bmV3');
SELECT name, url, events, rotating, disabled_at FROM email_verify.webhook_endpoints;
SELECT email_verify.submit_job(ARRAY['c@example.com'], level => 'syntax', endpoint => 'crm') AS crm_job \gset
SELECT webhook_url, webhook_endpoint FROM email_verify.job_status(:crm_job);
SELECT email_verify.submit_job(ARRAY['c@example.com'], 'https://x.example.com', 'whsec_c2VjcmV0', 'syntax', 'crm');
SELECT email_verify.unregister_webhook_endpoint('crm');
SELECT email_verify.cancel_job(:crm_job);
SELECT email_verify.unregister_webhook_endpoint('crm');
SELECT email_verify.unregister_webhook_endpoint('crm');
SELECT left(email_verify.new_webhook_secret(), 6) AS prefix, length(email_verify.new_webhook_secret()) AS length;

DROP TABLE leads;
DROP OWNED BY job_alice, job_bob, job_admin;
DROP ROLE job_alice, job_bob, job_admin;

-- The level argument is case-insensitive, as email_verify.default_level is.
SELECT email_verify.submit_job(ARRAY['d@example.com'], level => 'SYNTAX') AS upper_job \gset
SELECT level FROM email_verify.job_status(:upper_job);
SELECT email_verify.cancel_job(:upper_job);
