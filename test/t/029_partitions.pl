# Watching partitioned tables (declarative partitioning): one watch on the
# partitioned table serves every partition, present and future. Rows written
# through the parent, straight into a partition and by COPY into a partition
# get their verdicts from the worker; a row moved to another partition keeps
# or gets its verdict; a partition created or attached after watch() is
# covered, a detached one is left alone; stale verdicts are rechecked in
# every partition; a sync watch with reject_invalid refuses an invalid
# address in every partition; a partition locked by another session holds up
# neither the worker nor the other watches; and an ordinary role's trigger
# and index expression on a partition run as that role, never as the worker.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use EvAttack;

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';

my $node = PostgreSQL::Test::Cluster->new('partitions');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.workers = 1
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.worker_naptime = '1s'
email_verify.retry_delay = '1s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
BAIL_OUT("the test world's DNS at $dns does not answer (testworld/world.sh start)")
  unless $node->safe_psql('postgres', q{SELECT (verify_email('alice@strict.test', 'dns')).reason}) eq 'domain_ok';

sub worker_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker'});
}
my $started = time + 10;
sleep 0.1 while worker_pid() eq '' && time < $started;
my $pid = worker_pid();
like($pid, qr/^\d+$/, 'the worker runs');

# Waits (bounded) until no row of the query's table waits for a verdict.
sub wait_verified
{
	my ($where, $limit) = @_;
	return wait_for_value($node,
		"SELECT count(*) FROM contacts WHERE email IS NOT NULL AND email_verified_at IS NULL AND ($where)",
		'0', $limit // 20);
}

sub verdicts
{
	my ($where) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(tableoid::regclass || ':' || id || ':' || coalesce(email_status, '-') || '/'
		                  || coalesce(email_reason, '-'), ' ' ORDER BY id)
		FROM contacts WHERE $where});
}

# ---- watching a list-partitioned table at level dns --------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE contacts (id int, region text, email text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE contacts_eu PARTITION OF contacts FOR VALUES IN ('eu');
CREATE TABLE contacts_us PARTITION OF contacts FOR VALUES IN ('us');
INSERT INTO contacts VALUES (1, 'eu', 'alice@strict.test'), (2, 'us', 'a@nullmx.test');
SELECT email_verify.watch('contacts', 'email', level => 'dns');
});
ok(wait_verified('true'), 'rows there before watch() are verified');
is(verdicts('true'), 'contacts_eu:1:valid/domain_ok contacts_us:2:invalid/null_mx',
	'their verdicts are written into their partitions');
is($node->safe_psql('postgres', q{
	SELECT string_agg(c.relname || '=' || (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgparentid <> 0)
	                  || '/' || (SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indexrelid
	                             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	                             WHERE i.indrelid = c.oid AND a.attname = 'email_verified_at'), ' ' ORDER BY c.relname)
	FROM pg_class c WHERE c.relname IN ('contacts_eu', 'contacts_us')}),
	'contacts_eu=1/1 contacts_us=1/1',
	'each partition has the cloned row trigger and a partition of the verdict index');
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT email_verify.watch('contacts_eu', 'email', level => 'dns')});
like($err, qr/contacts_eu is a partition.*Watch the partitioned table/s, 'a partition alone is refused, with a hint');

# Through the parent, straight into a partition, and COPY into a partition.
$node->safe_psql('postgres', q{
INSERT INTO contacts VALUES (3, 'us', 'bob@strict.test');
INSERT INTO contacts_eu (id, region, email) VALUES (4, 'eu', 'x@nosuchdomain.test');
COPY contacts_us (id, region, email) FROM stdin;
5	us	carol@strict.test
6	us	b@nullmx.test
\.
});
ok(wait_verified('true'), 'rows through the parent, into a partition and by COPY are verified');
is(verdicts('id BETWEEN 3 AND 6'),
	'contacts_us:3:valid/domain_ok contacts_eu:4:invalid/no_domain contacts_us:5:valid/domain_ok contacts_us:6:invalid/null_mx',
	'each with its own verdict');

# ---- a row moved to another partition ------------------------------------------
my $kept = $node->safe_psql('postgres', q{SELECT email_verified_at FROM contacts WHERE id = 3});
$node->safe_psql('postgres', q{
UPDATE contacts SET region = 'eu' WHERE id = 3;
UPDATE contacts SET region = 'eu', email = 'c@nullmx.test' WHERE id = 5;
});
ok(wait_verified('true'), 'moved rows carry a verdict');
is(verdicts('id IN (3, 5)'), 'contacts_eu:3:valid/domain_ok contacts_eu:5:invalid/null_mx',
	'a moved row with a new address is verified again in its new partition');
is($node->safe_psql('postgres', q{SELECT email_verified_at FROM contacts WHERE id = 3}), $kept,
	'a moved row with the same address keeps its verdict');

# ---- partitions created and attached after watch() ---------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE contacts_as PARTITION OF contacts FOR VALUES IN ('as');
INSERT INTO contacts_as (id, region, email) VALUES (7, 'as', 'dave@strict.test');
CREATE TABLE contacts_af (id int NOT NULL, region text NOT NULL, email text, email_status text, email_reason text,
                          email_catch_all boolean, email_verified_at timestamptz, PRIMARY KEY (id, region));
INSERT INTO contacts_af (id, region, email) VALUES (8, 'af', 'erin@strict.test');
ALTER TABLE contacts ATTACH PARTITION contacts_af FOR VALUES IN ('af');
INSERT INTO contacts_af (id, region, email) VALUES (9, 'af', 'd@nullmx.test');
});
ok(wait_verified('true'), 'rows of a created and of an attached partition are verified');
is(verdicts('id BETWEEN 7 AND 9'),
	'contacts_as:7:valid/domain_ok contacts_af:8:valid/domain_ok contacts_af:9:invalid/null_mx',
	'including the rows the attached table held before');

# ---- a detached partition is left alone ----------------------------------------------
$node->safe_psql('postgres', q{
ALTER TABLE contacts DETACH PARTITION contacts_af;
INSERT INTO contacts_af (id, region, email) VALUES (10, 'af', 'frank@strict.test');
INSERT INTO contacts VALUES (11, 'eu', 'grace@strict.test');
});
ok(wait_verified('true'), 'the partitioned table goes on being verified after a DETACH');
sleep 2.5;    # two more naptimes
is($node->safe_psql('postgres', q{SELECT coalesce(email_status, '-') FROM contacts_af WHERE id = 10}), '-',
	'a row of the detached table gets no verdict');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'contacts_af'::regclass}), '0',
	'the detached table keeps none of the watch\'s triggers');
is(worker_pid(), $pid, 'the worker did not restart');

# ---- stale verdicts, rechecked in every partition -------------------------------------
$node->safe_psql('postgres', q{
UPDATE contacts SET email_verified_at = now() - interval '40 days', email_status = 'unknown'
WHERE id IN (1, 2, 7);
});
ok(wait_for_value($node, q{SELECT count(*) FROM contacts WHERE id IN (1, 2, 7) AND email_verified_at > now() - interval '1 hour'},
	'3', 20), 'stale verdicts in three partitions are rechecked');
is(verdicts('id IN (1, 2, 7)'), 'contacts_eu:1:valid/domain_ok contacts_us:2:invalid/null_mx contacts_as:7:valid/domain_ok',
	'with fresh verdicts');

# ---- a partition locked by another session ---------------------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE other (id int PRIMARY KEY, email text);
SELECT email_verify.watch('other', 'email', level => 'syntax');
});
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE contacts_us IN ACCESS EXCLUSIVE MODE;');
$node->safe_psql('postgres', q{
INSERT INTO other VALUES (1, 'someone@example.com');
INSERT INTO contacts_eu (id, region, email) VALUES (12, 'eu', 'heidi@strict.test');
});
ok(wait_for_value($node, q{SELECT email_status FROM other WHERE id = 1}, 'valid', 10),
	'another watch is served while a partition is locked');
ok(wait_for_value($node,
	q{SELECT wait_event_type IS DISTINCT FROM 'Lock' FROM pg_stat_activity WHERE backend_type = 'email_verify worker'},
	't', 5), 'the worker does not wait for the partition\'s lock');
$locker->query_safe('COMMIT;');
$locker->quit;
ok(wait_verified('id = 12'), 'the partitioned table is served once the lock is gone');

# ---- sync mode on a range-partitioned table ------------------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE signups (id int, day date, email text, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE signups_2025 PARTITION OF signups FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT email_verify.watch('signups', 'email', level => 'dns', mode => 'sync', reject_invalid => true);
CREATE TABLE signups_2026 PARTITION OF signups FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO signups VALUES (1, '2025-03-01', 'alice@strict.test');
INSERT INTO signups_2026 VALUES (2, '2026-03-01', 'bob@strict.test');
});
is($node->safe_psql('postgres',
	q{SELECT string_agg(id || ':' || email_status || '/' || email_reason, ' ' ORDER BY id) FROM signups}),
	'1:valid/domain_ok 2:valid/domain_ok', 'sync: verdicts written inline, through the parent and into a new partition');
for my $target ('signups', 'signups_2025', 'signups_2026')
{
	my $day = $target eq 'signups_2026' ? '2026-05-01' : '2025-05-01';
	($rc, $out, $err) = $node->psql('postgres', "INSERT INTO $target VALUES (3, '$day', 'x\@nullmx.test')");
	like($err, qr/email address "x\@nullmx.test" is invalid \(null_mx\)/, "sync: reject_invalid refuses an insert into $target");
}
($rc, $out, $err) = $node->psql('postgres', q{UPDATE signups SET day = '2026-06-01', email = 'y@nullmx.test' WHERE id = 1});
like($err, qr/is invalid \(null_mx\)/, 'sync: and an update that moves a row with an invalid address');

# ---- an ordinary role's code on a partition runs as that role ---------------------------
# The owner puts a trigger on one partition and an index expression on another,
# both trying to climb to the worker's identity or a superuser's when the
# worker writes a verdict; each logs who it ran as.
$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
});
my $ok;
($ok, $err) = as_role($node, 'mallory', q{
CREATE TABLE mallory.log (who text, session text);
CREATE TABLE mallory.t (id int, part text, email text, PRIMARY KEY (id, part)) PARTITION BY LIST (part);
CREATE TABLE mallory.t_a PARTITION OF mallory.t FOR VALUES IN ('a');
CREATE TABLE mallory.t_b PARTITION OF mallory.t FOR VALUES IN ('b');
CREATE FUNCTION mallory.climb() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO mallory.log VALUES (current_user, session_user);
    IF session_user <> 'mallory' THEN
        BEGIN
            RESET ROLE;
            ALTER ROLE mallory SUPERUSER;
        EXCEPTION WHEN OTHERS THEN
            INSERT INTO mallory.log VALUES ('refused', SQLERRM);
        END;
    END IF;
    RETURN NEW;
END $f$;
CREATE TRIGGER climb BEFORE UPDATE ON mallory.t_a FOR EACH ROW EXECUTE FUNCTION mallory.climb();
CREATE FUNCTION mallory.climb_index(e text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    IF session_user <> 'mallory' THEN
        PERFORM set_config('role', 'none', false);
    END IF;
    RETURN e;
END $f$;
SELECT email_verify.watch('mallory.t', 'email', level => 'syntax');
-- (after watch(), which adds the verdict column the index needs)
CREATE INDEX ON mallory.t_b (mallory.climb_index(email), email_verified_at);
INSERT INTO mallory.t VALUES (1, 'a', 'victim@example.com'), (2, 'b', 'victim2@example.com');
});
ok($ok, 'partition attack: set up (a trigger on one partition, an index expression on another)') or diag($err);
ok(wait_for_value($node, q{
	SELECT count(*) FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
	WHERE w.relid = 'mallory.t'::regclass AND q.state <> 'failed'}, '0', 20)
	&& wait_for_value($node, q{SELECT count(*) FROM mallory.t WHERE email_verified_at IS NULL
	                           AND NOT EXISTS (SELECT FROM email_verify.queue q WHERE q.email = mallory.t.email)}, '0', 20),
	'partition attack: the worker dealt with both rows');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}), 'f',
	'partition attack: mallory did not become superuser');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT who, ',') FROM mallory.log WHERE who <> 'refused'}),
	'mallory', 'partition attack: the partition\'s trigger ran as the table\'s owner, never as the worker');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT session, ',') FROM mallory.log WHERE who <> 'refused'}),
	'email_verify_worker', 'partition attack: and it did run, in the worker\'s session');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM mallory.log WHERE who = 'refused'}), '>=', 1,
	'partition attack: its climb was refused');
like($node->safe_psql('postgres', q{SELECT last_reason FROM email_verify.queue WHERE email = 'victim2@example.com'}),
	qr/security-restricted operation/, 'partition attack: the index expression\'s climb failed the write');
$node->safe_psql('postgres', q{INSERT INTO other VALUES (2, 'after@example.com')});
ok(wait_for_value($node, q{SELECT email_status FROM other WHERE id = 2}, 'valid', 10),
	'partition attack: another owner\'s rows are still verified');

# ---- a table watched on its own, then attached -------------------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE contacts_sa (id int NOT NULL, region text NOT NULL, email text, email_status text, email_reason text,
                          email_catch_all boolean, email_verified_at timestamptz, PRIMARY KEY (id, region));
CREATE TABLE parent (id int, region text, email text, email_status text, email_reason text,
                     email_catch_all boolean, email_verified_at timestamptz, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
SELECT email_verify.watch('contacts_sa', 'email', level => 'syntax');
ALTER TABLE parent ATTACH PARTITION contacts_sa FOR VALUES IN ('sa');
});
($rc, $out, $err) = $node->psql('postgres', q{SELECT email_verify.watch('parent', 'email', level => 'syntax')});
like($err, qr/partition public.contacts_sa of table public.parent is watched on its own.*unwatch/s,
	'a partitioned table with a partition watched on its own is refused, with a hint');
$node->safe_psql('postgres', q{
SELECT email_verify.unwatch('contacts_sa', 'email');
SELECT email_verify.watch('parent', 'email', level => 'syntax');
INSERT INTO parent (id, region, email) VALUES (1, 'sa', 'sam@example.com');
});
ok(wait_for_value($node, q{SELECT email_status FROM parent WHERE id = 1}, 'valid', 10),
	'unwatched, the partition is served by its parent\'s watch');

# ---- unwatch -----------------------------------------------------------------------------
$node->safe_psql('postgres', q{SELECT email_verify.unwatch('contacts', 'email')});
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_trigger t JOIN pg_inherits h ON h.inhrelid = t.tgrelid
	WHERE h.inhparent = 'contacts'::regclass AND NOT t.tgisinternal}), '0',
	'unwatch drops the cloned triggers from every partition');
is(worker_pid(), $pid, 'the worker ran all along without a restart');

done_testing();
