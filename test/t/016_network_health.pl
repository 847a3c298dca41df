# The prober's own network health (README.md, "Network health"): with
# outbound SMTP unreachable (here: email_verify.smtp_port aimed at a port
# where nothing listens, so every connect to every MX host is refused, as a
# firewall that rejects port 25 does), the worker's probes of a dozen
# unrelated domains turn prober_health to 'blocked' within seconds; one
# WARNING is logged; no item's attempt is counted and no verdict written; a
# sync call's smtp_message explains it. Once the port is reachable again,
# the next test connection (email_verify.health_check_interval) gets through,
# the state is 'ok' and the rows are verified.
#
# The world must already run (root: testworld/world.sh start).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

my $node = PostgreSQL::Test::Cluster->new('health');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '1s'
email_verify.retry_delay = '1s'
email_verify.health_check_interval = '2s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';

sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

# Port 25 "blocked": nothing listens on 2599 at any MX host.
sql(q{ALTER SYSTEM SET email_verify.smtp_port = 2599; SELECT pg_reload_conf();});

is(sql(q{SELECT state || ' ' || failing_hosts FROM email_verify.prober_health}), 'ok 0', 'at first the network is ok');

# A dozen unrelated domains (each its own MX host) and two Postfix ones.
my @domains = qw(banner421 tarpit slowbanner dropehlo noehlo full disabled tlsoffered multiline toomany tempfail nopipelining);
my $values = join(', ', map { "($_, 'alice\@$domains[$_ - 1].test')" } 1 .. scalar @domains);
sql(qq{CREATE TABLE contacts (id int PRIMARY KEY, email text);
SELECT email_verify.watch('contacts', 'email', level => 'smtp');
INSERT INTO contacts VALUES $values, (101, 'alice\@strict.test'), (102, 'bob\@strict.test');});
my $t0 = time;
my $deadline = $t0 + 60;
sleep 0.2 while sql(q{SELECT state FROM email_verify.prober_health}) ne 'blocked' && time < $deadline;
my $took = time - $t0;
is(sql(q{SELECT state FROM email_verify.prober_health}), 'blocked', 'every connect refused: the state is blocked');
cmp_ok($took, '<', 30, sprintf('detected within 30 s of the first probes (%.1f s)', $took));
like(sql(q{SELECT evidence FROM email_verify.prober_health}),
	qr/^1\d\+? MX hosts of distinct domains failed .*connection refused/, 'with the evidence');

sleep 3;    # the worker writes back, and tests once more
is(sql(q{SELECT count(*) FROM contacts WHERE email_status IS NOT NULL}), '0', 'no verdict was written');
is(sql(q{SELECT max(attempts) FROM email_verify.queue}), '0', 'no attempt was counted');
like(sql(q{SELECT string_agg(DISTINCT last_reason, '|') FROM email_verify.queue}),
	qr/prober's own network looks blocked/, 'the queue says why its items wait');
like(sql(q{SELECT smtp_message FROM verify_email('carol@strict.test', 'smtp')}),
	qr/the prober's own network looks blocked: .*see email_verify\.prober_health/,
	'a sync verdict explains itself');
my $log = slurp_file($node->logfile);
my $warnings = () = $log =~ /WARNING:  email_verify: the prober's own network looks blocked/g;
is($warnings, 1, 'one WARNING in the server log');

# --- reachable again ---------------------------------------------------------
sql(q{ALTER SYSTEM RESET email_verify.smtp_port; SELECT pg_reload_conf();});
$t0 = time;
$deadline = $t0 + 60;
sleep 0.2 while sql(q{SELECT state FROM email_verify.prober_health}) ne 'ok' && time < $deadline;
$took = time - $t0;
is(sql(q{SELECT state FROM email_verify.prober_health}), 'ok', 'port reachable: the state is ok again');
cmp_ok($took, '<', 2 + 5, sprintf('within one check period (2 s) and a probe (%.1f s)', $took));
$deadline = time + 60;
sleep 0.3 while sql(q{SELECT count(*) FROM contacts WHERE email_status IS NULL}) ne '0' && time < $deadline;
is(sql(q{SELECT email_reason FROM contacts WHERE id = 101}), 'accepted', 'and the rows are verified');
is(sql(q{SELECT count(*) FROM contacts WHERE email_reason = 'connection_failed'}), '0',
	'none of them with the blocked network\'s verdict');

$node->stop;
done_testing();
