# Bulk jobs verified by the background worker, against the local test world
# (testworld/world.sh) and the local webhook receiver (test/webhook-receiver):
#
#  1. a job's life at level smtp: queued -> running -> completed, its times,
#     its counts per status and per reason equal to a count over its results,
#     duplicates (the same address in other domain case and whitespace)
#     probed once (Postfix's own log of this run's HELO name) and fanned out,
#     the results in input order;
#  2. a million-row submit_job_from_query at level syntax: submitted, completed
#     and exported whole as CSV and as JSON lines with COPY, streamed (the
#     first rows reach the client long before the last; the backend's private
#     memory stays small); the times are printed (diag);
#  3. fair share: while a 50,000-address dns job drains, watched rows get
#     their verdicts within seconds, and two jobs submitted together both
#     progress before either completes;
#  4. cancel mid-job (another 50,000-address dns job): partial results
#     readable, the rest NULL, nothing processed once the cancel has settled;
#  5. kill -9 of the worker and pg_ctl stop -m immediate mid-job: the job still
#     completes, once: every input has a verdict, one bulk.completed event;
#  6. permissions: no dns job without email_verify_prober; a prober whose
#     membership is revoked mid-job sees the job fail (bulk.failed), its
#     partial results readable; an ordinary role may not call the workers'
#     job_chunk_rows, yet reads its own job's results with job_results;
#  7. retention: a finished job is removed after email_verify.job_retention,
#     not before, and not while one of its events still waits.
#
# EV_TAP_ONLY=1,3 runs only some parts (while working on one).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(time sleep);
use EmailVerify::WebhookReceiver;

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';
my $maillog = ($ENV{EV_WORLD_DIR} // '/nonexistent') . '/postfix/maillog';
my $helo = sprintf('tap024-%x-%x.example', time, $$);
my %only = map { $_ => 1 } grep { /^\d+$/ } split /,/, ($ENV{EV_TAP_ONLY} // '');
sub part { my ($n) = @_; return !%only || $only{$n}; }

my $secret = EmailVerify::WebhookReceiver->new_secret;
my $receiver = EmailVerify::WebhookReceiver->start(secrets => [$secret]);
my $hook = $receiver->url('/ok');

my $node = PostgreSQL::Test::Cluster->new('jobs');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.helo_name = '$helo'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '1s'
email_verify.worker_batch_size = 100
email_verify.retry_delay = '1s'
email_verify.webhook_allow_private = on
email_verify.webhook_retry_delay = '1s'
email_verify.webhook_max_retry_delay = '2s'
email_verify.webhook_max_attempts = 3
email_verify.webhook_progress_interval = '1s'
# SIGKILL of any backend means a crash restart; the framework turns that off.
restart_after_crash = on
# A million-row job: keep the server log to its statements' first lines.
log_statement = 'none'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';

my $json = JSON::PP->new->canonical;

sub sql { my ($q) = @_; return $node->safe_psql('postgres', $q); }

sub quote { my ($s) = @_; $s =~ s/'/''/g; return "'$s'"; }
sub sql_array { return 'ARRAY[' . join(', ', map { quote($_) } @_) . ']::text[]'; }

# job_status as a hash.
sub status
{
	my ($id) = @_;
	return $json->decode(sql("SELECT row_to_json(s) FROM email_verify.job_status($id) s"));
}

# Waits (bounded) until the job is in one of the given states; its status.
sub wait_state
{
	my ($id, $states, $limit) = @_;
	my $deadline = time + ($limit // 60);
	my $s;
	while (time < $deadline)
	{
		$s = status($id);
		return $s if grep { $_ eq $s->{state} } @$states;
		sleep 0.2;
	}
	diag("job $id still $s->{state} after $limit s: $s->{processed}/$s->{total}");
	return $s;
}

# Waits (bounded) until $cond->() is true; whether it became so.
sub wait_until
{
	my ($cond, $limit) = @_;
	my $deadline = time + $limit;
	while (time < $deadline)
	{
		return 1 if $cond->();
		sleep 0.1;
	}
	return $cond->() ? 1 : 0;
}

sub worker_pid
{
	return sql(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
}

# The counts job_status gives, and the same counted over job_results: per
# status, disposable, catch-all, and per status/reason.
sub counts_match
{
	my ($id, $name) = @_;
	my $s = status($id);
	my $r = $json->decode(sql(qq{
		WITH r AS (SELECT * FROM email_verify.job_results($id))
		SELECT json_build_object(
			'valid', count(*) FILTER (WHERE status = 'valid'),
			'invalid', count(*) FILTER (WHERE status = 'invalid'),
			'risky', count(*) FILTER (WHERE status = 'risky'),
			'unknown', count(*) FILTER (WHERE status = 'unknown'),
			'disposable', count(*) FILTER (WHERE is_disposable),
			'catch_all', count(*) FILTER (WHERE is_catch_all),
			'verified', count(status),
			'reasons', (SELECT coalesce(jsonb_object_agg(k, n), '{}') FROM
				(SELECT status || '/' || coalesce(reason, '') AS k, count(*) AS n FROM r
				 WHERE status IS NOT NULL GROUP BY 1) x))
		FROM r}));
	my %from_status = map { $_ => $s->{$_} } qw(valid invalid risky unknown disposable catch_all reasons);
	$from_status{verified} = $s->{processed};
	is_deeply(\%from_status, $r, "$name: job_status's counts per status and reason are those of job_results");
	return $s;
}

# The receiver's deliveries of event_type for job (several attempts of one
# event share its id).
sub delivered
{
	my ($job, $type) = @_;
	my %ids;
	for my $rec (@{ $receiver->log })
	{
		my $body = eval { $json->decode($rec->{body} // '') } or next;
		next unless ($body->{job_id} // 0) == $job && ($body->{event_type} // '') eq $type;
		$ids{ $body->{event_id} } = $body if ($rec->{status} // 0) == 200;
	}
	return [ values %ids ];
}

# ---- 1. a job's life at level smtp -----------------------------------------------
if (part(1))
{
	subtest 'a job at level smtp: states, times, counts, duplicates probed once, input order' => sub {
		my $tag = sprintf('gone%x%x', $$, int(time));
		my $gone = "$tag\@strict.test";
		my @inputs = (
			'alice@strict.test', $gone, 'anyone@catchall.test', 'a@nullmx.test', 'not an address',
			"  $tag\@STRICT.test", 'bob@strict.test', "$tag\@Strict.Test\t",
			# 200 ms per RCPT: the job is seen running.
			'alice@slowrcpt.test', 'bob@slowrcpt.test', 'info@slowrcpt.test', map { "nobody$_\@slowrcpt.test" } 1 .. 4);
		my @expected = (
			'valid/accepted', 'invalid/mailbox_not_found', 'risky/catch_all', 'invalid/null_mx',
			'invalid/syntax', 'invalid/mailbox_not_found', 'valid/accepted', 'invalid/mailbox_not_found',
			'valid/accepted', 'valid/accepted', 'risky/role_account', ('invalid/mailbox_not_found') x 4);
		my $log_from = -s $maillog // 0;

		# Before its transaction commits, no worker sees it: queued.
		my ($id, $first) = split /\|/, sql(qq{
			BEGIN;
			SELECT email_verify.submit_job(${\ sql_array(@inputs)}, level => 'smtp',
				webhook_url => ${\ quote($hook)}, webhook_secret => ${\ quote($secret)}) AS id \\gset
			SELECT :id, (email_verify.job_status(:id)).state;
			COMMIT;});
		my @seen = ($first);
		my $deadline = time + 60;
		while (time < $deadline && $seen[-1] ne 'completed')
		{
			my $state = sql("SELECT state FROM email_verify.job_status($id)");
			push @seen, $state if $state ne $seen[-1];
			sleep 0.05;
		}
		is_deeply(\@seen, [qw(queued running completed)], 'states: queued -> running -> completed');
		is(sql(qq{SELECT started_at IS NOT NULL AND finished_at IS NOT NULL
			AND created_at <= started_at AND started_at <= finished_at
			AND estimated_completion IS NULL AND failure_reason IS NULL
			FROM email_verify.job_status($id)}), 't', 'created_at <= started_at <= finished_at');
		my $s = counts_match($id, 'smtp job');
		is("$s->{total} $s->{processed} " . ($s->{percent_done} + 0) . " $s->{unique_addresses}",
			scalar(@inputs) . ' ' . scalar(@inputs) . ' 100 ' . (@inputs - 2),
			'total = processed, 100 %, the two copies not counted as addresses');
		is($json->encode($s->{reasons}), $json->encode({
			'valid/accepted' => 4, 'invalid/mailbox_not_found' => 7, 'risky/catch_all' => 1, 'risky/role_account' => 1,
			'invalid/null_mx' => 1, 'invalid/syntax' => 1 }), 'reasons per status');

		my $rows = $json->decode(sql(
			"SELECT json_agg(json_build_object('email', email, 'verdict', status || '/' || reason,"
			  . " 'at', checked_at, 'ms', duration_ms)) FROM email_verify.job_results($id)"));
		is_deeply([ map { $_->{email} } @$rows ], \@inputs, 'job_results: every input, as given, in input order');
		is_deeply([ map { $_->{verdict} } @$rows ], \@expected, 'with the verdicts of the test world');
		my %copies = map { ("$_->{at} $_->{ms}" => 1) } @$rows[ 1, 5, 7 ];
		is(scalar(keys %copies), 1, 'the three copies carry one verdict (same checked_at, same duration)');
		is(sql(qq{SELECT string_agg(c.copies[k] || ' ' || coalesce((SELECT r.attempts FROM email_verify_internal.job_retries r
			           WHERE r.job_id = c.job_id AND r.address = c.chunk * 256 + k - 1), 0), ',')
			FROM email_verify_internal.job_address_chunks c, generate_subscripts(c.keys, 1) AS k
			WHERE c.job_id = $id AND c.keys[k] = ${\ quote($gone)}}), '3 0', 'kept as one address with three copies');
		SKIP:
		{
			skip "Postfix's log $maillog is not readable", 1 unless -r $maillog;
			# Postfix logs each refused RCPT with its client's HELO name.
			my $count = sub {
				open my $fh, '<', $maillog or return -1;
				seek $fh, $log_from, 0;
				my $n = 0;
				while (my $line = <$fh>)
				{
					$n++ if $line =~ /reject: RCPT .* to=<\Q$gone\E>.*helo=<\Q$helo\E>/i;
				}
				return $n;
			};
			wait_until(sub { $count->() >= 1 }, 5);
			sleep 0.5;    # a second RCPT would be logged by now
			is($count->(), 1, "Postfix saw one RCPT TO:<$gone> for the three copies");
		}
		my $events = sql("SELECT string_agg(event_type, ' ' ORDER BY id) FROM email_verify_internal.webhook_events"
			  . " WHERE job_id = $id AND event_type <> 'bulk.progress'");
		is($events, 'bulk.completed', 'one bulk.completed event');
		ok($receiver->wait_for(sub { @{ delivered($id, 'bulk.completed') } }, 20), 'delivered to the receiver');
		my ($done) = @{ delivered($id, 'bulk.completed') };
		is_deeply($done->{summary}, { total => 15, valid => 4, invalid => 9, risky => 2, unknown => 0,
			disposable => 0, catch_all => 1 }, 'its summary counts the copies');
		is(scalar(@{ $done->{results} // [] }), 15, 'and carries the results inline (15 <= 100)');
	};
}

# ---- 2. a million rows at level syntax -----------------------------------------------
# Runs psql -c $sql and hands each line of its output to $on_line as it
# arrives; samples the backend's private memory meanwhile. Returns the line
# count, seconds to the first line, seconds in all, the largest RssAnon (kB).
sub stream_lines
{
	my ($sql, $on_line) = @_;
	my ($buf, $err, $lines, $first, $pid, $rss) = ('', '', 0, undef, undef, 0);
	my $t0 = time;
	my $h = IPC::Run::start([ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', sub {
			$buf .= $_[0];
			$first //= time - $t0;
			my $start = 0;
			while ((my $nl = index($buf, "\n", $start)) >= 0)
			{
				$on_line->(substr($buf, $start, $nl - $start), ++$lines);
				$start = $nl + 1;
			}
			substr($buf, 0, $start) = '';
		}, '2>', \$err, IPC::Run::timeout(150));
	my $next_sample = 0;
	while ($h->pumpable)
	{
		my $had = $lines;
		$h->pump_nb;
		sleep 0.01 if $lines == $had;
		if (time >= $next_sample)
		{
			$next_sample = time + 0.2;
			$pid //= sql(qq{SELECT pid FROM pg_stat_activity WHERE query = ${\ quote($sql)}}) || undef;
			if ($pid && open my $fh, '<', "/proc/$pid/status")
			{
				while (<$fh>) { $rss = $1 if /^RssAnon:\s+(\d+)/ && $1 > $rss; }
			}
		}
	}
	$h->finish;
	die "psql: $err" if $?;
	return ($lines, $first // 0, time - $t0, $rss);
}

if (part(2))
{
	subtest 'a million rows at level syntax: submitted from a query, exported by COPY, streamed' => sub {
		my $n = 1_000_000;
		sql(qq{CREATE TABLE big AS
			SELECT g AS id, CASE WHEN g % 1000 = 0 THEN 'not an address ' || g ELSE 'user' || g || '\@example.com' END AS email
			FROM generate_series(1, $n) g;
			ALTER SYSTEM SET email_verify.worker_batch_size = 5000; SELECT pg_reload_conf();});
		my $t0 = time;
		my $id = sql(q{SELECT email_verify.submit_job_from_query('SELECT email FROM big ORDER BY id', level => 'syntax')});
		my $submitted = time - $t0;
		diag(sprintf('submit_job_from_query of %d rows: %.1f s', $n, $submitted));
		my $s = wait_state($id, [qw(completed failed cancelled)], 150);
		diag(sprintf('completed after %.1f s in all', time - $t0));
		is("$s->{state} $s->{processed} $s->{invalid} $s->{unique_addresses}", "completed $n 1000 $n",
			'the job completes: every row verified, the 1,000 bad ones invalid');
		sql('ALTER SYSTEM RESET email_verify.worker_batch_size; SELECT pg_reload_conf()');

		# Fresh from its submission (no statistics yet), the job streams: its
		# chunks are read in index order, a chunk's rows at a time.
		# CSV: a header, then one line per input, in input order.
		my ($header, $bad_order, $bad_verdict) = ('', 0, 0);
		my ($lines, $first, $all, $rss) = stream_lines(
			"COPY (SELECT * FROM email_verify.job_results($id)) TO STDOUT (FORMAT csv, HEADER)",
			sub {
				my ($line, $i) = @_;
				if ($i == 1) { $header = $line; return; }
				my $g = $i - 1;
				my $want = $g % 1000 == 0 ? "not an address $g," : "user$g\@example.com,";
				$bad_order++ unless substr($line, 0, length $want) eq $want;
				$bad_verdict++ unless $line =~ ($g % 1000 == 0 ? qr/,invalid,syntax,/ : qr/,valid,/);
			});
		diag(sprintf('CSV export: %d lines, first after %.2f s, all after %.1f s, backend RssAnon at most %d kB',
			$lines, $first, $all, $rss));
		is($lines, $n + 1, 'COPY ... (FORMAT csv, HEADER) gives 1,000,001 lines');
		like($header, qr/^email,normalized,status,reason,/, 'the header names the columns');
		is($bad_order, 0, 'in input order');
		is($bad_verdict, 0, 'each with its verdict');
		cmp_ok($first, '<', $all / 4, 'streamed: the first rows arrive long before the last');
		cmp_ok($rss, '<', 64 * 1024, 'the backend\'s private memory stays small (RssAnon < 64 MB)');

		my ($bad_json, $last) = (0, '');
		($lines, $first, $all, $rss) = stream_lines(
			"COPY (SELECT row_to_json(r) FROM email_verify.job_results($id) r) TO STDOUT",
			sub {
				my ($line, $i) = @_;
				$bad_json++ unless $line =~ /^\{"email":"(?:user|not an address )(\d+)(?:\@example\.com)?",/ && $1 == $i;
				$last = $line;
			});
		diag(sprintf('JSON lines export: %d lines, first after %.2f s, all after %.1f s, backend RssAnon at most %d kB',
			$lines, $first, $all, $rss));
		is($lines, $n, 'JSON lines: one object a line');
		is($bad_json, 0, 'in input order');
		is($json->decode($last)->{reason}, 'syntax', 'each a JSON object of the result');
		cmp_ok($rss, '<', 64 * 1024, 'the backend\'s private memory stays small');
		sql('DROP TABLE big');
	};
}

# ---- 3. fair share -------------------------------------------------------------------
# A 50,000-address dns job: most domains are distinct names the world does
# not know (each a DNS query of its own), so it drains for a while.
sub submit_big_dns_job
{
	return sql(qq{SELECT email_verify.submit_job(ARRAY(
		SELECT 'user' || g || '\@' || CASE WHEN g % 5 = 0 THEN 'strict.test' ELSE 'nx' || g || '.test' END
		FROM generate_series(1, 50000) g), level => 'dns',
		webhook_url => ${\ quote($hook)}, webhook_secret => ${\ quote($secret)})});
}

if (part(3))
{
	subtest 'fair share: watched rows and two jobs beside a 50,000-address dns job' => sub {
		# Small batches (a dns job claims 16 times its share of one: 160
		# addresses), so that the jobs take many batches each.
		sql('ALTER SYSTEM SET email_verify.worker_batch_size = 10; SELECT pg_reload_conf()');
		my $big_job = submit_big_dns_job();
		ok(wait_until(sub { status($big_job)->{processed} > 0 }, 20), 'the big job drains');

		sql(q{CREATE TABLE signups (id int PRIMARY KEY, email text);
			SELECT email_verify.watch('signups', 'email', level => 'dns');});
		for my $i (1 .. 3)
		{
			my $t0 = time;
			sql("INSERT INTO signups VALUES ($i, 'new$i\@strict.test')");
			wait_until(sub { sql("SELECT email_status IS NOT NULL FROM signups WHERE id = $i") eq 't' }, 10);
			my $took = time - $t0;
			cmp_ok($took, '<', 5, sprintf('watched row %d verified in %.2f s beside the big job', $i, $took));
		}
		my $s = status($big_job);
		is($s->{state}, 'running', "while the big job still drains ($s->{processed} of $s->{total})");

		my ($a, $b) = split /\|/, sql(q{SELECT
			email_verify.submit_job(ARRAY(SELECT 'a' || g || '@strict.test' FROM generate_series(1, 1000) g), level => 'dns'),
			email_verify.submit_job(ARRAY(SELECT 'b' || g || '@catchall.test' FROM generate_series(1, 1000) g), level => 'dns')});
		my ($both, $last) = (0, '');
		my $deadline = time + 90;
		while (time < $deadline)
		{
			$last = sql("SELECT a.processed, a.state, b.processed, b.state FROM email_verify.job_status($a) a, email_verify.job_status($b) b");
			my ($pa, $sa, $pb, $sb) = split /\|/, $last;
			$both ||= $pa > 0 && $pb > 0 && $sa ne 'completed' && $sb ne 'completed';
			last if $sa eq 'completed' && $sb eq 'completed';
			sleep 0.1;
		}
		ok($both, 'two jobs submitted together both progress before either completes');
		is($last, '1000|completed|1000|completed', 'and both complete');
		sql("SELECT email_verify.cancel_job($big_job) FROM email_verify.jobs WHERE job_id = $big_job AND state = 'running'");
		sql('ALTER SYSTEM RESET email_verify.worker_batch_size; SELECT pg_reload_conf()');
	};
}

# ---- 4. cancel mid-job -------------------------------------------------------------------
if (part(4))
{
	subtest 'cancel mid-job: partial results readable, the rest NULL, nothing more processed' => sub {
		my $big_job = submit_big_dns_job();
		wait_until(sub { status($big_job)->{processed} > 0 }, 20);
		my $s = status($big_job);
		ok($s->{state} eq 'running' && $s->{processed} < $s->{total}, "mid-job: $s->{processed} of $s->{total}");
		sql("SELECT email_verify.cancel_job($big_job)");
		$s = status($big_job);
		my $me = sql('SELECT current_user');
		is("$s->{state} / $s->{failure_reason}", "cancelled / cancelled by $me", 'cancelled, by whom');
		ok(defined $s->{finished_at}, 'finished_at set');
		my ($ret, $out, $err) = $node->psql('postgres', "SELECT email_verify.cancel_job($big_job)");
		like($err, qr/already cancelled/, 'cancelling again is an error');

		# A batch in flight may still end; after that nothing moves.
		my $done = sub {
			sql("SELECT j.processed || ' ' || (SELECT sum(a.done) FROM email_verify_internal.job_address_chunks a"
				  . " WHERE a.job_id = j.id) FROM email_verify_internal.jobs j WHERE j.id = $big_job");
		};
		sleep 1;
		my $settled = $done->();
		sleep 2.5;
		is($done->(), $settled, "nothing processed once the cancel has settled ($settled)");

		$s = counts_match($big_job, 'cancelled job');
		my ($rows, $verified, $bare) = split /\|/, sql(qq{SELECT count(*), count(status),
			count(*) FILTER (WHERE status IS NULL AND reason IS NULL AND normalized IS NULL AND checked_at IS NULL
			                 AND score IS NULL AND email IS NOT NULL)
			FROM email_verify.job_results($big_job)});
		is($rows, $s->{total}, 'job_results still gives every input');
		ok($verified > 0 && $verified == $s->{processed}, "the $verified verified ones with their verdicts");
		is($bare, $s->{total} - $verified, 'the others with their email alone (NULL status)');
		is(sql("SELECT string_agg(event_type || ':' || (body ->> 'reason'), ' ' ORDER BY id) FROM email_verify_internal.webhook_events"
			  . " WHERE job_id = $big_job AND event_type <> 'bulk.progress'"),
			"bulk.failed:cancelled by $me", 'one bulk.failed event, with the reason');
	};
}

# ---- 5. crashes mid-job ----------------------------------------------------------------------
# An smtp job at slowrcpt.test (200 ms per RCPT) is in flight for seconds.
sub crash_mid_job
{
	my ($how, $crash) = @_;
	subtest "$how mid-job: the job completes, once" => sub {
		my $id = sql(qq{SELECT email_verify.submit_job(ARRAY(
			SELECT CASE WHEN g % 10 = 0 THEN ' ' || 'u' || (g - 1) || '\@SlowRcpt.test' ELSE 'u' || g || '\@slowrcpt.test' END
			FROM generate_series(1, 40) g), level => 'smtp',
			webhook_url => ${\ quote($hook)}, webhook_secret => ${\ quote($secret)})});
		my $s = wait_state($id, [qw(running completed)], 20);
		sleep 0.7;
		$s = status($id);
		ok($s->{processed} < $s->{total}, "mid-job: $s->{processed} of $s->{total}");
		$crash->();
		$s = wait_state($id, [qw(completed failed cancelled)], 90);
		is("$s->{state} $s->{processed}", "completed $s->{total}", 'the job completes: processed = total');
		is(sql("SELECT count(*) FILTER (WHERE status IS NULL) FROM email_verify.job_results($id)"), '0',
			'every input has a verdict');
		counts_match($id, $how);
		is(sql("SELECT count(*) FROM email_verify_internal.webhook_events WHERE job_id = $id AND event_type = 'bulk.completed'"),
			'1', 'one bulk.completed event in the outbox');
		ok($receiver->wait_for(sub { @{ delivered($id, 'bulk.completed') } }, 30), 'delivered');
		is(scalar @{ delivered($id, 'bulk.completed') }, 1, 'one completion event delivered');
	};
}

if (part(5))
{
	crash_mid_job('kill -9 of the worker', sub {
		my $pid = worker_pid();
		kill 'KILL', $pid if $pid =~ /^\d+$/;
		# SIGKILL of a backend makes the postmaster restart every process:
		# over once a new worker runs (a query may still pass before it begins).
		wait_until(sub { my $now = eval { worker_pid() } // ''; $now =~ /^\d+$/ && $now != $pid }, 30);
	});
	crash_mid_job('pg_ctl stop -m immediate and start', sub {
		$node->stop('immediate');
		$node->start;
	});
}

# ---- 6. permissions ------------------------------------------------------------------------------
if (part(6))
{
	subtest 'permissions: dns and smtp need email_verify_prober, at submission and while the job runs' => sub {
		sql(q{CREATE ROLE plain; CREATE ROLE prober; GRANT email_verify_prober TO prober;});
		for my $level (qw(dns smtp))
		{
			my ($ret, $out, $err) = $node->psql('postgres',
				"SET ROLE plain; SELECT email_verify.submit_job(ARRAY['alice\@strict.test'], level => '$level')");
			like($err, qr/permission denied to submit a job at level $level/, "a role without email_verify_prober: no $level job");
		}
		like(sql(q{SET ROLE plain; SELECT email_verify.submit_job(ARRAY['alice@strict.test'], level => 'syntax')}),
			qr/^\d+$/, 'but a syntax job');

		# Small batches at slowrcpt.test (200 ms per RCPT): the job lasts
		# longer than the workers take to notice (at their next claim, at
		# most 10 s apart).
		sql(q{ALTER SYSTEM SET email_verify.worker_batch_size = 20; SELECT pg_reload_conf();});
		my $id = sql(qq{SET ROLE prober; SELECT email_verify.submit_job(ARRAY(
			SELECT 'p' || g || '\@slowrcpt.test' FROM generate_series(1, 400) g), level => 'smtp',
			webhook_url => ${\ quote($hook)}, webhook_secret => ${\ quote($secret)})});
		ok(wait_until(sub { status($id)->{processed} > 0 }, 20), 'the prober\'s smtp job runs');
		sql('REVOKE email_verify_prober FROM prober');
		my $s = wait_state($id, [qw(failed completed cancelled)], 40);
		is($s->{state}, 'failed', 'membership revoked mid-job: the job fails');
		sql(q{ALTER SYSTEM RESET email_verify.worker_batch_size; SELECT pg_reload_conf();});
		like($s->{failure_reason}, qr/may no longer probe at level smtp/, "failure_reason: $s->{failure_reason}");
		ok($s->{processed} > 0 && $s->{processed} < $s->{total}, "mid-job: $s->{processed} of $s->{total}");
		is(sql("SELECT string_agg(event_type, ' ' ORDER BY id) FROM email_verify_internal.webhook_events"
			  . " WHERE job_id = $id AND event_type <> 'bulk.progress'"), 'bulk.failed', 'one bulk.failed event');
		ok($receiver->wait_for(sub { @{ delivered($id, 'bulk.failed') } }, 30), 'delivered');
		my ($failed) = @{ delivered($id, 'bulk.failed') };
		is($failed->{reason}, $s->{failure_reason}, 'with the reason');
		sleep 1;
		my ($rows, $verified) = split /\|/,
		  sql("SET ROLE prober; SELECT count(*), count(status) FROM email_verify.job_results($id)");
		is($rows, $s->{total}, 'the owner still reads every input');
		is($verified, status($id)->{processed}, 'the verdicts so far, nothing after the failure');
		counts_match($id, 'failed job');
	};

	subtest 'permissions: job_chunk_rows is the workers\' own; the owner reads with job_results' => sub {
		my $id = sql(q{SET ROLE plain;
			SELECT email_verify.submit_job(ARRAY['alice@strict.test', 'not an address'], level => 'syntax')});
		is(wait_state($id, ['completed'], 20)->{state}, 'completed', "plain's syntax job completes");
		my ($ret, $out, $err) = $node->psql('postgres',
			"SET ROLE plain; SELECT * FROM email_verify_internal.job_chunk_rows($id, ARRAY['alice\@strict.test'], ARRAY[0])");
		like($err, qr/permission denied for function job_chunk_rows/, 'job_chunk_rows called directly: refused');
		is(sql("SET ROLE plain; SELECT count(*) || ' ' || count(status) FROM email_verify.job_results($id)"), '2 2',
			'job_results: the owner reads both inputs with their verdicts');
	};
}

# ---- 7. retention ----------------------------------------------------------------------------------
if (part(7))
{
	subtest 'retention: a finished job removed after email_verify.job_retention, not while an event waits' => sub {
		my ($ret, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET email_verify.job_retention = '30s'});
		like($err, qr/outside the valid range/, 'job_retention: at least a minute');
		sql(q{ALTER SYSTEM SET email_verify.job_retention = '1min'; SELECT pg_reload_conf();});
		my @ids = map {
			sql(qq{SELECT email_verify.submit_job(ARRAY['r$_\@strict.test', 'bad $_'], level => 'syntax',
				webhook_url => ${\ quote($hook)}, webhook_secret => ${\ quote($secret)})})
		} 1 .. 3;
		my ($old, $young, $waiting) = @ids;
		wait_state($_, ['completed'], 20) for @ids;
		ok(wait_until(sub { sql("SELECT count(*) FROM email_verify_internal.webhook_events WHERE job_id IN (@{[ join ',', @ids ]})"
			  . " AND state = 'delivered' AND event_type = 'bulk.completed'") eq '3' }, 20), 'three jobs completed, their events delivered');
		# Aged by hand; $waiting's completion waits again (due in an hour).
		sql(qq{BEGIN;
			UPDATE email_verify_internal.jobs SET finished_at = now() - interval '3 min' WHERE id = $waiting;
			UPDATE email_verify_internal.jobs SET finished_at = now() - interval '2 min' WHERE id = $old;
			UPDATE email_verify_internal.jobs SET finished_at = now() - interval '45 s' WHERE id = $young;
			UPDATE email_verify_internal.webhook_events SET state = 'pending', next_attempt_at = now() + interval '1 hour'
			WHERE job_id = $waiting AND event_type = 'bulk.completed';
			COMMIT;});
		my $exists = sub { sql("SELECT count(*) FROM email_verify_internal.jobs WHERE id = $_[0]") eq '1' };
		my $t0 = time;
		ok(wait_until(sub { !$exists->($old) }, 15), sprintf('a job finished 2 min ago is removed (%.1f s)', time - $t0));
		is(sql(qq{SELECT (SELECT count(*) FROM email_verify_internal.job_input_chunks WHERE job_id = $old)
			+ (SELECT count(*) FROM email_verify_internal.job_address_chunks WHERE job_id = $old)
			+ (SELECT count(*) FROM email_verify_internal.job_counts WHERE job_id = $old)
			+ (SELECT count(*) FROM email_verify_internal.webhook_events WHERE job_id = $old)}), '0',
			'with its inputs, results, counts and events');
		($ret, $out, $err) = $node->psql('postgres', "SELECT * FROM email_verify.job_status($old)");
		like($err, qr/job $old does not exist/, 'job_status: it does not exist');
		ok($exists->($young), 'a job finished 45 s ago stays');
		ok($exists->($waiting), 'one finished 3 min ago stays while its event waits');
		sleep 3;    # several more rounds of the worker (naptime 1 s)
		ok($exists->($waiting), 'and still stays');
		sql("UPDATE email_verify_internal.webhook_events SET state = 'dead' WHERE job_id = $waiting");
		ok(wait_until(sub { !$exists->($waiting) }, 15), 'removed once its event no longer waits');
		ok(wait_until(sub { !$exists->($young) }, 30), 'the younger one is removed once a minute old');
		cmp_ok(sql("SELECT count(*) FROM email_verify_internal.jobs WHERE id IN (@{[ join ',', @ids ]})"), '==', 0, 'all three gone');
	};
}

$node->stop;
$receiver->stop;
done_testing();
