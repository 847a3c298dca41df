# How many connections a probe run opens, as the servers see them. README.md:
# a probe never opens more connections to one MX host than the per-host
# limit (email_verify.max_connections_per_host) and reuses one connection
# for many recipients of a domain. Checked with the scripted server's own
# counters (control port 127.0.2.1:8025: connections, max_concurrent, rcpt)
# at slowrcpt.test (every RCPT answered after 200 ms, so sessions overlap)
# and acceptall.test, and against Postfix: 60 unknown users must all come
# back mailbox_not_found quickly, i.e. the prober reconnects before
# Postfix's soft error limit (10) would slow each reply by a second (one
# session may meet it once, trying a larger budget: TAP 022).
# Postfix's connections are counted in its log when the environment names
# the world's directory (EV_WORLD_DIR, from testworld/world.sh env), and by
# prober_stats() in any case.
#
# The world must already run (root: testworld/world.sh start); the test
# bails out when its DNS (127.0.53.1:53) or the scripted server's control
# port does not answer. Other users of the same world at the same time
# would add to the scripted server's counters.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EvScripted;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(ceil);
use Time::HiRes qw(time);

# A HELO name of this run only, to find our sessions in Postfix's log.
my $helo = sprintf('tap006-%x-%x.example', time, $$);

my $node = PostgreSQL::Test::Cluster->new('connections');
$node->init;
$node->append_conf('postgresql.conf', qq{
email_verify.dns_servers = '127.0.53.1:53'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.result_ttl = 0
email_verify.helo_name = '$helo'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

my $json = JSON::PP->new;

sub stats_of
{
	my ($behaviour) = @_;
	my $line = control("STATS $behaviour");
	return $line ? $json->decode($line)->{$behaviour} : undef;
}

{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT (verify_email('alice\@strict.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS (127.0.53.1:53) does not answer: got '$out' $err; "
		  . "start it as root with testworld/world.sh start")
	  unless $ret == 0 && $out eq 'domain_ok';
	BAIL_OUT('the scripted SMTP server (control port 127.0.2.1:8025) does not answer; '
		  . 'start the world as root with testworld/world.sh start')
	  unless defined stats_of('slowrcpt');
}

sub addresses
{
	my ($n, $domain, $prefix) = @_;
	return "ARRAY(SELECT '$prefix' || g || '\@$domain' FROM generate_series(1, $n) g)";
}

# Runs verify_emails over $array (SQL) after $setup in one session; returns
# (seconds, "reason:count ..." summary, prober_stats row as a hash).
sub run_probe
{
	my ($setup, $array) = @_;
	my $t0 = time;
	my $out = $node->safe_psql('postgres', qq{
$setup
CREATE TEMP TABLE r AS SELECT * FROM verify_emails($array, 'smtp');
SELECT string_agg(reason || ':' || n, ' ' ORDER BY reason) FROM (SELECT reason, count(*) n FROM r GROUP BY reason) s;
SELECT row_to_json(s) FROM email_verify.prober_stats() s;
});
	my $elapsed = time - $t0;
	my @lines = split /\n/, $out;
	return ($elapsed, $lines[-2], $json->decode($lines[-1]));
}

# ---- per-host limit at a slow server ------------------------------------

# 40 recipients at slowrcpt.test: only alice, bob and info exist there, so
# these are 40 "550 5.1.1" (plus the catch-all probe), each after 200 ms.
for my $limit (2, 1)
{
	control('RESET');
	my ($elapsed, $summary, $ps) = run_probe("SET email_verify.max_connections_per_host = $limit;",
		addresses(40, 'slowrcpt.test', 'nobody'));
	my $s = stats_of('slowrcpt');
	is($summary, 'mailbox_not_found:40', "per-host limit $limit: all 40 addresses answered (mailbox_not_found)");
	cmp_ok($s->{max_concurrent}, '<=', $limit, "per-host limit $limit: server saw at most $limit concurrent "
		  . "connections (saw $s->{max_concurrent})");
	cmp_ok($ps->{max_sessions_per_host}, '<=', $limit, "per-host limit $limit: prober_stats agrees");
	# 41 refusals, and the prober starts a new session after 9 errors (or
	# fewer sessions, once it learned that this server has no error limit).
	my $most = ceil(41 / 9) + $limit;
	cmp_ok($s->{connections}, '<=', $most,
		"per-host limit $limit: $s->{connections} connections for 41 RCPTs (at most $most)");
	cmp_ok($s->{connections}, '>=', 1, "per-host limit $limit: at least one connection");
	cmp_ok($s->{rcpt}, '>=', 41, "per-host limit $limit: server saw every RCPT ($s->{rcpt})");
	cmp_ok($s->{rcpt}, '<=', 41 + 2 * $most,
		"per-host limit $limit: few RCPTs repeated ($s->{rcpt} for 41)");
	is($s->{data}, 0, "per-host limit $limit: no DATA");
	note sprintf('limit %d: %.2f s, %d connections, max concurrent %d', $limit, $elapsed,
		$s->{connections}, $s->{max_concurrent});
	if ($limit == 1)
	{
		is($s->{max_concurrent}, 1, 'per-host limit 1: exactly one connection at a time');
	}
}

# ---- many recipients share one connection ----------------------------------

# acceptall.test accepts everything: no error budget runs out, so the only
# reason for another connection is the amount of work.
{
	control('RESET');
	my ($elapsed, $summary, $ps) = run_probe('', addresses(40, 'acceptall.test', 'user'));
	my $s = stats_of('catchall');
	is($summary, 'catch_all:40', '40 addresses at a catch-all server: all catch_all');
	cmp_ok($s->{connections}, '<=', 2, "40 addresses: $s->{connections} connection(s), at most 1 per 20 addresses");
	is($s->{rcpt}, 41, '40 addresses: 40 RCPTs plus one catch-all probe');
	is($ps->{catch_all_probes}, 1, 'one catch-all probe for the domain');
	cmp_ok($ps->{sessions_opened}, '<=', 2, "prober_stats: $ps->{sessions_opened} session(s) opened");
}
{
	control('RESET');
	my ($elapsed, $summary, $ps) = run_probe('', addresses(5, 'acceptall.test', 'few'));
	my $s = stats_of('catchall');
	is($s->{connections}, 1, '5 addresses at one server: a single connection');
	is($s->{rcpt}, 6, '5 addresses: 5 RCPTs plus one catch-all probe');
}

# ---- Postfix and its error limits -------------------------------------------

my $log_file = $ENV{EV_WORLD_DIR} ? "$ENV{EV_WORLD_DIR}/postfix/maillog" : undef;
my $log_offset = ($log_file && -r $log_file) ? -s $log_file : undef;
{
	my ($elapsed, $summary, $ps) = run_probe('', addresses(60, 'strict.test', 'nosuchuser'));
	is($summary, 'mailbox_not_found:60', '60 unknown users at Postfix: all mailbox_not_found');
	cmp_ok($elapsed, '<', 10, sprintf('60 unknown users: %.2f s (< 10 s: no 1 s error sleeps)', $elapsed));
	cmp_ok($ps->{max_sessions_per_host}, '<=', 2, 'Postfix: at most 2 sessions at a time');
	my $least = ceil(61 / 10);
	cmp_ok($ps->{sessions_opened}, '>=', $least,
		"Postfix: $ps->{sessions_opened} sessions for 61 refusals, none with more than 10 (at least $least)");
	cmp_ok($ps->{sessions_opened}, '<=', 12, 'Postfix: not one session per address either');
	cmp_ok($ps->{rcpts_sent}, '>=', 61, "prober_stats: $ps->{rcpts_sent} RCPTs sent");

  SKIP:
	{
		skip 'EV_WORLD_DIR not set (eval "$(testworld/world.sh env)" to count in the Postfix log)', 6
		  unless defined $log_offset;
		# Postfix writes its log through postlogd: give it a moment.
		my %sessions;    # smtpd pid -> list of sessions (each a hash)
		my @mine;
		for my $try (1 .. 20)
		{
			open(my $fh, '<', $log_file) or last;
			seek($fh, $log_offset, 0);
			%sessions = ();
			while (my $line = <$fh>)
			{
				next unless $line =~ m{postfix-evworld/smtpd\[(\d+)\]: (.*)};
				my ($spid, $what) = ($1, $2);
				if ($what =~ /^connect from/)
				{
					push @{ $sessions{$spid} }, { rejects => 0, mine => 0, too_many => 0, done => 0 };
					next;
				}
				my $cur = $sessions{$spid} ? $sessions{$spid}[-1] : undef;
				next unless $cur;
				if ($what =~ /reject: RCPT .* helo=<\Q$helo\E>/)
				{
					$cur->{rejects}++;
					$cur->{mine} = 1;
				}
				$cur->{too_many} = 1 if $what =~ /too many errors/;
				if ($what =~ /^disconnect from .*? (.*)$/)
				{
					$cur->{done} = 1;
					$cur->{counts} = $1;
				}
			}
			close $fh;
			@mine = grep { $_->{mine} } map { @$_ } values %sessions;
			last if @mine && !grep { !$_->{done} } @mine;
			select(undef, undef, undef, 0.25);
		}
		my $rejects = 0;
		$rejects += $_->{rejects} for @mine;
		is($rejects, 61, 'Postfix log: 61 refused RCPTs from this run (60 users + catch-all probe)');
		is(scalar(@mine), $ps->{sessions_opened}, 'Postfix log: as many sessions as prober_stats says ('
			  . scalar(@mine) . ')');
		# One session may try a larger error budget and meet Postfix's error
		# sleep at its 11th RCPT, and stop there (TAP 022 looks closer).
		is(scalar(grep { $_->{rejects} > 11 } @mine), 0, 'Postfix log: no session went past 11 errors');
		cmp_ok(scalar(grep { $_->{rejects} > 10 } @mine), '<=', 1, 'Postfix log: one session at most past 10');
		is(scalar(grep { $_->{too_many} } @mine), 0, 'Postfix log: no "too many errors" disconnect');
		is(scalar(grep { ($_->{counts} // '') =~ /\bdata=/ } @mine), 0, 'Postfix log: no session sent DATA');
		note 'sessions: ', join(', ', map { "$_->{rejects} rejects [" . ($_->{counts} // '?') . ']' } @mine);
	}
}

$node->stop;
done_testing();
