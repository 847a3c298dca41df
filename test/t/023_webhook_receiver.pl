# The webhook receiver the bulk-job suites deliver to (test/webhook-receiver,
# through EmailVerify::WebhookReceiver) and the receiver examples
# (examples/webhooks), on their own: no cluster. A delivery signed here as
# the contract says must be accepted by both libraries a receiver would use
# (standardwebhooks, stripe), and a tampered, stale or wrongly keyed one
# refused; so the receiver's verdicts can be trusted when the extension is
# the sender. Then each path's behaviour, keep-alive, TLS, a restart on the
# same port, the fast mode, and the two examples.
use strict;
use warnings;
use Encode ();
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use Time::HiRes qw(time);
use EmailVerify::WebhookReceiver;

my $W = 'EmailVerify::WebhookReceiver';
my $json = JSON::PP->new->utf8->canonical;
my $tmp = tempdir('ev-023-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $secret = $W->new_secret;
my $old_secret = $W->new_secret;
my $next_id = 0;

# A bulk.completed event as bytes (UTF-8: the signature covers bytes).
sub event_body
{
	my ($id) = @_;
	return $json->encode(
		{
			event_id => $id,
			event_type => 'bulk.completed',
			job_id => 42,
			created_at => '2026-01-02T03:04:05Z',
			label => "Zo\x{eb}'s list",
			summary => { map { $_ => 1 } qw(total valid invalid risky unknown disposable catch_all) },
		});
}

# A fresh event: (id, body, signed headers); %sign overrides signed_headers'.
sub signed_event
{
	my (%sign) = @_;
	my $id = 'evt_' . ++$next_id;
	my $body = event_body($id);
	my $headers = $W->signed_headers(body => $body, secrets => [$secret], event_id => $id, %sign);
	return ($id, $body, $headers);
}

sub record_of
{
	my ($r, $id) = @_;
	return $r->wait_for(sub { (grep { $_->{event_id} eq $id } @{ $_[0] })[-1] }, 10);
}

my $r = $W->start(secrets => [$secret], max_seconds => 300);
ok($r->port > 0, 'receiver listens on an ephemeral port');

# Signatures, judged by both libraries.
my ($id, $body, $headers) = signed_event();
is($r->post('/ok', $body, $headers)->{status}, 200, '/ok answers 200');
my $rec = record_of($r, $id);
ok($rec && $rec->{standard_ok}, 'standardwebhooks accepts a delivery signed as the contract says');
ok($rec && $rec->{stripe_ok}, 'stripe accepts it too') or diag explain $rec;
is($rec->{body}, Encode::decode('UTF-8', $body), 'the record keeps the raw body');
is($rec->{headers}{'x-email-verify-event'}, 'bulk.progress', 'and the headers');

open my $fh, '>', "$tmp/record.json" or die $!;
print $fh $json->encode($rec);
close $fh;
my $checked = decode_json(
	scalar `node $EmailVerify::WebhookReceiver::RECEIVER_DIR/check-libraries.js --secret $secret --record $tmp/record.json`
);
for my $k (
	qw(standard_ok stripe_ok tampered_refused_standard tampered_refused_stripe
	stale_refused_standard stale_refused_stripe))
{
	ok($checked->{$k}, "check-libraries.js: $k");
}

($id, $body, $headers) = signed_event(secrets => [ $old_secret, $secret ]);
$r->post('/ok', $body, $headers);
$rec = record_of($r, $id);
ok($rec->{standard_ok} && $rec->{stripe_ok}, 'signed with the old and the new secret: both libraries accept');

($id, $body, $headers) = signed_event();
(my $tampered = $body) =~ s/"job_id":42/"job_id":43/;
$r->post('/ok', $tampered, $headers);
$rec = record_of($r, $id);
ok(!$rec->{standard_ok} && !$rec->{stripe_ok}, 'a tampered body: both libraries refuse');

($id, $body, $headers) = signed_event(timestamp => int(time) - 600);
$r->post('/ok', $body, $headers);
$rec = record_of($r, $id);
ok(!$rec->{standard_ok} && !$rec->{stripe_ok}, 'signed 10 minutes ago: both libraries refuse');

($id, $body, $headers) = signed_event(secrets => [$old_secret]);
$r->post('/ok', $body, $headers);
$rec = record_of($r, $id);
ok(!$rec->{standard_ok} && !$rec->{stripe_ok}, 'another secret: both libraries refuse');

# Behaviour by path.
my @statuses;
($id, $body, $headers) = signed_event();
is($r->post('/status/503', $body, $headers)->{status}, 503, '/status/503 answers 503') for 1 .. 2;
@statuses = map { $r->post('/fail/2/a', $body, $headers)->{status} } 1 .. 3;
is("@statuses", '500 500 200', '/fail/2: 500 twice for one event id, then 200');
my ($id2, $body2, $headers2) = signed_event();
is($r->post('/fail/2/a', $body2, $headers2)->{status}, 500, '/fail/2 counts each event id apart');
my $res = $r->post('/retry-after/7', $body, $headers);
is($res->{status}, 429, '/retry-after/7: first 429');
is($res->{headers}{'retry-after'}, '7', 'with Retry-After: 7');
is($r->post('/retry-after/7', $body, $headers)->{status}, 200, 'then 200');
is($r->post('/gone', $body, $headers)->{status}, 410, '/gone answers 410');
is($r->post('/nowhere', $body, $headers)->{status}, 404, 'an unknown path answers 404');
my $started = time;
is($r->post('/slow/300', $body, $headers)->{status}, 200, '/slow/300 answers 200');
cmp_ok(time - $started, '>=', 0.29, 'after 300 ms');
($id, $body, $headers) = signed_event();
$started = time;
$res = $r->post('/hang', $body, $headers, timeout => 1);
is($res->{status}, 599, '/hang never answers (the client times out)');
$rec = record_of($r, $id);
ok($rec && !defined $rec->{status}, 'the hung request is logged with no status');

# Keep-alive: one client, one connection.
my $client = $r->http;
my @ids;
for (1 .. 3)
{
	($id, $body, $headers) = signed_event();
	push @ids, $id;
	$client->post($r->url('/ok'), { content => $body, headers => $headers });
}
my %connections = map { (record_of($r, $_)->{connection} => 1) } @ids;
is(scalar keys %connections, 1, 'keep-alive: three requests on one connection');
my $stats = $r->stats;
cmp_ok($stats->{connections}, '<', $stats->{requests}, '/_stats: fewer connections than requests');
is($stats->{per_path}{'/fail/2/a'}, 4, '/_stats counts per path');
my $over_http = decode_json($r->http->get($r->url('/_log'))->{content});
is(scalar @$over_http, scalar @{ $r->log }, '/_log has every record the log file has');

# Down, then up again on the same port.
my $port = $r->port;
my $records_before = scalar @{ $r->log };
$r->stop;
($id, $body, $headers) = signed_event();
is($r->post('/ok', $body, $headers)->{status}, 599, 'stopped: connection refused');
$r->restart;
is($r->port, $port, 'restarted on the same port');
is($r->post('/ok', $body, $headers)->{status}, 200, 'up again: 200');
ok(record_of($r, $id) && @{ $r->log } == $records_before + 1, 'the log goes on across the restart');
$r->stop;

# TLS, with the certificate the receiver made as the CA.
my $t = $W->start(secrets => [$secret], tls => 1, max_seconds => 120);
ok(-s $t->ca_file, 'TLS: the certificate is there for the sender to trust');
like($t->url, qr{^https://127\.0\.0\.1:\d+/ok$}, 'TLS: an https URL');
($id, $body, $headers) = signed_event();
is($t->post('/ok', $body, $headers)->{status}, 200, 'TLS: a POST verifying the certificate gets 200');
$rec = record_of($t, $id);
ok($rec->{standard_ok} && $rec->{stripe_ok}, 'TLS: both libraries accept');
my $untrusting = HTTP::Tiny->new(timeout => 5, verify_SSL => 1, SSL_options => { SSL_ca_file => '/dev/null' });
is($untrusting->post($t->url, { content => $body, headers => $headers })->{status},
	599, 'TLS: a client that does not trust the certificate is refused');
my $ca = $t->ca_file;
$t->restart;
is($t->ca_file, $ca, 'TLS: a restart keeps the certificate');
is($t->post('/ok', $body, $headers)->{status}, 200, 'TLS: still trusted after the restart');
$t->stop;

# Fast mode: counts only.
my $f = $W->start(fast => 1, max_seconds => 120);
$client = $f->http;
for (1 .. 20)
{
	($id, $body, $headers) = signed_event();
	$client->post($f->url('/ok'), { content => $body, headers => $headers });
}
# Asked on the same connection, which /_stats itself counts.
$stats = decode_json($client->get($f->url('/_stats'))->{content});
is($stats->{requests}, 20, 'fast mode: counts the requests');
is($stats->{distinct_event_ids}, 20, 'fast mode: and the event ids');
is($stats->{connections}, 1, 'fast mode: on one kept-alive connection');
is_deeply(decode_json($f->http->get($f->url('/_log'))->{content}), [], 'fast mode: logs nothing');
$f->stop;

# The examples: a signed POST handled once, a tampered or stale one refused.
my $examples = $EmailVerify::WebhookReceiver::EXAMPLES_DIR;
my %example_pids;
# A failing check dies before the example is stopped: stop it anyway.
END { local $?; EmailVerify::WebhookReceiver::stop_process($_) for values %example_pids; }
my %examples = (
	'receiver.py' => [ 'python3', "$examples/receiver.py", '--port', 0, '--db', "$tmp/events.sqlite" ],
	'receiver.js' => [ 'node', "$examples/receiver.js", '--port', 0 ],);
for my $name (sort keys %examples)
{
	local $ENV{EMAIL_VERIFY_WEBHOOK_SECRET} = $secret;
	my ($pid, $line) = EmailVerify::WebhookReceiver::spawn_until_first_line($tmp, $name, 'timeout', 120,
		@{ $examples{$name} });
	$example_pids{$name} = $pid;
	my ($example_port) = $line =~ /:(\d+)\s*$/ or die "$name: $line";
	my $url = "http://127.0.0.1:$example_port/";
	my $http = HTTP::Tiny->new(timeout => 10);
	my $send = sub { $http->post($url, { content => $_[0], headers => $_[1] }) };

	($id, $body, $headers) = signed_event(secrets => [ $old_secret, $secret ]);
	$res = $send->($body, $headers);
	is($res->{status}, 200, "$name accepts a signed POST (two v1 values, one its secret's)");
	ok(!decode_json($res->{content})->{duplicate}, "$name handles it");
	$res = $send->($body, $headers);
	is($res->{status}, 200, "$name: the same event again (a retry) gets 200");
	ok(decode_json($res->{content})->{duplicate}, "$name: and is skipped as a duplicate");
	($id, $body, $headers) = signed_event();
	($tampered = $body) =~ s/"job_id":42/"job_id":43/;
	is($send->($tampered, $headers)->{status}, 400, "$name refuses a tampered body");
	($id, $body, $headers) = signed_event(timestamp => int(time) - 600);
	is($send->($body, $headers)->{status}, 400, "$name refuses a delivery signed 10 minutes ago");
	EmailVerify::WebhookReceiver::stop_process(delete $example_pids{$name});
}

done_testing();
