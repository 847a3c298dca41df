# The in-place flow end to end: a watched table filled in by the background
# worker, woken at commit; and nothing lost when the worker is killed with
# SIGKILL mid-batch, when the server stops with -m immediate mid-drain, or
# when the queue fills while no worker runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '60s'
email_verify.retry_delay = '1s'
email_verify.worker_batch_size = 50
# SIGKILL of any backend means a crash restart; the framework turns that off.
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';

# Waits (bounded) until every row of the table carries a verdict.
sub wait_verified
{
	my ($table, $limit) = @_;
	my $deadline = time + ($limit // 60);
	while (time < $deadline)
	{
		my $left = $node->safe_psql('postgres', "SELECT count(*) FROM $table WHERE email IS NOT NULL AND email_status IS NULL");
		return 1 if $left eq '0';
		sleep 0.2;
	}
	return 0;
}

sub worker_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
}

# The launcher starts the worker once CREATE EXTENSION has made its role.
my $started = time + 10;
sleep 0.1 while worker_pid() eq '' && time < $started;
like(worker_pid(), qr/^\d+$/, 'the worker runs, visible in pg_stat_activity');
is($node->safe_psql('postgres',
	q{SELECT application_name FROM pg_stat_activity WHERE backend_type = 'email_verify worker'}),
	'email_verify worker', 'with a clear application_name');

# ---- the flow ----------------------------------------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE contacts (id int PRIMARY KEY, email text);
INSERT INTO contacts VALUES (1, 'alice@strict.test'), (2, 'nosuchuser@strict.test'),
  (3, 'anyone@catchall.test'), (4, 'a@nullmx.test'), (5, 'not an address'), (6, NULL);
SELECT email_verify.watch('contacts', 'email', level => 'smtp');
});
ok(wait_verified('contacts', 30), 'existing rows verified by the worker');
is($node->safe_psql('postgres', q{SELECT string_agg(id || ':' || coalesce(email_status, '-') || '/' || coalesce(email_reason, '-') || '/' || coalesce(email_catch_all::text, '-'), ' ' ORDER BY id) FROM contacts}),
	'1:valid/accepted/false 2:invalid/mailbox_not_found/false 3:risky/catch_all/true 4:invalid/null_mx/- 5:invalid/syntax/- 6:-/-/-',
	'verdicts written back by primary key');

# Woken at commit: naptime is 60 s, so only the wake-up explains a fast verdict.
my $t0 = time;
$node->safe_psql('postgres', q{INSERT INTO contacts VALUES (7, 'bob@strict.test')});
ok(wait_verified('contacts', 20), 'a new row is verified');
cmp_ok(time - $t0, '<', 5, sprintf('woken at commit: %.2f s (naptime is 60 s)', time - $t0));

# A rolled back insert leaves nothing queued.
$node->safe_psql('postgres', q{BEGIN; INSERT INTO contacts VALUES (8, 'rollback@strict.test'); ROLLBACK;});
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue WHERE email = 'rollback@strict.test'}),
	'0', 'rollback: nothing queued');

# ---- nothing lost: SIGKILL mid-batch ---------------------------------------------
# slowrcpt answers each RCPT after 200 ms: a batch of 40 is in flight for seconds.
$node->safe_psql('postgres', q{
CREATE TABLE slow (id int PRIMARY KEY, email text);
SELECT email_verify.watch('slow', 'email', level => 'smtp');
INSERT INTO slow SELECT g, CASE WHEN g % 2 = 0 THEN 'alice' ELSE 'bob' END || '+' || g || '@slowrcpt.test' FROM generate_series(1, 40) g;
});
sleep 1.0;
my $pid = worker_pid();
kill 'KILL', $pid if $pid =~ /^\d+$/;
# SIGKILL of a backend makes the postmaster restart every process: over once
# a new worker runs (a query may still pass before the restart begins).
my $deadline = time + 30;
sleep 0.3 until (time > $deadline || do { my $now = eval { worker_pid() } // ''; $now =~ /^\d+$/ && $now != $pid });
ok(wait_verified('slow', 90), 'after SIGKILL of the worker mid-batch, every row is verified');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id WHERE w.relid = 'slow'::regclass}),
	'0', 'and the queue is empty');

# ---- nothing lost: -m immediate mid-drain ------------------------------------------
$node->safe_psql('postgres', q{
INSERT INTO slow SELECT g, 'alice+' || g || '@slowrcpt.test' FROM generate_series(101, 140) g;
});
sleep 1.0;
$node->stop('immediate');
$node->start;
ok(wait_verified('slow', 90), 'after pg_ctl stop -m immediate mid-drain, every row is verified');

# "Exactly as if nothing had happened": the same verdicts a direct probe gives.
is($node->safe_psql('postgres', q{
SET email_verify.result_ttl = 0;
SELECT count(*) FROM slow s
JOIN verify_emails((SELECT array_agg(email ORDER BY id) FROM slow), 'smtp') v ON v.email = s.email
WHERE (s.email_status, s.email_reason) IS DISTINCT FROM (v.status, v.reason)}),
	'0', 'the crashes changed no verdict');

# ---- nothing lost: the queue fills while no worker runs -----------------------------
$node->append_conf('postgresql.conf', 'email_verify.workers = 0');
$node->restart;
is(worker_pid(), '', 'email_verify.workers = 0: no worker');
$node->safe_psql('postgres', q{INSERT INTO contacts SELECT g, 'user' || g || '@catchall.test' FROM generate_series(100, 299) g});
is($node->safe_psql('postgres', q{SELECT count(*) FROM contacts WHERE email_status IS NULL AND email IS NOT NULL}),
	'200', 'rows wait in the queue');
$node->append_conf('postgresql.conf', 'email_verify.workers = 1');
$node->restart;
ok(wait_verified('contacts', 60), 'once a worker runs, the filled queue drains');
is($node->safe_psql('postgres', q{SELECT count(*) FROM contacts WHERE email_reason = 'catch_all'}), '201',
	'with the verdicts a direct probe gives');

# ---- stale rows are re-verified ----------------------------------------------------
# recheck_after 1 s and a 1 s naptime: the idle worker re-queues verdicts older
# than that and verifies them again.
$node->append_conf('postgresql.conf', "email_verify.worker_naptime = '1s'");
$node->reload;
my $before = $node->safe_psql('postgres', q{SELECT email_verified_at FROM contacts WHERE id = 1});
$node->safe_psql('postgres', q{SELECT email_verify.watch('contacts', 'email', level => 'smtp', recheck_after => '1 second')});
$deadline = time + 30;
my $after = $before;
while (time < $deadline)
{
	$after = $node->safe_psql('postgres', q{SELECT email_verified_at FROM contacts WHERE id = 1});
	last if $after gt $before;
	sleep 0.3;
}
ok($after gt $before, "a stale verdict is re-verified by the worker ($before -> $after)");
is($node->safe_psql('postgres', q{SELECT email_status || '/' || email_reason FROM contacts WHERE id = 1}),
	'valid/accepted', 'with the same verdict');

# ---- verdicts are written back as they settle -----------------------------------------
# One batch: an address at the tarpit (it accepts the connection and never
# says a word: the probe waits reply_timeout, 15 s) and 20 at a quick domain.
# The quick ones are written while the tarpit's is still being probed.
$node->safe_psql('postgres', q{
CREATE TABLE mixed (id int PRIMARY KEY, email text);
SELECT email_verify.watch('mixed', 'email', level => 'smtp');
INSERT INTO mixed VALUES (0, 'slow@tarpit.test');
INSERT INTO mixed SELECT g, 'user' || g || '@acceptall.test' FROM generate_series(1, 20) g;
});
$t0 = time;
$deadline = time + 10;
my $quick = 0;
while (time < $deadline)
{
	$quick = $node->safe_psql('postgres', q{SELECT count(email_status) FROM mixed WHERE id > 0});
	last if $quick eq '20';
	sleep 0.1;
}
my $waited = time - $t0;
is($quick, '20', sprintf('the quick domain\'s 20 verdicts are written in %.1f s', $waited));
is($node->safe_psql('postgres', q{SELECT email_status IS NULL FROM mixed WHERE id = 0}), 't',
	'while the tarpit address of the same batch is still being probed');
cmp_ok($waited, '<', 5, 'long before the tarpit\'s probe can end (reply_timeout 15 s)');
$node->safe_psql('postgres', q{SELECT email_verify.unwatch('mixed', 'email')});

# ---- SIGTERM is honoured promptly ---------------------------------------------------
$pid = worker_pid();
$t0 = time;
kill 'TERM', $pid;
sleep 0.02 while (kill(0, $pid) && time - $t0 < 5);
cmp_ok(time - $t0, '<', 1, sprintf('SIGTERM ends the worker in %.3f s', time - $t0));

$node->stop;
done_testing();
