# What the webhook suites (025, 026) share: a node whose first worker
# delivers webhooks on short timers, jobs submitted to a receiver, and bounded
# waits on the outbox (email_verify_internal.webhook_events) and on receiver
# logs (EmailVerify::WebhookReceiver).
package EvWebhooks;
use strict;
use warnings;
use Exporter 'import';
use Encode ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(webhook_node submit wait_until events_of records_of sql_text quote);

my $json = JSON::PP->new->utf8->canonical;

# A started node with the extension, its worker delivering webhooks: retries
# after 1-2 s, 3 attempts, a progress event per batch of 10, loopback allowed.
sub webhook_node
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
email_verify.worker_batch_size = 10
email_verify.webhook_retry_delay = '1s'
email_verify.webhook_max_retry_delay = '2s'
email_verify.webhook_max_attempts = 3
email_verify.webhook_progress_interval = 0
email_verify.webhook_timeout = '10s'
email_verify.webhook_allow_private = on
# SIGKILL of the worker means a crash restart; the framework turns that off.
restart_after_crash = on
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
	Test::More::BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
	  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';
	return $node;
}

# A SQL string literal.
sub quote
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# Submits a job of @$addresses; %o: url, secret, level (syntax), endpoint.
# Returns its id.
sub submit
{
	my ($node, $addresses, %o) = @_;
	my $array = 'ARRAY[' . join(',', map { quote($_) } @$addresses) . ']::text[]';
	my @args = ($array);
	push @args, 'webhook_url => ' . quote($o{url}) if defined $o{url};
	push @args, 'webhook_secret => ' . quote($o{secret}) if defined $o{secret};
	push @args, 'endpoint => ' . quote($o{endpoint}) if defined $o{endpoint};
	push @args, 'level => ' . quote($o{level} // 'syntax');
	return $node->safe_psql('postgres', 'SELECT email_verify.submit_job(' . join(', ', @args) . ')');
}

# Calls $cond->() until it returns true (its value) or $timeout seconds pass
# (undef).
sub wait_until
{
	my ($cond, $timeout) = @_;
	my $deadline = time + ($timeout // 30);
	while (1)
	{
		my $result = $cond->();
		return $result if $result;
		return undef if time >= $deadline;
		sleep 0.2;
	}
}

# The outbox rows of a job, in creation order, as hashes (body decoded).
sub events_of
{
	my ($node, $job) = @_;
	my $rows = $node->safe_psql('postgres', qq{
SELECT coalesce(json_agg(json_build_object('event_id', event_id, 'event_type', event_type, 'state', state,
           'attempts', attempts, 'last_status', last_status, 'last_cause', last_cause, 'last_error', last_error,
           'url', url, 'body', body) ORDER BY id), '[]')
FROM email_verify_internal.webhook_events WHERE job_id = $job});
	return $json->decode($rows);
}

# The receiver's records of a job's events (by the job_id in the body), in
# arrival order.
sub records_of
{
	my ($records, $job) = @_;
	return [
		grep {
			my $b = eval { $json->decode(Encode::encode('UTF-8', $_->{body})) };
			$b && defined $b->{job_id} && $b->{job_id} == $job
		} @$records
	];
}

# One value of a query, as text.
sub sql_text
{
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

1;
