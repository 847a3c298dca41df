# The adaptive error budget (README.md, "Levels dns and smtp": a session's
# refusals sized to what each host showed) against the test world's servers:
#
# - Postfix with its default error limits (smtpd_soft_error_limit 10 with a
#   1 s smtpd_error_sleep_time, smtpd_hard_error_limit 20): 500 unknown users
#   at strict.test all come back mailbox_not_found; in Postfix's log none of
#   this run's sessions met "too many errors", and at most one RCPT reply was
#   slowed by the error sleep (those a session got after its 10th error), so
#   the call takes about a second more than it would without, not more;
# - the scripted server's nolimits behaviour (it refuses unknown users for
#   ever and never slows down): 500 unknown users at nolimits.test in at most
#   10 sessions, as the server counts them (control port, STATS nolimits).
#
# The world must already run (root: testworld/world.sh start); the test bails
# out when its DNS does not answer. Postfix's log is read when EV_WORLD_DIR
# names the world's directory (testworld/world.sh env). To try the nolimits
# part against a scripted server of one's own (a world started from an older
# checkout has no nolimits), start one on another address with --control and
# point the test at it: EV_WORLD_CONTROL=host:port and EV_NOLIMITS_DOMAIN set
# to a domain literal such as [127.0.5.31].
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EvScripted;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);

# A HELO name of this run only, to find our sessions in Postfix's log.
my $helo = sprintf('tap022-%x-%x.example', time, $$);
my $nolimits_domain = $ENV{EV_NOLIMITS_DOMAIN} // 'nolimits.test';

my $node = PostgreSQL::Test::Cluster->new('error_budget');
$node->init;
$node->append_conf('postgresql.conf', qq{
email_verify.dns_servers = '127.0.53.1:53'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.result_ttl = 0
email_verify.helo_name = '$helo'
email_verify.allow_domain_literal = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

my $json = JSON::PP->new;

{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT (verify_email('alice\@strict.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS (127.0.53.1:53) does not answer: got '$out' $err; "
		  . "start it as root with testworld/world.sh start")
	  unless $ret == 0 && $out eq 'domain_ok';
}

# Runs verify_emails over $n unknown users at $domain; returns (seconds,
# "reason:count ..." summary, prober_stats row as a hash).
sub run_unknown
{
	my ($n, $domain) = @_;
	my $t0 = time;
	my $out = $node->safe_psql('postgres', qq{
CREATE TEMP TABLE r AS
  SELECT * FROM verify_emails(ARRAY(SELECT 'ghost' || g || '\@$domain' FROM generate_series(1, $n) g), 'smtp');
SELECT string_agg(reason || ':' || n, ' ' ORDER BY reason) FROM (SELECT reason, count(*) n FROM r GROUP BY reason) s;
SELECT row_to_json(s) FROM email_verify.prober_stats() s;
});
	my $elapsed = time - $t0;
	my @lines = split /\n/, $out;
	return ($elapsed, $lines[-2], $json->decode($lines[-1]));
}

# ---- a server without error limits ------------------------------------------

{
	control('RESET');
	my $line = control('STATS nolimits');
  SKIP:
	{
		ok(defined $line, 'the scripted server has the nolimits behaviour')
		  or skip 'no nolimits behaviour: restart the world from this checkout (testworld/world.sh restart)', 5;
		my ($elapsed, $summary, $ps) = run_unknown(500, $nolimits_domain);
		my $s = $json->decode(control('STATS nolimits'))->{nolimits};
		is($summary, 'mailbox_not_found:500', 'nolimits: 500 unknown users, all mailbox_not_found');
		cmp_ok($s->{connections}, '<=', 10,
			"nolimits: $s->{connections} sessions for 501 refusals (at most 10; 9 a session would be 56)");
		is($ps->{sessions_opened}, $s->{connections}, 'nolimits: prober_stats counts the same sessions');
		cmp_ok($s->{rcpt}, '>=', 501, "nolimits: the server saw every RCPT ($s->{rcpt})");
		is($s->{data}, 0, 'nolimits: no DATA');
		note sprintf('nolimits: %.2f s, %d sessions, %d RCPTs', $elapsed, $s->{connections}, $s->{rcpt});
	}
}

# ---- Postfix with its defaults ----------------------------------------------

my $log_file = $ENV{EV_WORLD_DIR} ? "$ENV{EV_WORLD_DIR}/postfix/maillog" : undef;
my $log_offset = ($log_file && -r $log_file) ? -s $log_file : undef;
{
	my ($elapsed, $summary, $ps) = run_unknown(500, 'strict.test');
	is($summary, 'mailbox_not_found:500', 'Postfix: 500 unknown users, all mailbox_not_found');
	# 501 refusals at 9 a session take a fraction of a second here; one error
	# sleep adds a second, two would add two.
	cmp_ok($elapsed, '<', 2, sprintf('Postfix: %.2f s (at most one 1 s error sleep)', $elapsed));
	cmp_ok($ps->{sessions_opened}, '>=', int(501 / 11), "Postfix: $ps->{sessions_opened} sessions");
	note sprintf('Postfix: %.2f s, %d sessions, %d RCPTs', $elapsed, $ps->{sessions_opened}, $ps->{rcpts_sent});

  SKIP:
	{
		skip 'EV_WORLD_DIR not set (eval "$(testworld/world.sh env)" to read the Postfix log)', 5
		  unless defined $log_offset;
		# Postfix writes its log through postlogd: give it a moment.
		my @mine;
		for my $try (1 .. 20)
		{
			open(my $fh, '<', $log_file) or last;
			seek($fh, $log_offset, 0);
			my %sessions;    # smtpd pid -> its sessions, in order
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
				$cur->{done} = 1 if $what =~ /^disconnect from/;
			}
			close $fh;
			@mine = grep { $_->{mine} } map { @$_ } values %sessions;
			last if @mine && !grep { !$_->{done} } @mine;
			select(undef, undef, undef, 0.25);
		}
		my $rejects = 0;
		$rejects += $_->{rejects} for @mine;
		# Every RCPT a session sends after its 10th error waits a second.
		my $slowed = 0;
		$slowed += $_->{rejects} - 10 for grep { $_->{rejects} > 10 } @mine;
		is($rejects, 501, 'Postfix log: 501 refused RCPTs from this run (500 users + catch-all probe)');
		is(scalar(@mine), $ps->{sessions_opened}, 'Postfix log: as many sessions as prober_stats says ('
			  . scalar(@mine) . ')');
		is(scalar(grep { $_->{too_many} } @mine), 0, 'Postfix log: no "too many errors"');
		cmp_ok($slowed, '<=', 1, "Postfix log: $slowed RCPT(s) after a session's 10th error (at most one)");
		cmp_ok(scalar(grep { $_->{rejects} > 9 } @mine), '<=', 1, 'Postfix log: one session at most went past 9');
		note 'refusals per session: ', join(' ', map { $_->{rejects} } @mine);
	}
}

# ---- the learned budget outlives a run --------------------------------------
# Preloaded, the host facts are the whole server's: once one backend has paid
# Postfix's error sleep and learned the budget, a later call in another
# backend keeps under the limit from its first session.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'email_verify'\nemail_verify.workers = 0\n");
$node->restart;
my ($first) = run_unknown(300, 'strict.test');
my ($second, $summary2) = run_unknown(300, 'strict.test');
is($summary2, 'mailbox_not_found:300', 'learned budget: the second call is right too');
cmp_ok($second, '<', 0.9,
	sprintf('learned budget: a second backend pays no error sleep (%.2f s, the first took %.2f s)', $second, $first));

$node->stop;
done_testing();
