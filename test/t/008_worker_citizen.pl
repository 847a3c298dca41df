# The background worker as a good PostgreSQL citizen:
#   - registered only from shared_preload_libraries: without it the extension
#     and watch() work (watch() warns), no worker runs and the rows just wait;
#   - email_verify.workers = 2: two workers share the queue, each row once;
#   - woken at COMMIT, never by a rollback;
#   - one item whose verdict cannot be written back (the owner's trigger
#     raises) is marked failed, the worker neither crashes nor restarts; a
#     row a writer holds is not waited for; a batch whose write-back fails as
#     a whole is released at once and its items given up in the end;
#   - its writes reach the cumulative statistics (autovacuum sees them);
#   - SIGHUP reloads its settings without a restart;
#   - nothing runs in binary upgrade mode (postgres -b, as pg_upgrade starts it);
#   - ALTER EXTENSION ... UPDATE, DROP EXTENSION and DROP DATABASE of its
#     database do not hang on it (and a DROP DATABASE that fails leaves it be);
#   - it exits at once when the postmaster dies;
#   - queue_stats, verdict_stats and worker_stats() add up after a drain.
# The local mail world must run (root: testworld/world.sh start).
# Every wait is bounded; the file takes about a minute.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

# Runs sql with psql; returns (ok, elapsed seconds, stdout, stderr).
sub timed_psql
{
	my ($node, $db, $sql) = @_;
	my ($out, $err);
	my $t0 = time;
	my $rc = $node->psql($db, $sql, stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($rc == 0, time - $t0, $out // '', $err // '');
}

# Polls a query until it returns $want; bounded. Returns whether it did.
sub wait_for_value
{
	my ($node, $db, $sql, $want, $limit) = @_;
	my $deadline = time + ($limit // 20);
	while (time < $deadline)
	{
		return 1 if $node->safe_psql($db, $sql) eq $want;
		sleep 0.1;
	}
	return 0;
}

# Every row of the table carries a verdict (bounded wait).
sub wait_verified
{
	my ($node, $db, $table, $limit) = @_;
	return wait_for_value($node, $db,
		"SELECT count(*) FROM $table WHERE email IS NOT NULL AND email_status IS NULL", '0', $limit);
}

# Whether process $pid has a file mapped whose name mentions LLVM.
sub maps_mention_llvm
{
	my ($pid) = @_;
	open(my $maps, '<', "/proc/$pid/maps") or return 0;
	return scalar grep { /llvm/i } <$maps>;
}

# The workers' pids, sorted, space-separated.
sub worker_pids
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(pid::text, ' ' ORDER BY pid), '') FROM pg_stat_activity
		  WHERE backend_type = 'email_verify worker'});
}

sub worker_counter
{
	my ($node, $column) = @_;
	return $node->safe_psql('postgres', "SELECT $column FROM email_verify.worker_stats()");
}

# The server log from a byte offset on.
sub log_since
{
	my ($node, $offset) = @_;
	return slurp_file($node->logfile, $offset);
}

my $crash_re = qr/terminated by signal|exited with exit code|server process .* was terminated|all server processes terminated/;

# =============================================================================
# Without shared_preload_libraries: the extension works, no worker runs.
# =============================================================================
my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->append_conf('postgresql.conf', qq{
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
});
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $plain->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';
BAIL_OUT("the test world's SMTP servers do not answer (testworld/world.sh start)")
  unless $plain->safe_psql('postgres', q{SELECT (verify_email('anyone@catchall.test', 'smtp')).reason}) eq 'catch_all';

is(worker_pids($plain), '', 'not preloaded: no worker runs');
$plain->safe_psql('postgres', q{
CREATE TABLE contacts (id int PRIMARY KEY, email text);
INSERT INTO contacts VALUES (1, 'alice@strict.test');
});
my ($ok, $elapsed, $out, $err) = timed_psql($plain, 'postgres',
	q{SELECT email_verify.watch('contacts', 'email', level => 'smtp')});
ok($ok, 'not preloaded: watch() works');
note("watch() without the worker printed: " . ($err eq '' ? '(nothing)' : $err));
like($err, qr/WARNING:  no email_verify worker serves database postgres: the rows will wait\n.*DETAIL:  email_verify is not in shared_preload_libraries/s,
	'not preloaded: watch() warns that no worker will serve the database');
$plain->safe_psql('postgres', q{INSERT INTO contacts SELECT g, 'user' || g || '@catchall.test' FROM generate_series(2, 50) g});
sleep 1;
is($plain->safe_psql('postgres', q{SELECT string_agg(state || ' ' || items, ', ' ORDER BY state) FROM email_verify.queue_stats}),
	'new 50', 'not preloaded: the rows wait (the one there before watch(), 49 inserted after)');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM contacts WHERE email_status IS NULL}),
	'50', 'not preloaded: and no row is verified');
is($plain->safe_psql('postgres', q{SELECT row(verdicts_written, batches, latency_p50_ms) IS NULL FROM email_verify.worker_stats()}),
	't', 'not preloaded: worker_stats() is all NULL');
$plain->stop;

# =============================================================================
# Preloaded, two workers.
# =============================================================================
my $node = PostgreSQL::Test::Cluster->new('citizen');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.workers = 2
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '60s'
email_verify.retry_delay = '1s'
email_verify.worker_batch_size = 50
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

# The launcher starts the workers once CREATE EXTENSION has made their role.
ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker'},
	'2', 10), 'the launcher starts the workers');
my @pids = split / /, worker_pids($node);
is(scalar @pids, 2, 'email_verify.workers = 2: two workers run');
my $pids = join ' ', @pids;

# ---- two workers share the queue, each row verified once ----------------------
# An owner's trigger notes which process wrote each verdict. 2,000 rows, 40
# batches: enough that the second worker, woken by the first one's claim, gets
# its share (500 were drained in 0.17 s, sometimes all by one worker).
$node->safe_psql('postgres', q{
CREATE TABLE many (id int PRIMARY KEY, email text);
CREATE TABLE many_writes (id int, pid int);
CREATE FUNCTION note_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.many_writes VALUES (NEW.id, pg_backend_pid());
    RETURN NEW;
END $$;
SELECT email_verify.watch('many', 'email', level => 'smtp');
CREATE TRIGGER note_write AFTER UPDATE OF email_status ON many FOR EACH ROW EXECUTE FUNCTION note_write();
});
my $counted_before = $node->safe_psql('postgres', q{SELECT coalesce(sum(n), 0) FROM email_verify.worker_counters});
my $written_before = worker_counter($node, 'verdicts_written');
my $t0 = time;
$node->safe_psql('postgres', q{INSERT INTO many SELECT g, 'user' || g || '@catchall.test' FROM generate_series(1, 2000) g});
ok(wait_verified($node, 'postgres', 'many', 40), '2,000 rows on catchall.test verified by two workers');
note(sprintf('2,000 rows drained in %.2f s', time - $t0));
is(worker_counter($node, 'verdicts_written') - $written_before, 2000, 'worker_stats(): exactly 2,000 verdicts written');
is($node->safe_psql('postgres', q{SELECT coalesce(sum(n), 0) FROM email_verify.worker_counters}) - $counted_before,
	2000, 'worker_counters: exactly 2,000 more verdicts');
is($node->safe_psql('postgres', q{SELECT count(*) || '/' || count(DISTINCT id) FROM many_writes}),
	'2000/2000', 'each row written exactly once');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT pid) FROM many_writes}), '2', 'by both workers');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT email_status || '/' || email_reason, ',') FROM many}),
	'risky/catch_all', 'with the catch-all verdict');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue}), '0', 'the queue is empty');

# ---- woken at COMMIT, not before, never on rollback -----------------------------
# naptime is 60 s: only the wake at commit explains a verdict within 2 s.
$node->safe_psql('postgres', q{CREATE TABLE contacts (id int PRIMARY KEY, email text);
SELECT email_verify.watch('contacts', 'email', level => 'smtp');});
my $session = $node->background_psql('postgres');
$session->query_safe('BEGIN');
$session->query_safe(q{INSERT INTO contacts VALUES (1, 'alice@strict.test')});
$session->query_safe(q{INSERT INTO contacts VALUES (2, 'bob@strict.test')});
sleep 1.5;
is($session->query_safe(q{SELECT count(*) FROM contacts WHERE email_status IS NULL}), '2',
	'in an open transaction the inserted rows stay unverified');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue}), '0',
	'and nothing is queued for them: the worker queues them once woken at COMMIT');
$t0 = time;
$session->query_safe('COMMIT');
ok(wait_verified($node, 'postgres', 'contacts', 10), 'verified after COMMIT');
my $latency = time - $t0;
cmp_ok($latency, '<', 2, sprintf('woken at COMMIT: verdicts %.2f s after it (naptime 60 s)', $latency));
$session->quit;

# A rollback queues nothing and wakes nobody: an awakened worker would run
# claim_batch and change its pg_stat_activity.state_change.
my $state_sql = q{SELECT string_agg(pid || ':' || state_change, ' ' ORDER BY pid) FROM pg_stat_activity
                  WHERE backend_type = 'email_verify worker'};
sleep 0.2;
my $state_before = $node->safe_psql('postgres', $state_sql);
$node->safe_psql('postgres', q{BEGIN; INSERT INTO contacts VALUES (3, 'rollback@strict.test'); ROLLBACK;});
sleep 0.7;
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue}), '0', 'ROLLBACK: nothing queued');
is($node->safe_psql('postgres', $state_sql), $state_before, 'ROLLBACK: no worker woken');

# ---- one item's failure: marked failed, the worker carries on -------------------
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
CREATE TABLE guarded (id int PRIMARY KEY, email text);
CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.email = 'boom@catchall.test' THEN
        RAISE EXCEPTION 'guarded refuses %', NEW.email;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_boom BEFORE UPDATE ON guarded FOR EACH ROW EXECUTE FUNCTION refuse_boom();
SELECT email_verify.watch('guarded', 'email', level => 'smtp');
INSERT INTO guarded VALUES (1, 'one@catchall.test'), (2, 'boom@catchall.test'), (3, 'three@catchall.test'),
  (4, 'four@catchall.test'), (5, 'five@catchall.test');
});
# Done: no item pending or claimed, and only the refused row without a verdict
# (right after the INSERT the rows wait in the table, not yet in the queue).
ok(wait_for_value($node, 'postgres', q{SELECT (SELECT count(*) FROM email_verify.queue WHERE state IN ('pending', 'claimed'))
	|| '/' || (SELECT count(*) FROM guarded WHERE email_status IS NULL)}, '0/1', 20),
	'the guarded batch is done (no item pending or claimed)');
is($node->safe_psql('postgres', q{SELECT state || ' ' || (last_reason LIKE 'write-back failed: guarded refuses boom@catchall.test%')
                                  FROM email_verify.queue WHERE email = 'boom@catchall.test'}),
	'failed true', "the refused row's queue item is 'failed', with the trigger's error");
is($node->safe_psql('postgres', q{SELECT string_agg(id || ':' || coalesce(email_reason, '-'), ' ' ORDER BY id) FROM guarded}),
	'1:catch_all 2:- 3:catch_all 4:catch_all 5:catch_all', 'the other rows of the batch are verified');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue WHERE state = 'failed'}),
	'1', 'only the refused item is failed');

is(worker_pids($node), $pids, 'the workers did not restart (same pids)');
my $log = log_since($node, $log_offset);
like($log, qr/WARNING:.*could not write the verdict for boom\@catchall.test to table (public\.)?guarded: guarded refuses boom\@catchall.test/,
	'the write-back failure is logged as a WARNING');
unlike($log, $crash_re, 'no worker exited or was terminated');

# ---- a row held by a writer: the write-back does not wait for it -----------------
# (the verdict columns and index exist beforehand: watch() then takes no lock
# that waits for the holder's row lock)
$node->safe_psql('postgres', q{
CREATE TABLE held (id int PRIMARY KEY, email text, email_status text, email_reason text,
                   email_catch_all boolean, email_verified_at timestamptz);
CREATE INDEX ON held (email_verified_at) WHERE email IS NOT NULL;
INSERT INTO held VALUES (1, 'alice@strict.test'), (2, 'bob@strict.test');
});
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT id FROM held WHERE id = 1 FOR UPDATE');
$t0 = time;
$node->safe_psql('postgres', q{SELECT email_verify.watch('held', 'email', level => 'smtp')}, timeout => 30);
ok(wait_for_value($node, 'postgres', q{SELECT count(email_status) FROM held}, '1', 20),
	'the row nobody holds is verified');
ok(wait_for_value($node, 'postgres', q{SELECT last_reason FROM email_verify.queue WHERE email = 'alice@strict.test'},
	'row locked by another transaction', 10), "the held row's item goes back to the queue for a retry");
my $held_for = time - $t0;
cmp_ok($held_for, '<', 10, sprintf('the worker did not wait for the lock (%.1f s; lock_timeout 2 s)', $held_for));
$holder->query_safe('COMMIT');
$holder->quit;
ok(wait_verified($node, 'postgres', 'held', 15), 'once the writer commits, the held row is verified too');

# ---- a write-back that fails as a whole: released at once, given up in the end ----
# A trigger on the extension's own counters makes every apply_verdicts() fail
# after the per-item fallback (nothing a table owner could cause, but a stand-in
# for any failure of the whole write-back). With retry_attempts = 1 an item may
# be claimed 3 times (claim_limit()); naptime 1 s spaces the attempts.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET email_verify.retry_attempts = 1;
ALTER SYSTEM SET email_verify.worker_naptime = '1s';
SELECT pg_reload_conf();
CREATE FUNCTION refuse_counting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'counting is broken';
END $$;
CREATE TRIGGER refuse_counting BEFORE INSERT OR UPDATE ON email_verify.worker_counters
    FOR EACH ROW EXECUTE FUNCTION refuse_counting();
CREATE TABLE unlucky (id int PRIMARY KEY, email text);
SELECT email_verify.watch('unlucky', 'email', level => 'smtp');
INSERT INTO unlucky VALUES (1, 'alice@strict.test');
});
$log_offset = -s $node->logfile;
$t0 = time;
ok(wait_for_value($node, 'postgres', q{SELECT state FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
                                       WHERE w.relid = 'unlucky'::regclass}, 'failed', 30),
	'a batch whose write-back always fails: its item ends failed');
my $given_up = time - $t0;
cmp_ok($given_up, '<', 20, sprintf('after its 3 claims, released at once each time (%.1f s, a lease is 5 min)', $given_up));
is($node->safe_psql('postgres', q{SELECT attempts || ' ' || last_reason FROM email_verify.queue WHERE email = 'alice@strict.test'}),
	'3 given up: claimed 3 times, no verdict written (a worker died with it, or its write-back failed)',
	'the item says why it was given up');
like(log_since($node, $log_offset), qr/counting is broken/, 'each failure is logged');
is(worker_pids($node), $pids, 'the workers did not restart (same pids)');
$node->safe_psql('postgres', q{
DROP TRIGGER refuse_counting ON email_verify.worker_counters;
ALTER SYSTEM RESET email_verify.retry_attempts;
ALTER SYSTEM RESET email_verify.worker_naptime;
SELECT pg_reload_conf();
SELECT email_verify.watch('unlucky', 'email', level => 'smtp');
});
ok(wait_verified($node, 'postgres', 'unlucky', 10), 'watch() called again retries it, and it is verified');

# ---- the worker's writes reach the cumulative statistics -------------------------
# pgstat_report_stat(false) after each commit only flushes once a second; a
# worker going to sleep for naptime keeps the rest pending until it wakes.
$node->safe_psql('postgres', q{
CREATE TABLE counted (id int PRIMARY KEY, email text);
SELECT email_verify.watch('counted', 'email', level => 'smtp');
INSERT INTO counted VALUES (1, 'alice@strict.test'), (2, 'bob@strict.test');
});
ok(wait_verified($node, 'postgres', 'counted', 10), 'counted: rows verified');
ok(wait_for_value($node, 'postgres', q{SELECT n_tup_upd > 0 FROM pg_stat_user_tables WHERE relid = 'counted'::regclass}, 't', 5),
	'pg_stat_user_tables shows the worker\'s updates within 5 s');

note('counted n_tup_upd: ' . $node->safe_psql('postgres',
	q{SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'counted'::regclass}));

# ---- SIGHUP reloads the settings ---------------------------------------------------
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET email_verify.worker_batch_size = 7; SELECT pg_reload_conf();});
ok(wait_for_value($node, 'postgres', 'SHOW email_verify.worker_batch_size', '7', 5), 'batch size 7 reloaded');
sleep 0.5;    # the workers act on SIGHUP at their next loop, woken by it
my $batches_before = worker_counter($node, 'batches');
$node->safe_psql('postgres', q{INSERT INTO contacts SELECT g, 'user' || g || '@catchall.test' FROM generate_series(10, 29) g});
ok(wait_verified($node, 'postgres', 'contacts', 10), 'SIGHUP: 20 new rows verified');
cmp_ok(worker_counter($node, 'batches') - $batches_before, '>=', 3,
	'the workers use the new batch size (20 rows took at least 3 batches of 7; 50 would take 1 or 2)');
is(worker_pids($node), $pids, 'SIGHUP: the workers kept running (same pids)');
# The workers' later commits flushed what the naptime sleep had kept pending.
note('counted n_tup_upd after the workers woke again: ' . $node->safe_psql('postgres',
	q{SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'counted'::regclass}));
unlike(log_since($node, $log_offset), $crash_re, 'SIGHUP: no worker exited');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET email_verify.worker_batch_size; SELECT pg_reload_conf();});

# ---- the statistics after the drains ----------------------------------------------------
my %ws = split /\|/, $node->safe_psql('postgres', q{
SELECT 'in_flight|' || probes_in_flight || '|written|' || verdicts_written || '|batches|' || batches
    || '|quantiles|' || (latency_p50_ms IS NOT NULL AND latency_p95_ms IS NOT NULL AND latency_p99_ms IS NOT NULL)
    || '|ordered|' || (latency_p50_ms > 0 AND latency_p50_ms <= latency_p95_ms AND latency_p95_ms <= latency_p99_ms)
FROM email_verify.worker_stats()});
is($ws{in_flight}, 0, 'worker_stats(): no probe in flight after the drain');
cmp_ok($ws{written}, '>=', 2000 + 2 + 4 + 2 + 1 + 2 + 20, 'worker_stats(): verdicts_written counts every verdict written (not the refused one)');
cmp_ok($ws{batches}, '>=', 6, 'worker_stats(): batches counted');
is($ws{quantiles}, 'true', 'worker_stats(): latency quantiles are not null');
is($ws{ordered}, 'true', 'worker_stats(): 0 < p50 <= p95 <= p99');
is($node->safe_psql('postgres', q{SELECT sum(verdicts) FROM email_verify.verdict_stats}), $ws{written},
	'verdict_stats adds up to worker_stats().verdicts_written (one server start)');
is($ws{written}, $node->safe_psql('postgres', q{
	SELECT sum(n) FROM (SELECT count(email_status) FROM many UNION ALL SELECT count(email_status) FROM contacts
	    UNION ALL SELECT count(email_status) FROM guarded UNION ALL SELECT count(email_status) FROM counted
	    UNION ALL SELECT count(email_status) FROM unlucky UNION ALL SELECT count(email_status) FROM held) c(n)}),
	'verdicts_written equals the verdicts found in the watched tables');

cmp_ok($node->safe_psql('postgres', q{SELECT verdicts FROM email_verify.verdict_stats WHERE status = 'risky' AND reason = 'catch_all'}),
	'>=', 2000 + 20, 'verdict_stats: the catch-all verdicts');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.verdict_stats GROUP BY status, reason HAVING count(*) > 1}),
	'', 'verdict_stats: one row per status and reason');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.queue_stats WHERE state IN ('pending', 'claimed')}),
	'0', 'queue_stats: nothing pending or claimed after the drain');
is($node->safe_psql('postgres', q{SELECT table_name || ' ' || state || ' ' || (items > 0) FROM email_verify.queue_stats}),
	'guarded failed true', 'queue_stats: only the failed items of guarded remain');

# ---- the workers never JIT-compile ---------------------------------------------------
# A JIT compilation maps libLLVM into the process for good (about 60 MB of
# RSS); the workers turn jit off for themselves, whatever the configuration.
SKIP:
{
	skip 'JIT is not available in this server', 2
	  unless $node->safe_psql('postgres', 'SELECT pg_jit_available()') eq 't';
	$node->safe_psql('postgres', q{ALTER SYSTEM SET jit_above_cost = 0; SELECT pg_reload_conf();});
	sleep 0.5;    # the workers act on SIGHUP at their next loop
	$node->safe_psql('postgres', q{
CREATE TABLE jit_bait (id int PRIMARY KEY, email text);
SELECT email_verify.watch('jit_bait', 'email', level => 'smtp');
INSERT INTO jit_bait VALUES (1, 'alice@strict.test'), (2, 'anyone@catchall.test');
});
	ok(wait_verified($node, 'postgres', 'jit_bait', 10), 'jit_above_cost = 0: rows verified');
	my @llvm = grep { maps_mention_llvm($_) } split ' ', worker_pids($node);
	is("@llvm", '', 'jit_above_cost = 0: no worker has loaded LLVM');
	$node->safe_psql('postgres', q{ALTER SYSTEM RESET jit_above_cost; SELECT pg_reload_conf();});
}

# The database the workers move to after the restart below (set while they
# still work in postgres, so the queued row waits for them).
$node->safe_psql('postgres', 'CREATE DATABASE victim');
$node->safe_psql('victim', q{
CREATE EXTENSION email_verify;
CREATE TABLE v (id int PRIMARY KEY, email text);
SELECT email_verify.watch('v', 'email', level => 'smtp');
INSERT INTO v VALUES (1, 'alice@strict.test');
});

# =============================================================================
# Postmaster death: the workers exit at once.
# =============================================================================
# A process that exited: gone, or a zombie nobody reaps (its parent died).
sub gone
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 1;
	my $stat = <$fh> // '';
	close $fh;
	return $stat =~ /\) Z / ? 1 : 0;
}
@pids = split / /, worker_pids($node);
is(scalar @pids, 2, 'two workers run before the postmaster dies');
$node->kill9;
$t0 = time;
sleep 0.01 while (time - $t0 < 5 && grep { !gone($_) } @pids);
my $exit_time = time - $t0;
ok(!(grep { !gone($_) } @pids), 'postmaster killed: the workers exit');
cmp_ok($exit_time, '<', 1, sprintf('within %.3f s', $exit_time));

# =============================================================================
# Binary upgrade mode (postgres -b, as pg_upgrade starts the servers): no worker.
# The start after kill9 also cleans up, as src/test/recovery/t/017_shm.pl
# does: it succeeds once every old process has let go of the shared memory.
# Meanwhile the workers move to a database of their own for the DDL tests.
# =============================================================================
$node->append_conf('postgresql.conf', "email_verify.database = 'victim'");
{
	local %ENV = $node->_get_env();
	my $started = 0;
	my $deadline = time + 20;
	while (!$started && time < $deadline)
	{
		$started = PostgreSQL::Test::Utils::system_log('pg_ctl', '-D', $node->data_dir, '-l', $node->logfile,
			'-o', '-b', '-w', 'start') == 0;
		sleep 0.2 unless $started;
	}
	ok($started, 'binary upgrade mode: the server starts (after the postmaster was killed)');
	sleep 1;
	is(worker_pids($node), '', 'binary upgrade mode: no worker runs');
	command_ok([ 'pg_ctl', '-D', $node->data_dir, '-m', 'fast', '-w', 'stop' ], 'binary upgrade mode: the server stops');
}
$node->start;

ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker' AND datname = 'victim'}, '2', 10),
	"email_verify.database = 'victim': both workers connect to it");
ok(wait_verified($node, 'victim', 'v', 10), 'and verify its queue');
$pids = worker_pids($node);

# ---- ALTER EXTENSION ... UPDATE and DROP EXTENSION with the workers idle there ---------
($ok, $elapsed, $out, $err) = timed_psql($node, 'victim',
	q{SET statement_timeout = '5s'; ALTER EXTENSION email_verify UPDATE;});
ok($ok, 'ALTER EXTENSION email_verify UPDATE succeeds with the workers in the database') or diag($err);
cmp_ok($elapsed, '<', 5, sprintf('ALTER EXTENSION UPDATE took %.2f s', $elapsed));
($ok, $elapsed, $out, $err) = timed_psql($node, 'victim',
	q{SET statement_timeout = '5s'; DROP EXTENSION email_verify CASCADE;});
ok($ok, 'DROP EXTENSION email_verify CASCADE succeeds with the workers in the database') or diag($err);
cmp_ok($elapsed, '<', 5, sprintf('DROP EXTENSION CASCADE took %.2f s', $elapsed));
# Created again, the extension is served by the same workers.
$node->safe_psql('victim', q{
CREATE EXTENSION email_verify;
SELECT email_verify.watch('v', 'email', level => 'smtp');
INSERT INTO v VALUES (2, 'bob@strict.test');
});
ok(wait_verified($node, 'victim', 'v', 10), 'after DROP and CREATE EXTENSION the workers verify again');
is(worker_pids($node), $pids, 'without restarting');

# ---- DROP DATABASE of the workers' database ------------------------------------------------
# PostgreSQL refuses to drop a database anyone is connected to (after waiting
# 5 s); the workers must leave it first (WITH (FORCE) is not the answer).
# A DROP DATABASE that fails anyway (here: not the owner) must leave them be.
$node->safe_psql('postgres', 'CREATE ROLE mallory LOGIN');
$log_offset = -s $node->logfile;
($ok, $elapsed, $out, $err) = timed_psql($node, 'postgres',
	q{SET ROLE mallory; SET statement_timeout = '10s'; DROP DATABASE victim;});
like($err, qr/must be owner of database victim/, 'DROP DATABASE by a role that may not: refused');
sleep 0.3;
is(worker_pids($node), $pids, 'the workers stay when DROP DATABASE fails');

note("server log of the refused DROP DATABASE:\n" . log_since($node, $log_offset));
if (worker_pids($node) ne $pids)
{
	$node->restart;
	ok(wait_for_value($node, 'postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker' AND datname = 'victim'}, '2', 10),
		'after a restart the workers are back in victim');
}

$log_offset = -s $node->logfile;
($ok, $elapsed, $out, $err) = timed_psql($node, 'postgres',
	q{SET statement_timeout = '20s'; DROP DATABASE victim;});
note(sprintf('DROP DATABASE victim: %s after %.2f s%s', $ok ? 'succeeded' : 'failed', $elapsed, $err eq '' ? '' : ": $err"));
ok($ok, 'DROP DATABASE of the workers\' database succeeds') or diag($err);
cmp_ok($elapsed, '<', 2, sprintf('promptly (%.2f s)', $elapsed));
like(log_since($node, $log_offset), qr/email_verify worker: leaving the database/, 'the workers say why they leave');
# They exit with status 1, so that they come back if the DROP fails; started
# again 5 s later, they find the database gone and stop for good (status 0)
# before trying to connect.
sleep 7;
is(worker_pids($node), '', 'no worker comes back to the dropped database');
unlike(log_since($node, $log_offset), qr/FATAL:.*database "victim" does not exist/,
	'no worker crash-loops on the dropped database');

$node->stop;
done_testing();
