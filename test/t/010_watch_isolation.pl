# No watch can stop the others. An ordinary role (nothing but its own schema)
# tries to stall verification for everyone, and after each attempt another
# owner's watched rows are still verified within seconds:
#   - a watch on a TEMP table (refused: it made every claim fail while the
#     session lived);
#   - recheck_after => '10000 years' (refused: the stale re-check of every
#     watch failed with "timestamp out of range");
#   - its table held under LOCK TABLE ... ACCESS EXCLUSIVE in an open
#     transaction (the sweep skips it for the round instead of waiting);
#   - rows of its table held FOR UPDATE across a drain: the rows nobody holds
#     are written at once, the held ones re-queued without losing an attempt,
#     and verified once released;
#   - a trigger that hangs, and one that swallows every cancel in a loop:
#     the watchdog cancels the write-back after email_verify.write_back_timeout
#     (and ends the worker a second later when the cancel is swallowed), and
#     the watch is suspended with the reason, visible in watch_status.
# Needs no test world: every watch is at level syntax.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use EvAttack;

my $node = PostgreSQL::Test::Cluster->new('isolation');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.worker_naptime = '1s'
email_verify.retry_delay = '1s'
email_verify.write_back_timeout = '1s'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION email_verify;
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
SET ROLE alice;
CREATE TABLE alice.contacts (id int PRIMARY KEY, email text);
SET client_min_messages = error;
SELECT email_verify.watch('alice.contacts', 'email', level => 'syntax');
});

sub as_mallory { return as_role($node, 'mallory', @_); }

bystander_verified($node, 'before any attack');

# ---- a TEMP table --------------------------------------------------------------
my $temp = $node->background_psql('postgres', on_error_stop => 0, extra_params => ['-U', 'mallory']);
$temp->query_safe('CREATE TEMP TABLE t (id int PRIMARY KEY, email text)');
$temp->query_safe(q{INSERT INTO t VALUES (1, 'x@example.com')});
my $answer = $temp->query(q{SELECT email_verify.watch('t', 'email', level => 'syntax')});
like($temp->{stderr}, qr/ERROR:  t is a temporary table/, 'TEMP table: watch() refuses it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.watches}), '1', 'TEMP table: no watch row is left');
bystander_verified($node, 'TEMP table, its session still open');
$temp->quit;

# ---- an extreme recheck_after ---------------------------------------------------
my ($ok, $err) = as_mallory(q{
CREATE TABLE mallory.forever (id int PRIMARY KEY, email text);
SELECT email_verify.watch('mallory.forever', 'email', level => 'syntax', recheck_after => '10000 years');
});
like($err, qr/recheck_after must be positive and at most 100 years/, 'recheck_after 10000 years: refused');
($ok, $err) = as_mallory(q{
SELECT email_verify.watch('mallory.forever', 'email', level => 'syntax', recheck_after => '100 years');
INSERT INTO mallory.forever VALUES (1, 'x@example.com');
});
ok($ok, 'recheck_after 100 years: accepted') or diag($err);
ok(wait_for_value($node, q{SELECT email_status FROM mallory.forever}, 'valid'), 'recheck_after 100 years: the row is verified');
is($node->safe_psql('postgres', q{SELECT email_verify_internal.enqueue_stale(10)}), '0',
	'recheck_after 100 years: the stale re-check of every watch runs');
bystander_verified($node, 'recheck_after 100 years');

# ---- a table held under an exclusive lock -------------------------------------------
as_mallory(q{
CREATE TABLE mallory.held (id int PRIMARY KEY, email text);
SELECT email_verify.watch('mallory.held', 'email', level => 'syntax');
INSERT INTO mallory.held VALUES (1, 'x@example.com');
});
my $locker = $node->background_psql('postgres', extra_params => ['-U', 'mallory']);
$locker->query_safe('BEGIN');
$locker->query_safe(q{INSERT INTO mallory.held VALUES (2, 'y@example.com')});
$locker->query_safe('LOCK TABLE mallory.held IN ACCESS EXCLUSIVE MODE');
bystander_verified($node, 'a watched table locked ACCESS EXCLUSIVE');
$locker->query_safe('COMMIT');
$locker->quit;
ok(wait_for_value($node, q{SELECT count(email_status) FROM mallory.held}, '2'),
	'a watched table locked ACCESS EXCLUSIVE: its rows are verified once it is released');

# ---- rows held FOR UPDATE across a drain ----------------------------------------
# The verdict columns exist before the lock is taken (watch, unwatch), so that
# watch() needs no ALTER TABLE, whose lock would wait for the holder.
as_mallory(q{
CREATE TABLE mallory.rows (id int PRIMARY KEY, email text);
SELECT email_verify.watch('mallory.rows', 'email', level => 'syntax');
SELECT email_verify.unwatch('mallory.rows', 'email');
INSERT INTO mallory.rows SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 50) g;
});
my $holder = $node->background_psql('postgres', extra_params => ['-U', 'mallory']);
$holder->query_safe('BEGIN');
$holder->query_safe(q{SELECT id FROM mallory.rows WHERE id <= 10 FOR UPDATE});
my $t0 = time;
($ok, $err) = as_mallory(q{SELECT email_verify.watch('mallory.rows', 'email', level => 'syntax')});
ok($ok, 'rows held FOR UPDATE: watched') or diag($err);
ok(wait_for_value($node, q{SELECT count(email_status) FROM mallory.rows WHERE id > 10}, '40', 10),
	sprintf('rows held FOR UPDATE: the 40 rows nobody holds are written at once (%.1f s)', time - $t0));
ok(wait_for_value($node, q{SELECT count(*) FROM email_verify.queue WHERE last_reason = 'row locked by another transaction'}, '10', 10),
	'rows held FOR UPDATE: the 10 held rows are re-queued');
is($node->safe_psql('postgres', q{SELECT count(email_status) FROM mallory.rows WHERE id <= 10}), '0',
	'rows held FOR UPDATE: the held rows are not written');
sleep 2;    # a few more claims of the held rows
is($node->safe_psql('postgres', q{SELECT coalesce(max(attempts), 0) FROM email_verify.queue}),
	'0', 'rows held FOR UPDATE: re-queued without losing an attempt');
bystander_verified($node, 'rows held FOR UPDATE');
$holder->query_safe('COMMIT');
$holder->quit;
ok(wait_for_value($node, q{SELECT count(email_status) FROM mallory.rows}, '50', 10),
	'rows held FOR UPDATE: verified once released');

# ---- a trigger that hangs; one that swallows every cancel --------------------------
my %stall = (
	hangs => q{PERFORM pg_sleep(3600);},
	swallows_cancels => q{LOOP
        BEGIN
            PERFORM pg_sleep(3600);
        EXCEPTION WHEN query_canceled THEN
            NULL;
        END;
    END LOOP;},
);
for my $kind (sort keys %stall)
{
	my $pids_before = $node->safe_psql('postgres',
		q{SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
	($ok, $err) = as_mallory(qq{
CREATE TABLE mallory.$kind (id int PRIMARY KEY, email text);
CREATE FUNCTION mallory.${kind}_trigger() RETURNS trigger LANGUAGE plpgsql AS \$f\$
BEGIN
    $stall{$kind}
    RETURN NEW;
END \$f\$;
CREATE TRIGGER stall BEFORE UPDATE ON mallory.$kind FOR EACH ROW EXECUTE FUNCTION mallory.${kind}_trigger();
SELECT email_verify.watch('mallory.$kind', 'email', level => 'syntax');
INSERT INTO mallory.$kind VALUES (1, 'x\@example.com');
});
	ok($ok, "a trigger that $kind: set up") or diag($err);
	$t0 = time;
	ok(wait_for_value($node, qq{SELECT suspended_reason LIKE 'write-back took longer than email_verify.write_back_timeout%'
	                     FROM email_verify.watch_status WHERE table_name = 'mallory.$kind'::regclass}, 't', 20),
		sprintf("a trigger that $kind: the watch is suspended (%.1f s)", time - $t0));
	bystander_verified($node, "a trigger that $kind");
	my ($seen) = as_mallory(qq{SELECT 1 FROM email_verify.watch_status WHERE suspended_reason IS NOT NULL
	                            AND table_name = 'mallory.$kind'::regclass});
	ok($seen, "a trigger that $kind: the owner sees why in watch_status");
	my $pids_after = $node->safe_psql('postgres',
		q{SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
	if ($kind eq 'swallows_cancels')
	{
		isnt($pids_after, $pids_before, 'a trigger that swallows cancels: the worker was ended and replaced');
	}
	else
	{
		is($pids_after, $pids_before, 'a trigger that hangs: the cancel was enough, the worker lives on');
	}
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM mallory.$kind WHERE email_status IS NOT NULL}), '0',
		"a trigger that $kind: nothing written");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.watch_status}),
	$node->safe_psql('postgres', q{SELECT count(*) FROM email_verify.watches}),
	'watch_status: a superuser sees every watch');
my $out;
$node->psql('postgres', q{SELECT count(*) FROM email_verify.watch_status WHERE table_name::text LIKE 'alice.%'},
	stdout => \$out, extra_params => ['-U', 'mallory']);
is($out, '0', "watch_status: a role sees no other owner's watches");


$node->stop;
done_testing();
