# What the suites in which an ordinary role attacks the extension share
# (009_privilege_escalation, 010_watch_isolation): sessions of the attacking
# role, bounded waits, and the bystander whose rows must go on being verified.
package EvAttack;
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use Test::More;
use Exporter 'import';
our @EXPORT = qw(wait_for_value as_role bystander_verified);

# Polls a query until it returns $want (bounded); returns whether it did.
sub wait_for_value
{
	my ($node, $sql, $want, $limit) = @_;
	my $deadline = time + ($limit // 15);
	while (time < $deadline)
	{
		return 1 if $node->safe_psql('postgres', $sql) eq $want;
		sleep 0.1;
	}
	return 0;
}

# Runs sql in a session of role $role, logged in as it (so that RESET ROLE
# leads nowhere else); returns (ok, stderr).
sub as_role
{
	my ($node, $role, $sql) = @_;
	my ($out, $err);
	my $rc = $node->psql('postgres', "SET client_min_messages = warning;\n$sql",
		stdout => \$out, stderr => \$err, on_error_stop => 1, extra_params => ['-U', $role]);
	return ($rc == 0, $err // '');
}

my $bystander_id = 0;

# A new row of alice.contacts (another owner's watched table, at level
# syntax) is verified within seconds.
sub bystander_verified
{
	my ($node, $what) = @_;
	$bystander_id++;
	my $t0 = time;
	$node->safe_psql('postgres', "INSERT INTO alice.contacts VALUES ($bystander_id, 'b$bystander_id\@example.com')");
	ok(wait_for_value($node, "SELECT email_status FROM alice.contacts WHERE id = $bystander_id", 'valid', 10),
		sprintf("%s: another owner's row is still verified (%.1f s)", $what, time - $t0));
}

1;
