-- Levels dns and smtp against the local test world (testworld/world.sh
-- start): the columns they fill, the privilege they need, the settings that
-- aim them. Every reason and failure mode is covered by test/t/00[3-6]*.pl.
SET email_verify.dns_servers = '127.0.53.1:53';
SET email_verify.result_ttl = 0;

SELECT email, normalized, status, reason, level, mx_found, mx_host, smtp_code, smtp_message, is_catch_all, score
FROM verify_emails(ARRAY['alice@strict.test', 'nobody@strict.test', 'anyone@catchall.test', NULL,
                         'a@nullmx.test', 'a@nosuch.test', 'a@dangling.test', 'not-an-address'], 'smtp');

SELECT email, status, reason, level, mx_found, mx_host, smtp_code
FROM verify_emails(ARRAY['alice@strict.test', 'a@afallback.test', 'a@servfail.test', 'a@bücher.test'], 'dns');

-- The result cache (the server's, shared by every backend): a settled
-- verdict is reused, an unknown one is not.
SELECT email_verify.clear_cache();
SET email_verify.result_ttl = '1h';
SELECT from_cache FROM verify_email('bob@strict.test', 'smtp');
SELECT from_cache, status FROM verify_email('  bob@strict.test ', 'smtp');
SELECT from_cache FROM verify_email('a@servfail.test', 'dns');
SELECT from_cache FROM verify_email('a@servfail.test', 'dns');
SELECT email_verify.clear_cache();
SELECT from_cache FROM verify_email('bob@strict.test', 'smtp');

-- Settings that aim the prober are validated and reserved to superusers.
SET email_verify.dns_servers = '127.0.0.1:99999';
SET email_verify.dns_servers = 'dns.example.com';
SET email_verify.dns_servers = '[::1]:53, 127.0.0.1';
SET email_verify.dns_servers = ' 127.0.53.1:53 ';
SET email_verify.helo_name = 'bad name';
SET email_verify.mail_from = 'probe@example.com>';

-- Network levels are a privilege: email_verify_prober or superuser.
CREATE ROLE ev_regress_plain;
SET ROLE ev_regress_plain;
SELECT status FROM verify_email('alice@strict.test', 'syntax');
SELECT status FROM verify_email('alice@strict.test', 'dns');
SELECT count(*) FROM verify_emails(ARRAY['alice@strict.test'], 'smtp');
SET email_verify.dns_servers = '127.0.0.1';
RESET ROLE;
GRANT email_verify_prober TO ev_regress_plain;
SET ROLE ev_regress_plain;
SELECT status FROM verify_email('alice@strict.test', 'dns');
RESET ROLE;
DROP ROLE ev_regress_plain;
