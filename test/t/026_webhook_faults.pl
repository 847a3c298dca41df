# Webhook delivery when receivers misbehave, from the real worker to the real
# receiver (EmailVerify::WebhookReceiver): nothing is lost and nothing is
# hammered. Each failing receiver has its own port, since the circuit
# breaker counts failures per origin.
#   dead letters after webhook_max_attempts, replayed with the same event id;
#   a hung receiver times out and is retried; Retry-After is honoured;
#   410 Gone disables the URL until enable_webhook_endpoint; kill -9 of the
#   worker mid-delivery loses nothing and duplicates no event; private
#   addresses refused at submit (IP literal) and at delivery (a name); https
#   with and without the receiver's CA; the circuit breaker spares a dead
#   receiver while a healthy one is served; no secret in the log.
use strict;
use warnings;
use Encode ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use EvWebhooks;
use EmailVerify::WebhookReceiver;

my $W = 'EmailVerify::WebhookReceiver';
my $json = JSON::PP->new->utf8->canonical;
my $secret = $W->new_secret;
my $node = webhook_node('webhook_faults');

sub receiver { return $W->start(secrets => [$secret], max_seconds => 300, @_) }
sub one_job { my ($url) = @_; return submit($node, ['alice@example.com'], url => $url, secret => $secret) }
sub event_of { my ($job) = @_; return events_of($node, $job)->[-1] }
sub wait_event
{
	my ($job, $cond, $timeout) = @_;
	return wait_until(sub { my $e = event_of($job); $e && $cond->($e) ? $e : undef }, $timeout // 20);
}
sub set_conf
{
	my ($name, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET email_verify.$name = " . quote($value));
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	sleep 0.3;    # the worker reads its configuration between two turns of its loop
}

# ---- 4, 5, 6: dead letters, a hung receiver, Retry-After, Gone -- side by side --------
set_conf('webhook_timeout', '1s');
my ($r500, $rfail, $rfail2, $rhang, $r429, $rgone) = map { receiver() } 1 .. 6;
my $job500 = one_job($r500->url('/status/500'));
my $job_fail = one_job($rfail->url('/fail/3/a'));
my $job_fail2 = one_job($rfail2->url('/fail/3/b'));
my $job_hang = one_job($rhang->url('/hang'));
my $job429 = one_job($r429->url('/retry-after/3/a'));
my $job_gone = one_job($rgone->url('/gone'));

my $dead = wait_event($job500, sub { $_[0]{state} eq 'dead' });
ok($dead, 'always 500: the event ends dead');
my $letter = $json->decode(sql_text($node, "SELECT row_to_json(d) FROM email_verify.webhook_dead_letters d WHERE job_id = $job500") || 'null');
ok($letter, 'in email_verify.webhook_dead_letters');
is($letter->{last_status}, 500, 'last_status 500');
is($letter->{attempts}, 3, 'attempts = webhook_max_attempts (3)');
is($letter->{last_cause}, 'http_5xx', 'last_cause http_5xx');
is($letter->{event_id}, $dead->{event_id}, 'the dead letter keeps the event id');
my @reqs = @{ records_of($r500->log, $job500) };
is(scalar @reqs, 3, 'the receiver got 3 requests');
is(scalar(grep { $_->{event_id} eq $dead->{event_id} } @reqs), 3, 'all with the same event id');

# Replayed once the receiver answers 200 (/fail/3: the 4th request of an event succeeds).
for my $case ([ $job_fail, $rfail, 'replay_webhook', sub { 'email_verify.replay_webhook(' . quote($_[0]{event_id}) . '::uuid)' } ],
	[ $job_fail2, $rfail2, 'replay_job_webhooks', sub { "email_verify.replay_job_webhooks($_[1])" } ])
{
	my ($job, $rr, $name, $call) = @$case;
	my $d = wait_event($job, sub { $_[0]{state} eq 'dead' });
	ok($d && $d->{attempts} == 3 && $d->{last_status} == 500, "/fail/3: dead after 3 attempts, 500 ($name)");
	is(sql_text($node, 'SELECT ' . $call->($d, $job)), 1, "$name: one event replayed");
	my $ok = wait_event($job, sub { $_[0]{state} eq 'delivered' });
	ok($ok, "$name: delivered once the receiver answers 200");
	my @got = @{ records_of($rr->log, $job) };
	is(join(',', map { $_->{status} } @got), '500,500,500,200', "$name: the receiver saw 3 failures then the success");
	is(scalar(grep { $_->{headers}{'x-email-verify-event-id'} eq $d->{event_id} && $_->{headers}{'webhook-id'} eq $d->{event_id} } @got),
		4, "$name: the same event id every time");
	ok($got[-1]{standard_ok} && $got[-1]{stripe_ok}, "$name: the replay is signed afresh, both libraries accept");
}
is(sql_text($node, "SELECT count(*) FROM email_verify.webhook_dead_letters WHERE job_id IN ($job_fail, $job_fail2)"), 0,
	'replayed events leave the dead letters');

my $hung = wait_event($job_hang, sub { $_[0]{attempts} >= 2 && ($_[0]{last_cause} // '') eq 'timeout' && $_[0]{state} ne 'sending' });
ok($hung, 'a hung receiver with webhook_timeout = 1s: the attempt times out (last_cause timeout)');
cmp_ok($hung && $hung->{attempts}, '>=', 2, 'and is retried');
my @hung = @{ records_of($rhang->log, $job_hang) };
cmp_ok(scalar @hung, '>=', 2, 'the receiver saw the retries');
ok(!(grep { defined $_->{status} } @hung), 'none answered');
# Dead after its last attempt, so that no hung request stays in flight: the
# worker's HTTP client takes new settings only once nothing is in flight.
ok(wait_event($job_hang, sub { $_[0]{state} eq 'dead' }), 'the hung event ends dead after its last attempt');

my $e429 = wait_event($job429, sub { $_[0]{state} eq 'delivered' });
ok($e429, '429 then 200: delivered');
my @r429 = @{ records_of($r429->log, $job429) };
is(join(',', map { $_->{status} } @r429), '429,200', 'the receiver answered 429 then 200');
my $gap = @r429 == 2 ? (str2time($r429[1]{received_at}) - str2time($r429[0]{received_at})) : 0;
cmp_ok($gap, '>=', 2.95, sprintf('the retry came no sooner than Retry-After: 3 (%.2f s later; retry_delay is 1 s)', $gap));

my $gone = wait_event($job_gone, sub { $_[0]{state} eq 'dead' });
ok($gone, '410 Gone: the event is dead');
is($gone && $gone->{attempts}, 1, 'at once, after one attempt');
is($gone && $gone->{last_status}, 410, 'last_status 410');
my $gone_url = $rgone->url('/gone');
isnt(sql_text($node, 'SELECT disabled_at FROM email_verify.webhook_endpoints WHERE url = ' . quote($gone_url)), '',
	'the URL is disabled in email_verify.webhook_endpoints');
isnt(sql_text($node, 'SELECT disabled_at FROM email_verify.webhook_delivery_stats WHERE url = ' . quote($gone_url)), '',
	'and in webhook_delivery_stats');
my $job_gone2 = one_job($gone_url);
my $gone2 = wait_event($job_gone2, sub { $_[0]{state} eq 'dead' });
ok($gone2, 'a later event to the disabled URL is dead');
is($gone2 && $gone2->{last_cause}, 'endpoint_disabled', 'last_cause endpoint_disabled');
is($gone2 && $gone2->{attempts}, 0, 'without an attempt');
is(scalar @{ records_of($rgone->log, $job_gone2) }, 0, 'the receiver got no request');
$node->safe_psql('postgres', 'SELECT email_verify.enable_webhook_endpoint(' . quote($gone_url) . ')');
is(sql_text($node, 'SELECT count(*) FROM email_verify.webhook_endpoints WHERE disabled_at IS NOT NULL AND url = ' . quote($gone_url)),
	0, 'enable_webhook_endpoint: the URL is enabled again');
is(sql_text($node, "SELECT email_verify.replay_job_webhooks($job_gone2)"), 1, 'its dead letter replayed');
ok($rgone->wait_for(sub { records_of($_[0], $job_gone2)->[0] }, 20), 'and this time it reaches the receiver');

# ---- 13. statistics of these failures ---------------------------------------------------
my $stats = $json->decode(sql_text($node,
	'SELECT json_object_agg(url, json_build_object(\'attempts\', attempts, \'successes\', successes, \'failures\', failures, '
	  . '\'by_cause\', failures_by_cause, \'p50\', latency_p50_ms, \'p95\', latency_p95_ms, \'p99\', latency_p99_ms, '
	  . '\'dead\', dead)) FROM email_verify.webhook_delivery_stats'));
my $s500 = $stats->{ $r500->url('/status/500') };
is_deeply([ @$s500{qw(attempts successes failures dead)} ], [ 3, 0, 3, 1 ], 'webhook_delivery_stats: 3 attempts, 3 failures, 1 dead');
is_deeply($s500->{by_cause}, { http_5xx => 3 }, 'failures by cause: http_5xx');
my $sfail = $stats->{ $rfail->url('/fail/3/a') };
is_deeply([ @$sfail{qw(attempts successes failures)} ], [ 4, 1, 3 ], 'a replayed event: 4 attempts, 1 success');
cmp_ok($stats->{ $rhang->url('/hang') }{by_cause}{timeout} // 0, '>=', 2, 'failures by cause: timeout');
ok(defined $sfail->{p50} && $sfail->{p50} <= $sfail->{p95} && $sfail->{p95} <= $sfail->{p99}, 'latency percentiles');
cmp_ok($stats->{ $rhang->url('/hang') }{p50}, '>=', 900, 'a timed out attempt\'s latency is its timeout');
set_conf('webhook_timeout', '10s');

# ---- 7. kill -9 of the worker mid-delivery ------------------------------------------------
my $rslow = receiver();
my $job_slow = one_job($rslow->url('/slow/3000'));
ok($rslow->wait_for(sub { records_of($_[0], $job_slow)->[0] }, 20), 'a delivery is in flight (/slow/3000)');
my $worker = sql_text($node, q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
like($worker, qr/^\d+$/, 'the worker runs');
kill 'KILL', $worker;
# SIGKILL of a backend makes the postmaster restart every process: over once
# a new worker runs (a query may still pass before the restart begins).
ok(wait_until(sub { my $now = eval { sql_text($node, q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker'}) } // '';
			$now =~ /^\d+$/ && $now != $worker }, 30), 'the server is back after the crash restart, with a new worker');
my $slow = wait_event($job_slow, sub { $_[0]{state} eq 'delivered' }, 30);
ok($slow, 'the event is delivered after the restart');
my @slow = @{ records_of($rslow->log, $job_slow) };
cmp_ok(scalar @slow, '>=', 2, 'sent again after the kill');
is(scalar(grep { $_->{event_id} eq $slow->{event_id} } @slow), scalar @slow, 'with the same event id');
is(sql_text($node, "SELECT count(*) FROM email_verify_internal.webhook_events WHERE job_id = $job_slow AND event_type = 'bulk.completed'"),
	1, 'exactly one bulk.completed event row for the job');

# ---- 8. SSRF --------------------------------------------------------------------------------
set_conf('webhook_allow_private', 'off');
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT email_verify.submit_job(ARRAY['a@example.com'], 'http://127.0.0.1:9/hook', 'whsec_x')});
isnt($ret, 0, 'webhook_allow_private = off: an IP-literal loopback URL is refused at submit');
like($err, qr/loopback/, "with a clear error ($err)") if $ret;
my $rpriv = $W->start(secrets => [$secret], host => '127.0.1.1', max_seconds => 300);
my $name_url = 'http://mx.postfix.test:' . $rpriv->port . '/ok';
my $job_name = eval { one_job($name_url) };
like($job_name // '', qr/^\d+$/, 'a name (mx.postfix.test) that resolves to a loopback address is accepted at submit');
my $refused = $job_name && wait_event($job_name, sub { $_[0]{state} eq 'dead' });
ok($refused, 'and refused at delivery: dead');
is($refused && $refused->{last_cause}, 'refused_address', 'last_cause refused_address');
is($refused && $refused->{attempts}, 1, 'at once');
is(scalar @{ $rpriv->log }, 0, 'the receiver at that address got no request');
set_conf('webhook_allow_private', 'on');

# ---- 9. https --------------------------------------------------------------------------------
my $rtls = receiver(tls => 1);
set_conf('webhook_ca_file', $rtls->ca_file);
my $job_tls = one_job($rtls->url('/ok'));
my $tls = wait_event($job_tls, sub { $_[0]{state} eq 'delivered' });
ok($tls, 'an https receiver, its CA in email_verify.webhook_ca_file: delivered');
my ($rec_tls) = @{ records_of($rtls->log, $job_tls) };
ok($rec_tls && $rec_tls->{standard_ok} && $rec_tls->{stripe_ok}, 'signed: both libraries accept');
set_conf('webhook_ca_file', '');
my $job_untrusted = one_job($rtls->url('/ok'));
my $untrusted = wait_event($job_untrusted, sub { $_[0]{attempts} >= 1 && $_[0]{last_cause} });
is($untrusted && $untrusted->{last_cause}, 'tls', 'without the CA file: a TLS failure recorded (last_cause tls)');
isnt($untrusted && $untrusted->{state}, 'delivered', 'not delivered');
is(scalar @{ records_of($rtls->log, $job_untrusted) }, 0, 'no request reached the receiver');

# ---- 14. the circuit breaker ----------------------------------------------------------------
# 6 events fail at once (5 in a row open the circuit for 30 s), then 30 more
# come: without the breaker, 36 events x 3 attempts would reach the dead receiver.
my ($rdown, $rhealthy) = (receiver(), receiver());
my $down_url = $rdown->url('/status/500');
my $many = sub {
	my ($url, $n) = @_;
	return [ split /\n/, sql_text($node, sprintf(q{SELECT email_verify.submit_job(ARRAY['a@example.com'], %s, %s, 'syntax')
FROM generate_series(1, %d)}, quote($url), quote($secret), $n)) ];
};
my $first = $many->($down_url, 6);
ok($rdown->wait_for(sub { @{ $_[0] } >= 5 }, 20), 'a dead receiver fails 5 times in a row');
sleep 0.5;
my $started = time;
my $later = $many->($down_url, 30);
my $healthy = $many->($rhealthy->url('/ok'), 5);
my $served = wait_until(sub { sql_text($node, sprintf(q{SELECT count(*) FROM email_verify_internal.webhook_events
WHERE job_id IN (%s) AND state = 'delivered'}, join(',', @$healthy))) == 5 }, 20);
my $took = time - $started;
ok($served, 'meanwhile the events to a healthy receiver are delivered');
cmp_ok($took, '<', 5, sprintf('promptly (%.1f s)', $took));
# Long enough for every retry the schedule allows (1 s, then 2 s, with jitter).
sleep 5;
my $requests = $rdown->stats->{per_path}{'/status/500'} // 0;
cmp_ok($requests, '<=', 12, "the dead receiver saw $requests requests, not up to 108");
is(sql_text($node, sprintf(q{SELECT count(*) FROM email_verify_internal.webhook_events
WHERE job_id IN (%s) AND state = 'pending' AND attempts = 0}, join(',', @$later))), 30,
	'the later events wait, no attempt spent');

# ---- 12. no secret in the log ----------------------------------------------------------------
my @lines = grep { index($_, $secret) >= 0 } split /\n/, slurp_file($node->logfile);
is(scalar @lines, 0, 'the secret is in no server log line') or diag $lines[0];
ok(index(sql_text($node, 'SELECT json_agg(d)::text FROM email_verify.webhook_dead_letters d'), $secret) < 0,
	'nor in webhook_dead_letters');

done_testing();

# An ISO 8601 time of the receiver's log (UTC, milliseconds) in seconds.
sub str2time
{
	my ($iso) = @_;
	my ($y, $mo, $d, $h, $mi, $s) = $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):([\d.]+)Z$/ or die "bad time $iso";
	require Time::Local;
	return Time::Local::timegm(0, $mi, $h, $d, $mo - 1, $y) + $s;
}
