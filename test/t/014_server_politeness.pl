# Politeness for the whole server (README.md, "Politeness"): session slots,
# session and RCPT rates per MX site live in shared memory, so sixteen
# application sessions and two workers probing one MX host together never
# open more connections to it than email_verify.max_connections_per_host,
# as the host itself counts them (the scripted server's max_concurrent at
# slowrcpt.test, where every RCPT is answered after 200 ms so sessions
# overlap). Then the RCPT rate over time, two backends sharing it; a spent
# session budget deferring a sync call within permit_wait; and a worker
# putting such an item back without counting an attempt.
#
# The world must already run (root: testworld/world.sh start).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EvScripted;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

my $node = PostgreSQL::Test::Cluster->new('politeness');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.workers = 2
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.max_connections_per_host = 2
email_verify.result_ttl = 0
email_verify.worker_naptime = '1s'
email_verify.worker_batch_size = 10
max_worker_processes = 16
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';
BAIL_OUT('the scripted SMTP server (control port 127.0.2.1:8025) does not answer')
  unless defined control('STATS slowrcpt');

my $json = JSON::PP->new;
sub stats_of { my ($b) = @_; return $json->decode(control("STATS $b"))->{$b}; }

# Which verdict each scripted address must get: alice and bob exist.
sub expected_reason { my ($local) = @_; return $local =~ /^(alice|bob)$/ ? 'accepted' : 'mailbox_not_found'; }

# --- sixteen sessions and two workers, one MX host --------------------------
my $workers_started = time + 20;
sleep 0.2 while $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker'}) ne '2'
  && time < $workers_started;

control('RESET slowrcpt');
$node->safe_psql('postgres', q{
CREATE TABLE contacts (id int PRIMARY KEY, email text);
SELECT email_verify.watch('contacts', 'email', level => 'smtp');
INSERT INTO contacts SELECT i, CASE i % 3 WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' ELSE 'w' || i END || '@slowrcpt.test'
  FROM generate_series(1, 40) i;
});
my (@runs, @out, @err);
for my $i (0 .. 15)
{
	my $list = join(',', map { "'" . ($_ == 0 ? 'bob' : "s${i}x$_") . "\@slowrcpt.test'" } 0 .. 4);
	push @runs, IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c',
			"SELECT email || ' ' || reason FROM verify_emails(ARRAY[$list], 'smtp')" ],
		'>', \$out[$i], '2>', \$err[$i], IPC::Run::timeout(180));
}
$_->finish for @runs;
my ($right, $total) = (0, 0);
for my $i (0 .. 15)
{
	for my $line (split /\n/, $out[$i] // '')
	{
		my ($email, $reason) = split / /, $line;
		$total++;
		if ($reason eq expected_reason($email =~ s/@.*//r)) { $right++; }
		else { diag("wrong: $line"); }
	}
}
is($total, 80, 'sixteen sessions: every address has a verdict') or diag(join "\n", grep { $_ } @err);
is($right, 80, 'sixteen sessions: every verdict is right');
my $deadline = time + 120;
sleep 0.3 while $node->safe_psql('postgres', q{SELECT count(*) FROM contacts WHERE email_status IS NULL}) ne '0'
  && time < $deadline;
is($node->safe_psql('postgres', q{
SELECT count(*) FROM contacts
 WHERE email_reason = CASE WHEN split_part(email, '@', 1) IN ('alice', 'bob') THEN 'accepted' ELSE 'mailbox_not_found' END}),
	'40', 'two workers: every row verified right');
my $seen = stats_of('slowrcpt');
cmp_ok($seen->{max_concurrent}, '<=', 2,
	"the MX host never saw more than max_connections_per_host connections ($seen->{max_concurrent} at most, $seen->{connections} in all)");
cmp_ok($seen->{max_concurrent}, '>=', 1, 'and it was used');
is($node->safe_psql('postgres', q{SELECT coalesce(sum(sessions_open), 0) FROM email_verify.prober_sites}),
	'0', 'every session slot was given back');

# --- the RCPT rate, shared by two backends ---------------------------------
# 120 a minute (2 a second, a burst of 2): 2 x 6 addresses and a catch-all
# probe need 13 RCPTs, which take at least 5.5 s whoever sends them.
$node->safe_psql('postgres', q{ALTER SYSTEM SET email_verify.host_rcpt_rate = 120; SELECT pg_reload_conf();});
sleep 0.5;
control('RESET catchall');
my $t0 = time;
@runs = ();
for my $i (0 .. 1)
{
	my $list = join(',', map { "'r${i}x$_\@acceptall.test'" } 1 .. 6);
	push @runs, IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-c',
			"SELECT count(*) FILTER (WHERE reason = 'catch_all') FROM verify_emails(ARRAY[$list], 'smtp')" ],
		'>', \$out[$i], '2>', \$err[$i], IPC::Run::timeout(120));
}
$_->finish for @runs;
my $took = time - $t0;
is(($out[0] // '') . '/' . ($out[1] // ''), "6\n/6\n", 'rate: every address answered (catch_all)');
my $rcpts = stats_of('catchall')->{rcpt};
cmp_ok($rcpts, '>=', 12, "rate: $rcpts RCPTs reached the host");
my $floor = ($rcpts - 2) / 2.0 - 0.3;
cmp_ok($took, '>=', $floor, sprintf('rate: %d RCPTs took %.1f s, not less than the rate allows (%.1f s)', $rcpts, $took, $floor));
cmp_ok($took, '<=', $floor + 15, 'rate: and not much more');

# --- a spent session budget: a sync call defers within permit_wait ---------
$node->safe_psql('postgres', q{
ALTER SYSTEM SET email_verify.host_rcpt_rate = 0;
ALTER SYSTEM SET email_verify.host_session_rate = 1;
SELECT pg_reload_conf();});
sleep 0.5;
is($node->safe_psql('postgres', q{SELECT (verify_email('alice@multiline.test', 'smtp')).reason}),
	'accepted', 'session rate 1/min: the first session goes');
$t0 = time;
my $second = $node->safe_psql('postgres', q{SET email_verify.permit_wait = '1s';
SELECT reason || ' | ' || smtp_message FROM verify_email('bob@multiline.test', 'smtp')});
$took = time - $t0;
like($second, qr/^timeout \| not probed: the politeness budget of /, "the second, within the minute, is deferred: $second");
cmp_ok($took, '<', 5, sprintf('after permit_wait, not the whole minute (%.1f s)', $took));

# --- a worker puts such an item back, no attempt counted --------------------
$node->safe_psql('postgres', q{INSERT INTO contacts VALUES (100, 'bob@multiline.test')});
$deadline = time + 30;
my $item = '';
while (time < $deadline)
{
	$item = $node->safe_psql('postgres',
		q{SELECT state || ' ' || attempts || ' ' || last_reason FROM email_verify.queue q JOIN contacts c ON c.email = q.email WHERE c.id = 100});
	last if $item =~ /politeness/;
	sleep 0.3;
}
like($item, qr/^pending 0 not probed: the politeness budget of mx.multiline.test/, "the worker put the item back without an attempt: $item");
is($node->safe_psql('postgres', q{SELECT email_status IS NULL FROM contacts WHERE id = 100}), 't',
	'and wrote no verdict for it');

# --- an ordinary role cannot raise the limits ------------------------------
$node->safe_psql('postgres', q{CREATE ROLE app LOGIN; GRANT email_verify_prober TO app;});
for my $setting (qw(host_rcpt_rate host_session_rate max_connections_per_host max_connections))
{
	my ($ret, $o, $e) = $node->psql('postgres', "SET email_verify.$setting = 0", extra_params => [ '-U', 'app' ]);
	like($e, qr/permission denied to set parameter "email_verify\.$setting"/, "an ordinary role may not set $setting");
}

# --- a role's short reply_timeout teaches the others nothing ---------------
# A silent host is a fact for the whole server (HostFacts::silent_until_ns),
# but only for probes that would wait no longer: app, waiting 300 ms at the
# tarpit, does not make the next caller, who waits a second, give up on it
# without trying (it would have, for 600 ms, had app's silence counted).
$node->safe_psql('postgres', q{ALTER SYSTEM SET email_verify.host_session_rate = 0; SELECT pg_reload_conf();});
sleep 0.5;
is($node->safe_psql('postgres', q{SET email_verify.reply_timeout = '300ms';
	SELECT (verify_email('quick@tarpit.test', 'smtp')).reason}, extra_params => [ '-U', 'app' ]),
	'timeout', 'app, waiting 300 ms at the tarpit: timeout');
my $patient_t0 = time;
is($node->safe_psql('postgres', q{SET email_verify.reply_timeout = '1s';
	SELECT (verify_email('patient@tarpit.test', 'smtp')).reason}), 'timeout', 'the next caller times out too');
my $patient = time - $patient_t0;
cmp_ok($patient, '>=', 0.9, sprintf('but after waiting its own second at the host (%.2f s)', $patient));
cmp_ok($patient, '<', 5, 'and no longer (no politeness wait took its place)');

# --- which sites are probed is for probing roles only ----------------------
$node->safe_psql('postgres', q{CREATE ROLE outsider LOGIN});
my ($r2, $o2, $e2) = $node->psql('postgres', 'SELECT * FROM email_verify.prober_sites', extra_params => [ '-U', 'outsider' ]);
like($e2, qr/permission denied for view prober_sites/, 'a role outside email_verify_prober may not list the sites probed');
($r2, $o2, $e2) = $node->psql('postgres', 'SELECT * FROM email_verify_internal.prober_sites()', extra_params => [ '-U', 'outsider' ]);
like($e2, qr/permission denied for function prober_sites/, 'nor call the function behind the view');
is($node->safe_psql('postgres', 'SELECT count(*) >= 0 FROM email_verify.prober_sites', extra_params => [ '-U', 'app' ]),
	't', 'a member of email_verify_prober may');

$node->stop;
done_testing();
