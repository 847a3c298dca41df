# Where probes leave from, against the local test world (testworld/world.sh):
#
#  * email_verify.source_addresses: probes of unknown users at Postfix's two
#    addresses (strict.test at 127.0.1.1, backupmx.test's second MX at
#    127.0.1.2) leave from 127.0.0.5 or 127.0.0.6, and Postfix's own log
#    (the "reject: RCPT from unknown[<client>]" of this run's HELO name) shows
#    that each host saw one client address, run after run, and that the two
#    hosts did not see the same one; a host of a family the list lacks ends
#    as connection_failed with the reason in smtp_message.
#  * email_verify.socks5_proxy: a real SOCKS5 server (microsocks, Debian's,
#    with a user name and password) started by this test on 127.0.4.1 carries
#    the probes to Postfix; its own log shows their connections. A wrong
#    password ends as unknown/connection_failed with the refusal in
#    smtp_message. The password never reaches the server log (log_statement
#    is "all" in these clusters), SHOW or pg_settings of a non-superuser, or
#    an error message, and SET cannot carry it.
#
# The world must already run (root: testworld/world.sh start); Postfix's log
# is read from $EV_WORLD_DIR (eval "$(testworld/world.sh env)").
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $helo = sprintf('tap020-%x-%x.example', time, $$);
my $proxy_ip = '127.0.4.1';
my $password = 'Tap020:p@ss%word';    # RFC 3986 needs three of these escaped
my $password_escaped = 'Tap020%3Ap%40ss%25word';
my @secrets = ($password, $password_escaped, 'WrongPass4711', 'SetAttempt0815', 'BadSecret0042');

my $node = PostgreSQL::Test::Cluster->new('egress');
$node->init;
# Preloaded, as for the workers (none here): every process then masks proxy
# credentials in what it logs, the postmaster's reload messages included.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.workers = 0
email_verify.dns_servers = '127.0.53.1:53'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.result_ttl = 0
email_verify.helo_name = '$helo'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

my $json = JSON::PP->new;

sub sql_array
{
	return 'ARRAY[' . join(', ', map { my $s = $_; $s =~ s/'/''/g; "'$s'" } @_) . ']::text[]';
}

# verify_emails at level smtp after $setup; { email => row }.
sub verify
{
	my ($setup, @addresses) = @_;
	my $out = $node->safe_psql('postgres',
		"$setup\nSELECT jsonb_agg(v) FROM verify_emails(" . sql_array(@addresses) . ", 'smtp') v");
	my $rows = $json->decode((split /\n/, $out)[-1]);
	return { map { $_->{email} => $_ } @$rows };
}

sub sr
{
	my ($row) = @_;
	return 'no row' unless $row;
	return ($row->{status} // 'NULL') . '/' . ($row->{reason} // 'NULL');
}

{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT (verify_email('alice\@strict.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS (127.0.53.1:53) does not answer: got '$out' $err; "
		  . "start it as root with testworld/world.sh start")
	  unless $ret == 0 && $out eq 'domain_ok';
}

# ---- source addresses ---------------------------------------------------------

my $maillog = $ENV{EV_WORLD_DIR} ? "$ENV{EV_WORLD_DIR}/postfix/maillog" : undef;

# Postfix's refusals of this run's RCPTs since $offset: { domain => { client
# ip => count } }, once $want refusals of "ghost" users are there (Postfix
# writes its log through postlogd, a little later).
sub refusals_since
{
	my ($offset, $want) = @_;
	my %seen;
	for my $try (1 .. 40)
	{
		%seen = ();
		my $ghosts = 0;
		open(my $fh, '<', $maillog) or last;
		seek($fh, $offset, 0);
		while (my $line = <$fh>)
		{
			next
			  unless $line =~ /reject: RCPT from [^\[]*\[([0-9a-f.:]+)\]: .* to=<([^@>]*)\@([^>]+)> .*helo=<\Q$helo\E>/;
			$seen{$3}{$1}++;
			$ghosts++ if $2 =~ /^ghost/;
		}
		close $fh;
		last if $ghosts >= $want;
		sleep 0.25;
	}
	return \%seen;
}

SKIP:
{
	skip 'EV_WORLD_DIR not set (eval "$(testworld/world.sh env)" to read the Postfix log)', 7
	  unless $maillog && -r $maillog;
	my $offset = -s $maillog;
	my $setup = q{SET email_verify.source_addresses = '127.0.0.5, 127.0.0.6';};
	for my $run (1 .. 3)
	{
		my $r = verify($setup, "ghost$run\@strict.test", "ghost$run\@backupmx.test", "alice\@strict.test");
		is(sr($r->{"ghost$run\@strict.test"}), 'invalid/mailbox_not_found',
			"run $run from source addresses: strict.test unknown user refused");
		is(sr($r->{"ghost$run\@backupmx.test"}), 'invalid/mailbox_not_found',
			"run $run: backupmx.test (second MX, 127.0.1.2) unknown user refused")
		  if $run == 1;
	}
	# Each run refuses a ghost at each domain, and the domains' catch-all
	# probes (result_ttl 0: probed again every run).
	my $seen = refusals_since($offset, 6);
	my @strict = sort keys %{ $seen->{'strict.test'} // {} };
	my @backup = sort keys %{ $seen->{'backupmx.test'} // {} };
	note 'strict.test (127.0.1.1) saw ' . join(',', @strict) . '; backupmx.test (127.0.1.2) saw ' . join(',', @backup);
	is(scalar(@strict), 1, 'Postfix at 127.0.1.1 saw one client address in three runs');
	is(scalar(@backup), 1, 'Postfix at 127.0.1.2 saw one client address in three runs');
	ok(@strict && $strict[0] =~ /^127\.0\.0\.[56]$/, "127.0.1.1 saw a listed source address ($strict[0])");
	ok(@backup && @strict && $backup[0] ne $strict[0] && $backup[0] =~ /^127\.0\.0\.[56]$/,
		'127.0.1.2 saw the other one: different hosts spread over the list');
}

SKIP:
{
	skip 'no IPv6 loopback in this world (EV_WORLD_IPV6=0)', 2 if ($ENV{EV_WORLD_IPV6} // '1') eq '0';
	my $r = verify(q{SET email_verify.source_addresses = '127.0.0.5';}, 'alice@v6.test');
	my $x = $r->{'alice@v6.test'};
	is(sr($x), 'unknown/connection_failed', 'IPv6-only MX with IPv4-only source addresses: connection_failed');
	like($x->{smtp_message} // '', qr/source_addresses has no IPv6 address to reach \[::1\]:25/,
		'smtp_message says why');
}

{
	my ($ret, $out, $err) =
	  $node->psql('postgres', q{SET email_verify.source_addresses = '127.0.0.5, mx.example.com'});
	isnt($ret, 0, 'a name in source_addresses is refused');
	like($err, qr/entry 2 \("mx\.example\.com"\) is not an IPv4 or IPv6 address/, 'the error names the entry');
	$node->safe_psql('postgres', 'CREATE ROLE egress_user LOGIN');
	($ret, $out, $err) =
	  $node->psql('postgres', q{SET ROLE egress_user; SET email_verify.source_addresses = '127.0.0.5'});
	isnt($ret, 0, 'source_addresses: superuser-only');
}

# ---- the SOCKS5 proxy -----------------------------------------------------------

my ($microsocks) = grep { -x } map { "$_/microsocks" } split /:/, "$ENV{PATH}:/usr/bin";
BAIL_OUT('microsocks is not installed (scripts/install-deps.sh installs it)') unless $microsocks;
my $proxy_port = PostgreSQL::Test::Cluster::get_free_port();
my $proxy_log = "$PostgreSQL::Test::Utils::tmp_check/microsocks.log";
my $proxy = IPC::Run::start([ $microsocks, '-i', $proxy_ip, '-p', $proxy_port, '-u', 'probe', '-P', $password ],
	'<', \undef, '>', $proxy_log, '2>', $proxy_log);
END { local $?; $proxy->kill_kill if $proxy; }
# Ready once it accepts a connection.
for my $try (1 .. 50)
{
	my $s = IO::Socket::INET->new(PeerAddr => $proxy_ip, PeerPort => $proxy_port, Timeout => 1);
	if ($s) { close $s; last; }
	sleep 0.1;
}

# Sets email_verify.socks5_proxy through ALTER SYSTEM and waits until new
# sessions see it.
sub use_proxy
{
	my ($url) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET email_verify.socks5_proxy = '$url'; SELECT pg_reload_conf()");
	for my $try (1 .. 50)
	{
		last if $node->safe_psql('postgres', 'SHOW email_verify.socks5_proxy') eq $url;
		sleep 0.1;
	}
}

use_proxy("socks5://probe:$password_escaped\@$proxy_ip:$proxy_port");
my $log_before = -s $proxy_log // 0;
my $r = verify('', 'alice@strict.test', 'nosuchuser@strict.test');
is(sr($r->{'alice@strict.test'}), 'valid/accepted', 'through the SOCKS5 proxy: Postfix mailbox accepted');
is(sr($r->{'nosuchuser@strict.test'}), 'invalid/mailbox_not_found', 'through the proxy: unknown user refused');
is($r->{'alice@strict.test'}{smtp_code}, 250, 'through the proxy: smtp_code 250');
my $proxy_said = slurp_file($proxy_log);
like(substr($proxy_said, $log_before), qr/connected to 127\.0\.1\.1:25/, "the proxy's log shows the probe's connection");

# A wrong password: the proxy refuses, and the verdict says so.
use_proxy("socks5://probe:WrongPass4711\@$proxy_ip:$proxy_port");
$r = verify('', 'alice@strict.test');
my $x = $r->{'alice@strict.test'};
is(sr($x), 'unknown/connection_failed', 'wrong proxy password: unknown/connection_failed');
like($x->{smtp_message} // '', qr/SOCKS5 proxy socks5:\/\/probe\@127\.0\.4\.1:\d+: authentication refused/,
	"smtp_message explains: $x->{smtp_message}");
unlike($x->{smtp_message} // '', qr/WrongPass4711/, 'smtp_message does not show the password');

# Who may see it: superusers; nobody may SET it in a session.
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE egress_user; SHOW email_verify.socks5_proxy');
isnt($ret, 0, 'SHOW socks5_proxy: refused to a non-superuser');
is($node->safe_psql('postgres',
		q{SET ROLE egress_user; SELECT count(*) FROM pg_settings WHERE name = 'email_verify.socks5_proxy'}),
	'0', 'pg_settings: not shown to a non-superuser');
unlike($node->safe_psql('postgres', 'SET ROLE egress_user; SHOW ALL'), qr/WrongPass4711|socks5:/,
	'SHOW ALL: not shown to a non-superuser');
($ret, $out, $err) = $node->psql('postgres',
	"SET email_verify.socks5_proxy = 'socks5://probe:SetAttempt0815\@$proxy_ip:$proxy_port'");
isnt($ret, 0, 'SET socks5_proxy in a session is refused, even to a superuser');
unlike($err, qr/SetAttempt0815/, 'the SET error does not quote the password');
($ret, $out, $err) = $node->psql('postgres',
	q{ALTER SYSTEM SET email_verify.socks5_proxy = 'socks5://probe:BadSecret0042@proxy.example:1080'});
isnt($ret, 0, 'a proxy given by name is refused');
like($err, qr/invalid value for parameter "email_verify\.socks5_proxy".*must be an IP address/s,
	'the error says why');
unlike($err, qr/BadSecret0042/, 'the error does not quote the password');

# Back to no proxy; a reload that changes the value, once more.
$node->safe_psql('postgres', 'ALTER SYSTEM RESET email_verify.socks5_proxy; SELECT pg_reload_conf()');
sleep 0.5;

my $server_log = slurp_file($node->logfile);
for my $secret (@secrets)
{
	unlike($server_log, qr/\Q$secret\E/, "the server log never shows '$secret'");
}
like($server_log, qr/parameter "email_verify\.socks5_proxy" changed to "socks5:\/\/probe:\*\*\*\@/,
	"the postmaster's reload message is there, masked");
like($server_log, qr/statement: ALTER SYSTEM SET email_verify\.socks5_proxy = 'socks5:\/\/probe:\*\*\*\@/,
	'log_statement logged the ALTER SYSTEM, masked');

done_testing();
