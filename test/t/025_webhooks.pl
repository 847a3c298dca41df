# Webhooks of bulk jobs as a receiver sees them, from the real worker to the
# real receiver (test/webhook-receiver through EmailVerify::WebhookReceiver):
# a job's progress events then exactly one bulk.completed, in order, signed
# so that both receiver libraries accept them (and refuse them tampered or
# stale), with a summary equal to the job's results; a receiver down then up
# gets the event with the same id; a rotated endpoint secret signs with both
# secrets, each enough alone; every event reaches LISTEN email_verify, a big
# one trimmed; the delivery statistics; and no secret shown anywhere.
# The faults (dead letters, timeouts, 429/410, kill -9, SSRF, TLS, circuit
# breaker) are in 026_webhook_faults.pl.
use strict;
use warnings;
use Encode ();
use File::Temp qw(tempdir);
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
my $tmp = tempdir('ev-025-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @secrets;    # every secret given to the server, none of which may show

# 5 attempts: the receiver that is down is up again before the last one.
my $node = webhook_node('webhooks', "email_verify.webhook_max_attempts = 5\n");

# Every event's NOTIFY, from a session listening before the first job.
my $listener = $node->background_psql('postgres', on_error_stop => 0);
$listener->query_safe('LISTEN email_verify');
my @notifications;
sub read_notifications
{
	my $out = $listener->query('SELECT 1');
	while ($out =~ /^Asynchronous notification "email_verify" with payload "(.*)" received from server process with PID \d+\.$/mg)
	{
		push @notifications, $json->decode($1);
	}
	return \@notifications;
}

# ---- 1. a job's whole life -------------------------------------------------------
# 40 addresses on the slow scripted server (200 ms a RCPT) at 10 a batch: several
# batches, each a progress event (webhook_progress_interval = 0).
my $secret = $W->new_secret;
push @secrets, $secret;
my $r = $W->start(secrets => [$secret], max_seconds => 300);
my @addresses = ('alice@slowrcpt.test', 'bob@slowrcpt.test', map { "nobody+$_\@slowrcpt.test" } 3 .. 40);
my $job = submit($node, \@addresses, url => $r->url('/ok'), secret => $secret, level => 'smtp');
like($job, qr/^\d+$/, "job $job submitted with a webhook");

# While it runs, what the worker shows in pg_stat_activity.
my %worker_queries;
my $done = wait_until(
	sub {
		$worker_queries{$_} = 1 for split /\n/, sql_text($node,
			q{SELECT coalesce(query, '') FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
		my $recs = records_of($r->log, $job);
		@$recs && $json->decode(Encode::encode('UTF-8', $recs->[-1]{body}))->{event_type} eq 'bulk.completed';
	},
	60);
ok($done, 'bulk.completed delivered');
is(sql_text($node, "SELECT state FROM email_verify.job_status($job)"), 'completed', 'the job is completed');

my $recs = records_of($r->log, $job);
my @bodies = map { $json->decode(Encode::encode('UTF-8', $_->{body})) } @$recs;
my @types = map { $_->{event_type} } @bodies;
my $progress = grep { $_ eq 'bulk.progress' } @types;
cmp_ok($progress, '>=', 2, "several progress events delivered ($progress)");
is(scalar(grep { $_ eq 'bulk.completed' } @types), 1, 'exactly one bulk.completed');
is($types[-1], 'bulk.completed', 'bulk.completed after the last progress event');
is(join(',', grep { $_ ne 'bulk.progress' } @types[ 0 .. $#types - 1 ]), '', 'only progress events before it');
my @processed = map { $_->{processed} } @bodies;
is_deeply(\@processed, [ sort { $a <=> $b } @processed ], "processed never goes back (@processed)");
is($bodies[-1]{processed}, 40, 'the completion counts every address');
ok(!(grep { !($_->{standard_ok} && $_->{stripe_ok}) } @$recs),
	'every delivery verified by standardwebhooks and stripe') or diag explain [ map { $_->{errors} } @$recs ];
my %ids = map { ($_->{event_id} => 1) } @bodies;
is(scalar keys %ids, scalar @bodies, 'each event its own event id');
ok(!(grep { $_->{headers}{'x-email-verify-event-id'} ne $_->{event_id} || $_->{headers}{'webhook-id'} ne $_->{event_id} } @$recs),
	'X-Email-Verify-Event-Id and webhook-id carry the body\'s event_id');
ok(!(grep { $recs->[$_]{headers}{'x-email-verify-event'} ne $types[$_] } 0 .. $#types),
	'X-Email-Verify-Event names the event type');
my $events = events_of($node, $job);
is(join(',', map { $_->{state} } @$events), join(',', ('delivered') x @$events), 'every outbox row delivered');
is_deeply([ sort map { $_->{event_id} } @$events ], [ sort keys %ids ], 'the receiver got the outbox events, no other');

my $counted = $json->decode(sql_text($node, qq{
SELECT json_build_object('total', count(*),
    'valid', count(*) FILTER (WHERE status = 'valid'), 'invalid', count(*) FILTER (WHERE status = 'invalid'),
    'risky', count(*) FILTER (WHERE status = 'risky'), 'unknown', count(*) FILTER (WHERE status = 'unknown'),
    'disposable', count(*) FILTER (WHERE is_disposable), 'catch_all', count(*) FILTER (WHERE is_catch_all))
FROM email_verify.job_results($job)}));
is_deeply($bodies[-1]{summary}, $counted, 'the summary equals the counts over job_results');
cmp_ok($counted->{valid}, '>', 0, 'with valid addresses') && cmp_ok($counted->{invalid}, '>', 0, 'and invalid ones');
is(scalar @{ $bodies[-1]{results} // [] }, 40, 'a job of 40 addresses carries its results inline');
is_deeply([ map { $_->{email} } @{ $bodies[-1]{results} } ], \@addresses, 'in input order');

# ---- 2. the libraries on a delivered record ------------------------------------------
open my $fh, '>', "$tmp/record.json" or die $!;
print $fh $json->encode($recs->[-1]);
close $fh;
my $checked = $json->decode(scalar `node $EmailVerify::WebhookReceiver::RECEIVER_DIR/check-libraries.js --secret $secret --record $tmp/record.json`);
for my $k (qw(standard_ok stripe_ok tampered_refused_standard tampered_refused_stripe
	stale_refused_standard stale_refused_stripe))
{
	ok($checked->{$k}, "check-libraries.js on the delivered bulk.completed: $k");
}

# ---- 3. receiver down, then up ----------------------------------------------------------
my $secret3 = $W->new_secret;
push @secrets, $secret3;
my $down = $W->start(secrets => [$secret3], max_seconds => 300);
$down->stop;
my $job3 = submit($node, ['alice@example.com'], url => $down->url('/ok'), secret => $secret3);
my $failed = wait_until(sub { my $e = events_of($node, $job3)->[0]; $e && $e->{attempts} >= 1 && $e->{last_cause} ? $e : undef }, 20);
is($failed && $failed->{last_cause}, 'connect', 'receiver down: the attempt fails to connect');
$down->restart;
my $delivered3 = wait_until(sub { my $e = events_of($node, $job3)->[0]; $e->{state} eq 'delivered' ? $e : undef }, 20);
ok($delivered3, 'receiver up again: the event is delivered');
cmp_ok($delivered3 && $delivered3->{attempts}, '>', 1, 'after retries');
my ($rec3) = @{ records_of($down->log, $job3) };
is($rec3 && $rec3->{headers}{'x-email-verify-event-id'}, $failed->{event_id}, 'with the same event id (X-Email-Verify-Event-Id)');
is($rec3 && $rec3->{headers}{'webhook-id'}, $failed->{event_id}, 'and webhook-id');
ok($rec3 && $rec3->{standard_ok} && $rec3->{stripe_ok}, 'signed: both libraries accept the retry');

# ---- 10. a registered endpoint with a rotated secret -------------------------------------
my ($old, $new) = ($W->new_secret, $W->new_secret);
push @secrets, $old, $new;
my $r_old = $W->start(secrets => [$old], max_seconds => 300);
$node->safe_psql('postgres', sprintf(q{SELECT email_verify.register_webhook_endpoint('rotating', %s, %s)},
	quote($r_old->url('/ok')), quote($old)));
$node->safe_psql('postgres', sprintf(q{SELECT email_verify.rotate_webhook_secret('rotating', %s)}, quote($new)));
is(sql_text($node, q{SELECT rotating FROM email_verify.webhook_endpoints WHERE name = 'rotating'}), 't',
	'webhook_endpoints shows the rotation');
my $job10 = submit($node, ['alice@example.com'], endpoint => 'rotating');
my $rec10 = $r_old->wait_for(sub { records_of($_[0], $job10)->[0] }, 20);
ok($rec10, 'an event of a job on the endpoint is delivered');
my @v1 = ($rec10->{headers}{'x-email-verify-signature'} // '') =~ /v1=/g;
is(scalar @v1, 2, 'X-Email-Verify-Signature carries two v1 values');
my @standard = split / /, $rec10->{headers}{'webhook-signature'} // '';
is(scalar(grep { /^v1,/ } @standard), 2, 'webhook-signature carries two v1 values');
ok($rec10->{standard_ok} && $rec10->{stripe_ok}, 'a receiver knowing only the OLD secret: both libraries accept')
  or diag explain $rec10->{errors};
my $r_new = $W->start(secrets => [$new], max_seconds => 300);
my %headers = map { ($_ => $rec10->{headers}{$_}) } grep { /^(x-email-verify-|webhook-|content-type)/ } keys %{ $rec10->{headers} };
$r_new->post('/ok', Encode::encode('UTF-8', $rec10->{body}), \%headers);
my $again = $r_new->wait_for(sub { $_[0][-1] }, 10);
ok($again && $again->{standard_ok} && $again->{stripe_ok},
	'the same delivery to a receiver knowing only the NEW secret: both libraries accept') or diag explain $again;
open $fh, '>', "$tmp/record10.json" or die $!;
print $fh $json->encode($rec10);
close $fh;
$checked = $json->decode(scalar `node $EmailVerify::WebhookReceiver::RECEIVER_DIR/check-libraries.js --secret $new --record $tmp/record10.json`);
ok($checked->{standard_ok} && $checked->{stripe_ok} && $checked->{tampered_refused_standard}
	  && $checked->{tampered_refused_stripe}, 'check-libraries.js with the NEW secret alone: accepted, tampered refused');

# ---- 11. NOTIFY ---------------------------------------------------------------------
# 100 addresses with their results inline: a body far over NOTIFY's 8000 bytes.
my $job11 = submit($node, [ map { "user$_\@example.com" } 1 .. 100 ], url => $r->url('/ok'), secret => $secret);
ok(wait_until(sub { my $e = events_of($node, $job11); @$e && $e->[-1]{event_type} eq 'bulk.completed' && $e->[-1]{state} eq 'delivered' }, 30),
	'a job of 100 addresses completes and is delivered');
my $notes = read_notifications();
my %note_of = map { ($_->{event_id} => $_) } @$notes;
my $first = events_of($node, $job);
ok(!(grep { !$note_of{ $_->{event_id} } } @$first), 'every event of the first job came by NOTIFY email_verify');
# A payload over NOTIFY's limit is trimmed to the event's identity and summary.
sub same_event
{
	my ($note, $body) = @_;
	return 0 unless $note;
	return eq_hash($note, $body) unless $note->{trimmed};
	return !(grep { $json->encode([ $note->{$_} ]) ne $json->encode([ $body->{$_} ]) }
		  qw(event_id event_type job_id created_at state summary));
}
ok(!(grep { !same_event($note_of{ $_->{event_id} }, $_->{body}) } @$first),
	'each NOTIFY payload is the event\'s JSON (or, over 7900 bytes, its identity and summary)');
is(scalar(grep { $_->{job_id} == $job && $_->{event_type} eq 'bulk.completed' } @$notes), 1,
	'one bulk.completed NOTIFY for the job');
my ($big) = grep { $_->{event_type} eq 'bulk.completed' } @{ events_of($node, $job11) };
cmp_ok(length($json->encode($big->{body})), '>', 8000, 'the bulk.completed body of 100 addresses is over 8000 bytes');
my $trimmed = $note_of{ $big->{event_id} };
ok($trimmed && $trimmed->{trimmed}, 'its NOTIFY arrives trimmed of the results (any role may LISTEN), "trimmed": true');
is_deeply($trimmed->{summary}, $big->{body}{summary}, 'with the summary');
is($trimmed->{read}, "SELECT * FROM email_verify.job_results($job11)", 'and where to read the rest');
ok(!exists $trimmed->{results}, 'without the results');
my $rec11 = $r->wait_for(sub { (grep { $_->{event_id} eq $big->{event_id} } @{ $_[0] })[0] }, 10);
ok($rec11 && $rec11->{standard_ok} && $rec11->{stripe_ok}, 'the webhook itself carries the whole body, signed');
$listener->quit;

# ---- 13. delivery statistics ----------------------------------------------------------
my $stats = $json->decode(sql_text($node, sprintf(q{SELECT row_to_json(s) FROM email_verify.webhook_delivery_stats s WHERE url = %s},
	quote($down->url('/ok')))));
cmp_ok($stats->{attempts}, '>=', 2, "webhook_delivery_stats: attempts ($stats->{attempts})");
is($stats->{successes}, 1, 'one success');
cmp_ok($stats->{failures_by_cause}{connect} // 0, '>=', 1, 'failures by cause: connect') or diag explain $stats;
ok(defined $stats->{"latency_${_}_ms"}, "latency $_") for qw(p50 p95 p99);
is($stats->{delivered}, 1, 'one event delivered');
$stats = $json->decode(sql_text($node, sprintf(q{SELECT row_to_json(s) FROM email_verify.webhook_delivery_stats s WHERE url = %s},
	quote($r->url('/ok')))));
is($stats->{successes}, $stats->{attempts}, "the healthy receiver: every attempt a success ($stats->{attempts})");
is_deeply($stats->{failures_by_cause}, {}, 'no failure');
cmp_ok($stats->{latency_p50_ms}, '<=', $stats->{latency_p99_ms}, 'p50 <= p99');

# ---- 12. secrets never shown ------------------------------------------------------------
my $err_secret = $W->new_secret;
push @secrets, $err_secret;
my @errors;
for my $sql (
	sprintf(q{SELECT email_verify.submit_job(ARRAY['a@example.com'], 'ftp://example.com/', %s)}, quote($err_secret)),
	sprintf(q{SELECT email_verify.submit_job(ARRAY['a@example.com'], webhook_secret => %s)}, quote($err_secret)),
	sprintf(q{SELECT email_verify.register_webhook_endpoint('rotating', 'http://127.0.0.1:9/', %s)}, quote($err_secret)),
	sprintf(q{SELECT email_verify.rotate_webhook_secret('nosuch', %s)}, quote($err_secret)))
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
	isnt($ret, 0, 'a refused call fails: ' . ($stderr =~ /ERROR:\s+(.*)/)[0]);
	push @errors, $stderr;
}
ok(!(grep { index($_, $err_secret) >= 0 } @errors), 'no error message shows the secret');
my $shown = sql_text($node, qq{
SELECT concat_ws(' ', (SELECT json_agg(s)::text FROM email_verify.job_status($job) s),
    (SELECT json_agg(j)::text FROM email_verify.jobs j),
    (SELECT json_agg(d)::text FROM email_verify.webhook_dead_letters d),
    (SELECT json_agg(e)::text FROM email_verify.webhook_endpoints e),
    (SELECT json_agg(s)::text FROM email_verify.webhook_delivery_stats s))});
ok(length($shown) > 100, 'job_status, jobs, webhook_dead_letters, webhook_endpoints, webhook_delivery_stats read');
my $worker_seen = join "\n", keys %worker_queries;
ok(length($worker_seen) > 0, 'the worker\'s pg_stat_activity sampled while it delivered');
my $log = slurp_file($node->logfile);
for my $i (0 .. $#secrets)
{
	my $s = $secrets[$i];
	ok(index($shown, $s) < 0, "secret $i: not in the views");
	ok(index($worker_seen, $s) < 0, "secret $i: not in the worker's pg_stat_activity");
	my @lines = grep { index($_, $s) >= 0 } split /\n/, $log;
	is(scalar @lines, 0, "secret $i: in no server log line") or diag join "\n", @lines[ 0 .. ($#lines < 2 ? $#lines : 2) ];
}

done_testing();
