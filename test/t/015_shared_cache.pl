# The prober's caches for the whole server (README.md, "Caches"): a verdict
# one backend reached, or the background worker, is from_cache in every other
# backend; a change to list_entries refreshes the flags of cached verdicts;
# clear_cache() empties the server's cache and is a superuser's (or a
# grantee's); prober_cache counts hits, misses, stores and evictions; and a
# tiny cache evicts instead of failing.
#
# The world must already run (root: testworld/world.sh start).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

my $node = PostgreSQL::Test::Cluster->new('shared_cache');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '1s'
email_verify.shared_cache_size = '1MB'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';

sub sql { my ($sql) = @_; return $node->safe_psql('postgres', $sql); }

# --- one backend's verdict is another's -------------------------------------
is(sql(q{SELECT from_cache || ' ' || reason FROM verify_email('bob@strict.test', 'smtp')}), 'false accepted',
	'the first backend probes');
is(sql(q{SELECT from_cache || ' ' || reason || ' ' || smtp_code FROM verify_email('bob@strict.test', 'smtp')}),
	'true accepted 250', 'a second backend gets the verdict from the server cache, SMTP reply included');
is(sql(q{SELECT from_cache FROM verify_email('BOB@strict.test', 'smtp')}), 'f',
	'the key is the normalized address (local part as given)');
is(sql(q{SELECT from_cache FROM verify_email('bob@strict.test', 'dns')}), 'f', 'and the level');

# --- the worker's verdicts too ---------------------------------------------
sql(q{CREATE TABLE contacts (id int PRIMARY KEY, email text);
SELECT email_verify.watch('contacts', 'email', level => 'smtp');
INSERT INTO contacts VALUES (1, 'alice@strict.test'), (2, 'gone@strict.test');});
my $deadline = time + 30;
sleep 0.2 while sql(q{SELECT count(*) FROM contacts WHERE email_status IS NULL}) ne '0' && time < $deadline;
is(sql(q{SELECT string_agg(from_cache || ' ' || reason, ',' ORDER BY email)
FROM verify_emails(ARRAY['alice@strict.test', 'gone@strict.test'], 'smtp')}),
	'true accepted,true mailbox_not_found', 'what the worker found is from_cache in a backend');

# --- a list change refreshes cached flags ----------------------------------
sql(q{INSERT INTO email_verify.list_entries (list, entry) VALUES ('disposable', 'strict.test')});
is(sql(q{SELECT from_cache || ' ' || status || ' ' || reason || ' ' || is_disposable FROM verify_email('bob@strict.test', 'smtp')}),
	'true risky disposable true', 'after list_entries marks the domain disposable, the cached verdict says so');
sql(q{DELETE FROM email_verify.list_entries WHERE entry = 'strict.test'});
is(sql(q{SELECT from_cache || ' ' || status || ' ' || reason || ' ' || is_disposable FROM verify_email('bob@strict.test', 'smtp')}),
	'true valid accepted false', 'and the entry gone, it is valid again, still from the cache');

# --- clear_cache is privileged and empties the server's cache --------------
sql(q{CREATE ROLE app LOGIN; GRANT email_verify_prober TO app;});
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT email_verify.clear_cache()', extra_params => [ '-U', 'app' ]);
like($err, qr/permission denied for function clear_cache/, 'an ordinary role may not clear the server cache');
is($node->safe_psql('postgres', q{SELECT from_cache FROM verify_email('bob@strict.test', 'smtp')}, extra_params => [ '-U', 'app' ]),
	't', 'it may use it');
is($node->safe_psql('postgres', q{SELECT hits >= 0 FROM email_verify.prober_cache}, extra_params => [ '-U', 'app' ]),
	't', 'it may read the cache statistics');
is($node->safe_psql('postgres',
	q{SELECT (SELECT count(*) > 0 FROM email_verify.prober_counters) AND (SELECT count(*) = 4 FROM email_verify.prober_latency)
	     AND (SELECT state IS NOT NULL FROM email_verify.prober_health)}, extra_params => [ '-U', 'app' ]),
	't', 'and the counters, latencies and health');
sql(q{SELECT email_verify.clear_cache()});
is(sql(q{SELECT from_cache FROM verify_email('bob@strict.test', 'smtp')}), 'f', 'after clear_cache() every backend probes again');

# --- statistics, and a full cache evicts -----------------------------------
my $before = sql(q{SELECT hits || ' ' || misses || ' ' || stores FROM email_verify.prober_cache});
my ($h0, $m0, $s0) = split / /, $before;
sql(q{SELECT count(*) FROM verify_emails(ARRAY['alice@strict.test'], 'smtp')});
sql(q{SELECT count(*) FROM verify_emails(ARRAY['alice@strict.test'], 'smtp')});
my ($h1, $m1, $s1) = split / /, sql(q{SELECT hits || ' ' || misses || ' ' || stores FROM email_verify.prober_cache});
cmp_ok($h1, '>', $h0, 'prober_cache counts hits');
cmp_ok($m1, '>', $m0, 'and misses');
cmp_ok($s1, '>', $s0, 'and stores');
is(sql(q{SELECT capacity FROM email_verify.prober_cache}), '2048', 'a 1 MB cache holds 2048 entries');
# 3,000 distinct verdicts at level dns (one route each way) overflow it.
sql(q{SET email_verify.result_ttl = '1h';
SELECT count(*) FROM verify_emails(ARRAY(SELECT 'u' || i || '@strict.test' FROM generate_series(1, 3000) i), 'dns')});
cmp_ok(sql(q{SELECT evictions FROM email_verify.prober_cache}), '>', 0, 'a full cache evicts');
cmp_ok(sql(q{SELECT entries FROM email_verify.prober_cache}), '<=', 2048, 'and never holds more than its capacity');
is(sql(q{SELECT from_cache FROM verify_email('u3000@strict.test', 'dns')}), 't', 'recent verdicts stay');

$node->stop;
done_testing();
