# What the signup suites share (027_signup, 028_consumer_limits): a node
# configured for the test world, check_signup's answer as a hash, a statement
# expected to fail with a given SQLSTATE, and statements run as another role.
package EvSignup;
use strict;
use warnings;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Test::More;
use PostgreSQL::Test::Cluster;
use Exporter 'import';
our @EXPORT = qw(signup_node signup fails_with run_as wait_for_value);

# A node with the module preloaded (the consumer buckets live in shared
# memory), the test world's DNS, no per-host pacing (one world, many
# probes), short retry and nap times, plus any lines the suite adds.
sub signup_node
{
	my ($name, $extra) = @_;
	my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '1s'
email_verify.retry_delay = '1s'
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'SET client_min_messages = error; CREATE EXTENSION email_verify');
	BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
	  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';
	return $node;
}

# check_signup's answer as a hash (booleans as 't'/'f', NULL as undef).
# $args: the SQL after the address, e.g. "level => 'dns'"; $role: run as it.
sub signup
{
	my ($node, $address, $args, $role) = @_;
	my $call = 'email_verify.check_signup(' . quote($address) . ($args ? ", $args" : '') . ')';
	my ($rc, $out, $err) = run_as($node, $role, "SELECT row_to_json(s)::text FROM $call s");
	die "check_signup failed: $err" if $rc != 0;
	my $h = decode_json($out);
	for my $k (keys %$h)
	{
		$h->{$k} = $h->{$k} ? 't' : 'f' if JSON::PP::is_bool($h->{$k});
	}
	return $h;
}

sub quote
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

# Runs sql (in database $db, default postgres) as $role (a login role; undef:
# the superuser); returns (exit code, stdout, stderr), errors in verbose form
# ("ERROR:  23514: ...") so that the SQLSTATE can be read.
sub run_as
{
	my ($node, $role, $sql, $db) = @_;
	my ($out, $err) = ('', '');
	my @extra = defined $role ? ('-U', $role) : ();
	my $rc = $node->psql($db // 'postgres', "\\set VERBOSITY verbose\nSET client_min_messages = warning;\n$sql",
		stdout => \$out, stderr => \$err, on_error_stop => 1, extra_params => \@extra);
	return ($rc, $out, $err);
}

# sql must fail with SQLSTATE $state (and, when given, a message matching
# $like); returns the error text for more checks.
sub fails_with
{
	my ($node, $role, $sql, $state, $like, $name) = @_;
	my ($rc, $out, $err) = run_as($node, $role, $sql);
	ok($rc != 0 && $err =~ /ERROR:\s+$state:/, "$name: fails with SQLSTATE $state")
	  or diag("exit $rc, stderr: $err");
	like($err, $like, "$name: the message") if defined $like;
	return $err;
}

# Polls a query until it returns $want (bounded); returns whether it did.
sub wait_for_value
{
	my ($node, $sql, $want, $limit) = @_;
	my $deadline = time + ($limit // 15);
	my $got;
	while (time < $deadline)
	{
		$got = $node->safe_psql('postgres', $sql);
		return 1 if $got eq $want;
		sleep 0.2;
	}
	diag("still '$got', wanted '$want': $sql");
	return 0;
}

1;
