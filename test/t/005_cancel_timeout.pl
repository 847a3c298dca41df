# A probe must never outlive the statement that asked for it. Against the
# test world's tarpit (accepts the TCP connection, never says a word) with
# a 60 s reply_timeout, the only ways out are PostgreSQL's own:
# statement_timeout, pg_cancel_backend and pg_terminate_backend. Each must
# end verify_email / verify_emails within a second (SQLSTATE 57014 for the
# first two), leave the backend usable, and leave no socket behind (the
# backend's /proc/<pid>/fd count is the same before and after).
#
# The world must already run (root: testworld/world.sh start); the test
# bails out when its DNS server 127.0.53.1:53 does not answer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('cancel_timeout');
$node->init;
$node->append_conf('postgresql.conf', q{
email_verify.dns_servers = '127.0.53.1:53'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.reply_timeout = '60s'
email_verify.address_timeout = '120s'
email_verify.result_ttl = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT (verify_email('alice\@strict.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS (127.0.53.1:53) does not answer: got '$out' $err; "
		  . "start it as root with testworld/world.sh start")
	  unless $ret == 0 && $out eq 'domain_ok';
}

my $limit = 1.0;    # seconds; generous for a shared machine
my $one_tarpit = "SELECT verify_email('alice\@tarpit.test', 'smtp')";
my $fifty_tarpit =
  "SELECT count(*) FROM verify_emails(ARRAY(SELECT 'u' || g || '\@tarpit.test' FROM generate_series(1, 50) g), 'smtp')";

# The session under test, and a second one to cancel it from.
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $other = $node->background_psql('postgres');
$victim->query_safe('\set VERBOSITY verbose');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');

# The backend's descriptors that are not files: sockets, pipes, epoll and
# timer instances. (Regular files come and go with PostgreSQL's own file
# cache as queries touch relations, so they are not counted.)
sub fd_list
{
	opendir(my $dh, "/proc/$pid/fd") or return ();
	my @fds = sort grep { !m{^/} } map { readlink("/proc/$pid/fd/$_") // '' } grep { !/^\./ } readdir $dh;
	closedir $dh;
	return @fds;
}

sub fd_count { return scalar(fd_list()) }

sub socket_count { return scalar(grep { /^socket:/ } fd_list()) }

# Waits (up to 2 s) for the backend's descriptors to come back to $want.
sub fds_settle
{
	my ($want) = @_;
	my $deadline = time + 2;
	my $n = fd_count();
	while ($n != $want && time < $deadline)
	{
		sleep 0.05;
		$n = fd_count();
	}
	return $n;
}

# Warm up: library, resolver and TLS initialised, one real SMTP probe done,
# so later counts compare like with like.
is($victim->query_safe("SELECT (verify_email('alice\@acceptall.test', 'smtp')).reason"), 'catch_all', 'warm-up probe');
my $fds0 = fd_count();
my $sockets0 = socket_count();
cmp_ok($sockets0, '>', 0, "backend $pid: $fds0 non-file descriptors ($sockets0 sockets) before the tests");
note 'descriptors: ', join(' ', fd_list());

# Runs $sql in the victim session and returns (seconds taken, stderr of A).
sub timed_in_a
{
	my ($sql) = @_;
	$victim->{stderr} = '';
	my $t0 = time;
	$victim->query($sql);
	my $elapsed = time - $t0;
	my $err = $victim->{stderr};
	$victim->{stderr} = '';
	return ($elapsed, $err);
}

# ---- statement_timeout ----------------------------------------------------

$victim->query_safe("SET statement_timeout = '200ms'");
for my $case ([ 'verify_email, one tarpit address', $one_tarpit ],
	[ 'verify_emails, 50 tarpit addresses', $fifty_tarpit ])
{
	my ($name, $sql) = @$case;
	my ($elapsed, $err) = timed_in_a($sql);
	like($err, qr/\b57014\b.*statement timeout/, "statement_timeout 200ms: $name fails with 57014");
	cmp_ok($elapsed, '<', $limit, sprintf('statement_timeout 200ms: %s ended after %.3f s', $name, $elapsed));
	cmp_ok($elapsed, '>=', 0.19, "statement_timeout: $name did wait for the timeout (the tarpit does not answer)");
	is(fds_settle($fds0), $fds0, "statement_timeout: $name leaves no descriptor behind");
}
$victim->query_safe('RESET statement_timeout');
is($victim->query_safe('SELECT 40 + 2'), '42', 'after statement_timeout: the backend answers the next query');

# ---- pg_cancel_backend from another session --------------------------------

# Starts $sql in A without waiting, waits until A's backend runs it, cancels
# it from B, and returns (seconds from the cancel to A's error, A's stderr).
my $marker = 0;
sub cancel_in_a
{
	my ($sql, $how) = @_;
	$marker++;
	$victim->{stderr} = '';
	$victim->{stdout} = '';
	$victim->{stdin} .= "$sql;\n\\echo '__done_${marker}__'\n\\warn '__done_${marker}__'\n";
	$victim->{run}->pump_nb;
	# Running: active, and long enough for the prober to be waiting on the tarpit.
	$other->query_safe(qq{
DO \$\$ BEGIN
  FOR i IN 1 .. 500 LOOP
    EXIT WHEN EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid AND state = 'active' AND query LIKE '%tarpit%');
    PERFORM pg_sleep(0.01);
  END LOOP;
END \$\$});
	sleep 0.3;
	my $t0 = time;
	$other->query_safe("SELECT $how($pid)");
	return $t0;
}

sub wait_for_a
{
	my $timeout = IPC::Run::timeout(30);
	pump_until($victim->{run}, $timeout, \$victim->{stderr}, qr/__done_${marker}__/);
	my $t1 = time;
	my $err = $victim->{stderr};
	$victim->{stderr} = '';
	$victim->{stdout} = '';
	return ($t1, $err);
}

for my $case ([ 'verify_email, one tarpit address', $one_tarpit ],
	[ 'verify_emails, 50 tarpit addresses', $fifty_tarpit ])
{
	my ($name, $sql) = @$case;
	my $t0 = cancel_in_a($sql, 'pg_cancel_backend');
	my ($t1, $err) = wait_for_a();
	my $elapsed = $t1 - $t0;
	like($err, qr/\b57014\b.*due to user request/, "pg_cancel_backend: $name fails with 57014");
	cmp_ok($elapsed, '<', $limit, sprintf('pg_cancel_backend: %s ended %.3f s after the cancel', $name, $elapsed));
	is(fds_settle($fds0), $fds0, "pg_cancel_backend: $name leaves no descriptor behind");
}

is($victim->query_safe('SELECT 40 + 2'), '42', 'after the cancels: the backend answers the next query');
is($victim->query_safe("SELECT (verify_email('alice\@acceptall.test', 'smtp')).reason"),
	'catch_all', 'after the cancels: the next probe works');
is($victim->query_safe("SELECT status || '/' || reason FROM verify_email('alice\@strict.test', 'smtp')"),
	'valid/accepted', 'after the cancels: a probe at Postfix works');
is(fds_settle($fds0), $fds0, "descriptors back to $fds0 after further probes")
  or diag 'descriptors now: ', join(' ', fd_list());
is(socket_count(), $sockets0, "sockets back to $sockets0");

# A cancel inside a transaction: the transaction is aborted, ROLLBACK ends it.
{
	$victim->query_safe('BEGIN');
	my $t0 = cancel_in_a($fifty_tarpit, 'pg_cancel_backend');
	my ($t1, $err) = wait_for_a();
	like($err, qr/\b57014\b/, 'cancel inside a transaction: 57014');
	cmp_ok($t1 - $t0, '<', $limit, sprintf('cancel inside a transaction: %.3f s', $t1 - $t0));
	$victim->query('ROLLBACK');
	$victim->{stderr} = '';
	is($victim->query_safe('SELECT 1'), '1', 'after ROLLBACK the session goes on');
}

# ---- pg_terminate_backend ------------------------------------------------

{
	my $t0 = cancel_in_a($fifty_tarpit, 'pg_terminate_backend');
	my $t1;
	while (time - $t0 < 10)
	{
		if (!-e "/proc/$pid")
		{
			$t1 = time;
			last;
		}
		sleep 0.01;
	}
	ok(defined $t1, 'pg_terminate_backend: the backend process exits');
	cmp_ok(($t1 // time) - $t0, '<', $limit,
		sprintf('pg_terminate_backend: gone %.3f s after the request', ($t1 // time) - $t0));
	is($other->query_safe("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid"), '0',
		'pg_terminate_backend: no longer in pg_stat_activity');
	eval { $victim->{run}->finish };    # psql notices the lost connection and exits
}

# Nothing crashed: the postmaster did not have to restart its children.
is($other->query_safe('SELECT 1'), '1', 'the other session is unaffected');
$other->quit;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|server process .* was terminated|all server processes terminated/,
	'server log: no backend crashed');

$node->stop;
done_testing();
