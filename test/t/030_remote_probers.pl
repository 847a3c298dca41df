# Probers on other machines (email-verify-prober, extension/src/99_remote_probers.sql):
#   1. who may speak the protocol, and the handshake that refuses another protocol
#      (the server's refusal, and the program's: it stops with the message);
#   2. two probers and the in-server worker drain one queue (watched rows and a
#      job): every row and address verified once, nothing stale;
#   3. kill -9 of a prober holding a batch: its items come back when its lease
#      runs out, and another prober finishes them;
#   4. a prober cut off (SIGSTOP) past its lease: its items are done by another,
#      and its report, when it wakes, writes nothing (stale), rows and job alike;
#   5. SIGTERM: a prober holding a batch stops within a second and its items are
#      free at once; SIGHUP reads the configuration file again;
#   6. politeness across machines: three probers with many addresses at one
#      host never have more sessions open there together than one may
#      (max_connections_per_host, 2), counted by the host itself;
#   7. a prober's own egress: its SOCKS5 proxy (a real one, microsocks), the
#      proxy's password in no log line.
# Parts 3 to 5 run in a database the in-server worker does not serve, so that
# only the probers claim there; the tarpit (testworld: accepts, never answers)
# makes a batch last as long as the prober's reply_timeout says.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ':sys_wait_h';
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

my $node = PostgreSQL::Test::Cluster->new('remote');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '60s'
email_verify.retry_delay = '1s'
email_verify.worker_batch_size = 20
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION email_verify;
	CREATE ROLE prober LOGIN IN ROLE email_verify_remote_prober;
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE remote;
});
$node->safe_psql('remote', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';

my $dir = $node->basedir;
my $host = $node->host;
my $port = $node->port;
sub conninfo { my ($db) = @_; return "host=$host port=$port dbname=$db user=prober"; }

# Starts a prober in the background; returns [pid, log file].
my $n_probers = 0;
sub start_prober
{
	my ($db, $name, %config) = @_;
	my $conf = "$dir/$name.conf";
	open my $fh, '>', $conf or die "cannot write $conf: $!";
	print $fh "conninfo = '" . conninfo($db) . "'\n";
	print $fh "$_ = '$config{$_}'\n" for sort keys %config;
	close $fh;
	my $log = "$dir/$name.log";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDOUT, '>>', $log or die;
		open STDERR, '>>', $log or die;
		exec 'email-verify-prober', '--config', $conf, '--name', $name or die "exec: $!";
	}
	return [ $pid, $log, $conf ];
}

sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; return <$fh>; }

sub wait_until
{
	my ($cond, $limit) = @_;
	my $deadline = time + $limit;
	while (time < $deadline) { return 1 if $cond->(); sleep 0.1; }
	return 0;
}

# Waits for a prober to end (at most $limit seconds); its exit status, or undef.
sub wait_exit
{
	my ($pid, $limit) = @_;
	my $deadline = time + $limit;
	while (time < $deadline)
	{
		return $? >> 8 if waitpid($pid, WNOHANG) == $pid;
		sleep 0.02;
	}
	return undef;
}

sub sql { my ($db, $q) = @_; return $node->safe_psql($db, $q); }

# ---- 1. who may speak it; the handshake -----------------------------------------------
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM email_verify.prober_hello('m', 'h', '0.7.0', 1)},
	extra_params => [ '-U', 'mallory' ]);
like($err, qr/permission denied for function prober_hello/, 'an ordinary role cannot say hello');
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM email_verify.prober_hello('p', 'h', '9.9.9', 2)},
	extra_params => [ '-U', 'prober' ]);
like($err, qr/email-verify-prober 9\.9\.9 speaks protocol 2; the extension email_verify 0\.7\.0 speaks protocol 1/,
	'a prober of another protocol is refused, both versions named');
my $other = sql('postgres', q{SELECT count(*) FROM email_verify_internal.probers});
is($other, '0', 'and not registered');
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM email_verify.prober_claim(1000, 10)},
	extra_params => [ '-U', 'prober' ]);
like($err, qr/prober 1000 is not a running prober of this login/, 'no claim without a hello of its own');
($ret, $out, $err) = $node->psql('postgres', q{SELECT count(*) FROM email_verify.queue},
	extra_params => [ '-U', 'prober' ]);
like($err, qr/permission denied/, 'the prober role reads no table');
# A prober ends only its own domain leases: naming another holder's domain
# in domains_done leaves that lease alone.
sql('postgres', q{INSERT INTO email_verify_internal.domain_leases (domain, holder, lease_until)
	VALUES ('held.test', 4242, now() + interval '1 minute')});
($ret, $out, $err) = $node->psql('postgres', q{
	WITH h AS (SELECT prober_id FROM email_verify.prober_hello('intruder', 'h', '0.7.0', 1))
	SELECT email_verify.prober_report(h.prober_id, '{"domains_done": ["held.test"]}'),
	       email_verify.prober_goodbye(h.prober_id) FROM h},
	extra_params => [ '-U', 'prober' ]);
is($ret, 0, 'a prober may report domains_done') or diag $err;
is(sql('postgres', q{SELECT holder FROM email_verify_internal.domain_leases WHERE domain = 'held.test'}), '4242',
	"but another holder's lease on them stays");
sql('postgres', q{DELETE FROM email_verify_internal.domain_leases WHERE domain = 'held.test';
	DELETE FROM email_verify_internal.probers WHERE name = 'intruder'});

# The program meets an extension of a newer protocol: it says so and stops (exit 3).
sql('remote', q{
	ALTER FUNCTION email_verify.prober_hello(text, text, text, int) RENAME TO prober_hello_1;
	CREATE FUNCTION email_verify.prober_hello(name text, host text, version text, protocol int,
	    OUT prober_id int, OUT extension_version text, OUT settings jsonb)
	LANGUAGE plpgsql AS $$ BEGIN
	    RAISE EXCEPTION 'email-verify-prober % speaks protocol %; the extension email_verify 0.8.0 speaks protocol 2',
	        version, protocol USING ERRCODE = 'feature_not_supported';
	END $$;
	GRANT EXECUTE ON FUNCTION email_verify.prober_hello(text, text, text, int) TO email_verify_remote_prober;
});
my $newer = start_prober('remote', 'newer');
is(wait_exit($newer->[0], 20), 3, 'the program stops (exit 3) when the extension speaks another protocol');
like(slurp($newer->[1]), qr/speaks protocol 1; the extension email_verify 0\.8\.0 speaks protocol 2/,
	'and its log says why');
sql('remote', q{
	DROP FUNCTION email_verify.prober_hello(text, text, text, int);
	ALTER FUNCTION email_verify.prober_hello_1(text, text, text, int) RENAME TO prober_hello;
});

# ---- 2. two probers and the worker drain one queue --------------------------------------
sql('postgres', q{
	CREATE TABLE leads (id int PRIMARY KEY, email text);
	SELECT email_verify.watch('leads', 'email', level => 'dns');
});
my @probers = map { start_prober('postgres', "p$_", batch_size => 25) } 1 .. 2;
ok(wait_until(sub { sql('postgres', q{SELECT count(*) FROM email_verify.probers WHERE state = 'running'}) eq '2' }, 20),
	'two probers said hello');
sql('postgres', q{
	INSERT INTO leads SELECT g, 'u' || g || '@l' || lpad((g % 1000)::text, 4, '0') || '.test' FROM generate_series(1, 600) g;
	INSERT INTO leads VALUES (601, 'not an address'), (602, 'x@nosuch.test');
	SELECT email_verify.submit_job(ARRAY(SELECT 'j' || g || '@l' || lpad((g % 1000)::text, 4, '0') || '.test'
	                                     FROM generate_series(1, 1500) g), level => 'dns');
});
ok(wait_until(sub { sql('postgres', q{SELECT count(*) FROM leads WHERE email_status IS NULL}) eq '0'
	  && sql('postgres', q{SELECT state FROM email_verify.jobs}) eq 'completed' }, 60),
	'every row and the job verified');
is(sql('postgres', q{SELECT string_agg(email_status || '/' || email_reason || ':' || n, ' ' ORDER BY email_reason COLLATE "C")
	FROM (SELECT email_status, email_reason, count(*) AS n FROM leads GROUP BY 1, 2) s}),
	'valid/domain_ok:600 invalid/no_domain:1 invalid/syntax:1', 'with the verdicts of the test world');
is(sql('postgres', q{SELECT processed || ' ' || valid FROM email_verify.job_status(1)}), '1500 1500',
	'the job: every address, once');
my ($by_probers, $stale) = split /\|/, sql('postgres', q{SELECT sum(verdicts), sum(stale) FROM email_verify.probers});
my $by_worker = sql('postgres', q{SELECT verdicts_written FROM email_verify.worker_stats()});
is($by_probers + $by_worker, 602 + 1500, "no item done twice: probers $by_probers + worker $by_worker verdicts");
is($stale, '0', 'none stale');
# (Which claimer takes how much is a race; that the probers took part is not.)
cmp_ok($by_probers, '>', 0, 'the probers took part');
is(sql('postgres', q{SELECT string_agg(name || ' ' || host || ' ' || version, ',' ORDER BY name) FROM email_verify.probers}),
	join(',', map { "p$_ " . `hostname` =~ s/\s+$//r . ' 0.7.0' } 1 .. 2), 'the view: name, host, version');
kill 'TERM', $_->[0] for @probers;
is(wait_exit($_->[0], 5), 0, 'an idle prober stops at SIGTERM') for @probers;
is(sql('postgres', q{SELECT string_agg(state, ',') FROM email_verify.probers}), 'stopped,stopped', 'and says goodbye');

# ---- 3. kill -9 of a prober holding a batch ------------------------------------------------
sql('remote', q{
	CREATE TABLE held (id int PRIMARY KEY, email text);
	SELECT email_verify.watch('held', 'email', level => 'smtp');
	INSERT INTO held SELECT g, 'h' || g || '@tarpit.test' FROM generate_series(1, 12) g;
});
my $claimed = sub {
	my ($name) = @_;
	return sql('remote', qq{SELECT count(*) FROM email_verify.queue q JOIN email_verify_internal.probers p
		ON p.id = q.claimed_by WHERE q.state = 'claimed' AND p.name = '$name'});
};
my $a = start_prober('remote', 'a', lease_seconds => 5, 'email_verify.reply_timeout' => 60000);
ok(wait_until(sub { $claimed->('a') eq '12' }, 20), 'prober a holds the 12 rows');
is(sql('remote', q{SELECT in_flight || ' ' || state FROM email_verify.probers WHERE name = 'a'}), '12 running',
	'the probers view shows what it holds');
kill 'KILL', $a->[0];
waitpid($a->[0], 0);
my $t0 = time;
my $b = start_prober('remote', 'b', lease_seconds => 5, 'email_verify.reply_timeout' => 300,
	'email_verify.retry_attempts' => 1);
ok(wait_until(sub { sql('remote', q{SELECT count(*) FROM held WHERE email_status IS NULL}) eq '0' }, 30),
	sprintf('after kill -9, prober b finished its rows (%.1f s; the lease is 5 s)', time - $t0));
is(sql('remote', q{SELECT string_agg(DISTINCT email_status || '/' || email_reason, ',') FROM held}), 'unknown/timeout',
	'every one: the tarpit never answers');
kill 'TERM', $b->[0];
wait_exit($b->[0], 5);

# ---- 4. a prober cut off past its lease ----------------------------------------------------
sql('remote', q{
	CREATE TABLE cut (id int PRIMARY KEY, email text);
	SELECT email_verify.watch('cut', 'email', level => 'smtp');
	INSERT INTO cut SELECT g, 'c' || g || '@tarpit.test' FROM generate_series(1, 8) g;
});
my $cut_job = sql('remote',
	q{SELECT email_verify.submit_job(ARRAY(SELECT 'cj' || g || '@tarpit.test' FROM generate_series(1, 4) g), level => 'smtp')});
my $c = start_prober('remote', 'c', lease_seconds => 5, 'email_verify.reply_timeout' => 2000,
	'email_verify.retry_attempts' => 1);
ok(wait_until(sub { $claimed->('c') eq '8' && sql('remote', q{SELECT count(*) FROM email_verify_internal.job_claims}) eq '1' }, 20),
	'prober c holds 8 rows and the job');
kill 'STOP', $c->[0];
my $d = start_prober('remote', 'd', lease_seconds => 5, 'email_verify.reply_timeout' => 300,
	'email_verify.retry_attempts' => 1);
ok(wait_until(sub { sql('remote', q{SELECT count(*) FROM cut WHERE email_status IS NULL}) eq '0'
	  && sql('remote', qq{SELECT state FROM email_verify.job_status($cut_job)}) eq 'completed' }, 40),
	'while c is stopped, prober d did its rows and its job');
my $before = sql('remote', q{SELECT string_agg(id || ':' || email_verified_at, ',' ORDER BY id) FROM cut});
my $job_before = sql('remote', qq{SELECT string_agg(checked_at::text, ',') FROM email_verify.job_results($cut_job)});
kill 'CONT', $c->[0];
ok(wait_until(sub { sql('remote', q{SELECT stale FROM email_verify.probers WHERE name = 'c'}) eq '12' }, 20),
	'c, awake, reported 12 verdicts: all refused as stale');
is(sql('remote', q{SELECT string_agg(id || ':' || email_verified_at, ',' ORDER BY id) FROM cut}), $before,
	'its rows keep the newer verdicts');
is(sql('remote', qq{SELECT string_agg(checked_at::text, ',') FROM email_verify.job_results($cut_job)}), $job_before,
	'so does the job');
is(sql('remote', qq{SELECT processed || ' ' || total FROM email_verify.job_status($cut_job)}), '4 4', 'counted once');
kill 'TERM', $_->[0] for $c, $d;
wait_exit($_->[0], 5) for $c, $d;

# A job claim ended before all its addresses settled (a prober's report
# rolled back, say, and the claim ended by a later one) hands the rest on
# as retries, none lost: here a claim of 5 is ended with no verdict at all.
my $early_job = sql('remote',
	q{SELECT email_verify.submit_job(ARRAY(SELECT 'e' || g || '@strict.test' FROM generate_series(1, 5) g), level => 'syntax')});
my $early = $node->safe_psql('remote', q{
	SELECT prober_id FROM email_verify.prober_hello('early', 'h', '0.7.0', 1) \gset
	SELECT email_verify.prober_report(:prober_id, jsonb_build_object('claims', jsonb_agg(DISTINCT c.claim)))
	FROM email_verify.prober_claim(:prober_id, 100) c WHERE c.kind = 'job';
	SELECT email_verify.prober_goodbye(:prober_id);
}, extra_params => [ '-U', 'prober' ]);
is(sql('remote', qq{SELECT count(*) || ' ' || max(attempts) FROM email_verify_internal.job_retries WHERE job_id = $early_job}),
	'5 1', 'a job claim ended with no verdict: its 5 addresses are retries (one attempt counted, as for a lease that ran out)');
my $finisher = start_prober('remote', 'finisher', lease_seconds => 5);
ok(wait_until(sub { sql('remote', qq{SELECT state || ' ' || processed FROM email_verify.job_status($early_job)}) eq 'completed 5' }, 20),
	'another prober finishes them');
kill 'TERM', $finisher->[0];
wait_exit($finisher->[0], 5);

# ---- 5. SIGTERM mid-batch, SIGHUP ----------------------------------------------------------
sql('remote', q{INSERT INTO held SELECT g, 'h' || g || '@tarpit.test' FROM generate_series(100, 109) g});
my $e = start_prober('remote', 'e', lease_seconds => 300, 'email_verify.reply_timeout' => 60000);
ok(wait_until(sub { $claimed->('e') eq '10' }, 20), 'prober e holds 10 rows (its lease: 5 minutes)');
$t0 = time;
kill 'TERM', $e->[0];
my $status = wait_exit($e->[0], 5);
my $took = time - $t0;
is($status, 0, 'SIGTERM mid-batch: it stops');
cmp_ok($took, '<', 1.5, sprintf('within a second or so (%.2f s)', $took));
is(sql('remote', q{SELECT count(*) FROM email_verify.queue WHERE state = 'claimed'}), '0',
	'and its items are free at once, not at the end of the lease');

# (in the database whose work is done: an idle prober reads it at once)
my $f = start_prober('postgres', 'f', batch_size => 5);
ok(wait_until(sub { slurp($f->[1]) =~ /connected to/ }, 20), 'prober f runs');
open my $fh, '>>', $f->[2] or die;
print $fh "batch_size = 7\n";
close $fh;
kill 'HUP', $f->[0];
ok(wait_until(sub { slurp($f->[1]) =~ /configuration read again/ }, 10), 'SIGHUP: the configuration read again');
open $fh, '>>', $f->[2] or die;
print $fh "lease_seconds = 'x'\n";
close $fh;
kill 'HUP', $f->[0];
ok(wait_until(sub { slurp($f->[1]) =~ /lease_seconds must be an integer/ }, 10), 'a bad value is refused and named');
ok(kill(0, $f->[0]), 'the prober runs on with the settings it had');
kill 'TERM', $f->[0];
is(wait_exit($f->[0], 5), 0, 'and stops at SIGTERM');
# ---- 6. three probers, one host -----------------------------------------------------------
# The scripted server of slowrcpt.test (testworld/behaviours.txt) answers
# each RCPT after 0.2 s and counts its sessions; its control port says how
# many were open at once.
sub scripted
{
	my ($command) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.2.1', PeerPort => 8025, Timeout => 5)
	  or return undef;
	print $sock "$command\n";
	my $line = <$sock>;
	print $sock "QUIT\n";
	close $sock;
	return $line;
}
SKIP:
{
	skip 'the scripted SMTP server of the test world does not answer', 5 unless defined scripted('RESET');
	sql('remote', q{
		SELECT email_verify.unwatch('held', 'email');  -- the tarpit's rows left by part 5
		CREATE TABLE polite (id int PRIMARY KEY, email text);
		SELECT email_verify.watch('polite', 'email', level => 'smtp');
		INSERT INTO polite SELECT g, 'nobody' || g || '@slowrcpt.test' FROM generate_series(1, 60) g;
	});
	my @three = map { start_prober('remote', "polite$_", batch_size => 20, lease_seconds => 60) } 1 .. 3;
	$t0 = time;
	ok(wait_until(sub { sql('remote', q{SELECT count(*) FROM polite WHERE email_status IS NULL}) eq '0' }, 90),
		sprintf('three probers verified 60 addresses at one host (%.1f s)', time - $t0));
	my $stats = decode_json(scripted('STATS slowrcpt') // '{}');
	my $max = $stats->{slowrcpt}{max_concurrent} // $stats->{max_concurrent} // -1;
	cmp_ok($max, '<=', 2, "never more than 2 sessions open at the host together ($max)");
	cmp_ok($max, '>=', 1, 'and the host was reached');
	# A domain's lease ends with the report of its last item, not at goodbye.
	ok(wait_until(sub { sql('remote', q{SELECT count(*) FROM email_verify_internal.domain_leases}) eq '0' }, 5),
		'the domain lease ended with its last verdict, the probers still running');
	kill 'TERM', $_->[0] for @three;
	wait_exit($_->[0], 5) for @three;
	is(sql('remote', q{SELECT count(*) FROM email_verify_internal.domain_leases}), '0', 'no lease outlives its holder');
}

# ---- 7. its own egress: a SOCKS5 proxy ----------------------------------------------------
my ($microsocks) = grep { -x } map { "$_/microsocks" } split /:/, "$ENV{PATH}:/usr/bin";
SKIP:
{
	skip 'microsocks is not installed (scripts/install-deps.sh installs it)', 4 unless $microsocks;
	my ($proxy_ip, $proxy_port, $secret) = ('127.0.4.2', PostgreSQL::Test::Cluster::get_free_port(), 'Tap030s3cret');
	my $proxy_log = "$dir/microsocks.log";
	my $proxy = IPC::Run::start([ $microsocks, '-i', $proxy_ip, '-p', $proxy_port, '-u', 'probe', '-P', $secret ],
		'<', \undef, '>', $proxy_log, '2>', $proxy_log);
	wait_until(sub { my $s = IO::Socket::INET->new(PeerAddr => $proxy_ip, PeerPort => $proxy_port, Timeout => 1);
		close $s if $s; $s }, 5);
	sql('remote', q{
		CREATE TABLE proxied (id int PRIMARY KEY, email text);
		SELECT email_verify.watch('proxied', 'email', level => 'smtp');
		INSERT INTO proxied VALUES (1, 'alice@strict.test'), (2, 'nosuchuser@strict.test');
	});
	my $g = start_prober('remote', 'g', 'email_verify.socks5_proxy' => "socks5://probe:$secret\@$proxy_ip:$proxy_port");
	ok(wait_until(sub { sql('remote', q{SELECT count(*) FROM proxied WHERE email_status IS NULL}) eq '0' }, 30),
		'a prober with its own SOCKS5 proxy verified its rows');
	is(sql('remote', q{SELECT string_agg(email_status || '/' || email_reason, ' ' ORDER BY id) FROM proxied}),
		'valid/accepted invalid/mailbox_not_found', 'with the verdicts of the test world');
	like(slurp($proxy_log), qr/connected to 127\.0\.1\.1:25/, "through the proxy (its log shows the connection)");
	kill 'TERM', $g->[0];
	wait_exit($g->[0], 5);
	$proxy->kill_kill;
	unlike(slurp("$dir/g.log"), qr/\Q$secret\E/, "the proxy's password is in no log line");
}

unlike(join('', map { slurp("$dir/$_.log") } qw(a b c d e f p1 p2)), qr/password/i, 'no log line speaks of a password');

$node->stop;
done_testing();
