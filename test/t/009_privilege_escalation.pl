# An ordinary role tries to turn the extension's privileges into its own.
# Each attacker is a role of its own with no privilege but its own schema,
# so that one attack's success cannot be mistaken for another's; each attack
# is followed by a check that the attacker is still no superuser and that
# another owner's watched rows are still verified within seconds.
#   1. the worker's write-back runs the owner's code (triggers, index
#      expressions, key domains) and that code tries to climb back to the
#      worker's identity: RESET ROLE, SET ROLE, SET SESSION AUTHORIZATION,
#      set_config('role', ...), an attacker-owned SECURITY DEFINER function,
#      a session-level change of search_path and application_name;
#   2. a watched column swapped for one of the attacker's type with its own
#      cast to text, read by the worker's sweep and by queue_stats (with the
#      DDL follower that suspends such watches, and without it);
#   3. a sync watch's verdict column given a domain whose CHECK calls the
#      attacker's function, and the watched column swapped the same way.
# Needs no test world: every watch is at level syntax (open to every role).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use EvAttack;

my $node = PostgreSQL::Test::Cluster->new('escalation');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.worker_naptime = '1s'
email_verify.retry_delay = '1s'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION email_verify;
-- The bystander: another owner's watched table, which must keep being verified.
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
SET ROLE alice;
CREATE TABLE alice.contacts (id int PRIMARY KEY, email text);
SET client_min_messages = error;
SELECT email_verify.watch('alice.contacts', 'email', level => 'syntax');
});

# A new role with its own schema and nothing else.
sub attacker
{
	my ($name) = @_;
	$node->safe_psql('postgres', qq{CREATE ROLE $name LOGIN; CREATE SCHEMA $name AUTHORIZATION $name;});
}

sub is_superuser
{
	my ($role) = @_;
	return $node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = '$role'") eq 't';
}

# Waits until the worker has dealt with every item of table $table (a
# verdict written, or the item parked as failed) and nothing of it is new.
sub wait_handled
{
	my ($table) = @_;
	# (Right after an INSERT the rows wait in the table, not yet in the queue:
	# unqueued_rows counts them.)
	return wait_for_value($node, qq{
		SELECT (SELECT count(*) FROM email_verify.queue q JOIN email_verify.watches w ON w.id = q.watch_id
		        WHERE w.relid = '$table'::regclass AND q.state <> 'failed')
		     + (SELECT coalesce(sum(email_verify_internal.unqueued_rows(w.id)), 0) FROM email_verify.watches w
		        WHERE w.relid = '$table'::regclass)}, '0', 20);
}

# After an attack: the attacker is no superuser, and the bystander's new row
# is verified within seconds.
sub after_attack
{
	my ($role, $what) = @_;
	ok(!is_superuser($role), "$what: $role did not become superuser");
	bystander_verified($node, $what);
}

# =============================================================================
# 1. The write-back: the owner's BEFORE UPDATE trigger tries to become the
#    worker's own identity (email_verify_worker) or a superuser's.
# =============================================================================
my %climbs = (
	reset_role => q{RESET ROLE},
	set_role => q{SET ROLE postgres},
	session_authorization => q{SET SESSION AUTHORIZATION postgres},
	set_config_role => q{PERFORM set_config('role', 'postgres', false)},
	set_config_local => q{PERFORM set_config('role', 'none', true)},
);
for my $variant (sort keys %climbs)
{
	my $role = "m_$variant";
	attacker($role);
	my ($ok, $err) = as_role($node, $role, qq{
CREATE TABLE $role.t (id int PRIMARY KEY, email text);
CREATE FUNCTION $role.climb() RETURNS trigger LANGUAGE plpgsql AS \$f\$
BEGIN
    $climbs{$variant};
    ALTER ROLE $role SUPERUSER;
    RETURN NEW;
END \$f\$;
CREATE TRIGGER climb BEFORE UPDATE ON $role.t FOR EACH ROW EXECUTE FUNCTION $role.climb();
SELECT email_verify.watch('$role.t', 'email', level => 'syntax');
INSERT INTO $role.t VALUES (1, 'victim\@example.com');
});
	ok($ok, "write-back, $variant: the attack is set up") or diag($err);
	ok(wait_handled("$role.t"), "write-back, $variant: the worker dealt with the row");
	after_attack($role, "write-back, $variant");
}

# An attacker-owned SECURITY DEFINER function called by the trigger.
attacker('m_secdef');
my ($ok, $err) = as_role($node, 'm_secdef', q{
CREATE TABLE m_secdef.t (id int PRIMARY KEY, email text);
CREATE FUNCTION m_secdef.promote() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $f$
BEGIN
    PERFORM set_config('role', 'none', false);
    ALTER ROLE m_secdef SUPERUSER;
END $f$;
CREATE FUNCTION m_secdef.climb() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM m_secdef.promote();
    RETURN NEW;
END $f$;
CREATE TRIGGER climb BEFORE UPDATE ON m_secdef.t FOR EACH ROW EXECUTE FUNCTION m_secdef.climb();
SELECT email_verify.watch('m_secdef.t', 'email', level => 'syntax');
INSERT INTO m_secdef.t VALUES (1, 'victim@example.com');
});
ok($ok, 'write-back, SECURITY DEFINER: the attack is set up') or diag($err);
ok(wait_handled('m_secdef.t'), 'write-back, SECURITY DEFINER: the worker dealt with the row');
after_attack('m_secdef', 'write-back, SECURITY DEFINER');

# A trigger that leaves session-level settings behind in the worker: a
# search_path that puts the attacker's schema first (the worker's next
# statements would resolve names there) and an application_name.
attacker('m_path');
($ok, $err) = as_role($node, 'm_path', q{
CREATE TABLE m_path.t (id int PRIMARY KEY, email text);
CREATE FUNCTION m_path.to_regproc(text) RETURNS regproc LANGUAGE plpgsql AS $f$
BEGIN
    ALTER ROLE m_path SUPERUSER;
    RETURN NULL;
END $f$;
CREATE FUNCTION m_path.linger() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM set_config('search_path', 'm_path, pg_catalog', false);
    PERFORM set_config('application_name', 'hijacked', false);
    RETURN NEW;
END $f$;
CREATE TRIGGER linger BEFORE UPDATE ON m_path.t FOR EACH ROW EXECUTE FUNCTION m_path.linger();
SELECT email_verify.watch('m_path.t', 'email', level => 'syntax');
INSERT INTO m_path.t VALUES (1, 'victim@example.com');
});
ok($ok, 'write-back, search_path: the attack is set up') or diag($err);
ok(wait_for_value($node, q{SELECT email_status FROM m_path.t}, 'valid'),
	'write-back, search_path: the row is verified (its trigger raised nothing)');
after_attack('m_path', 'write-back, search_path');
is($node->safe_psql('postgres',
	q{SELECT string_agg(application_name, ',') FROM pg_stat_activity WHERE backend_type = 'email_verify worker'}),
	'email_verify worker', 'write-back, search_path: no setting of the trigger outlives the write-back');

# An index expression over a verdict column, evaluated by the UPDATE.
attacker('m_index');
($ok, $err) = as_role($node, 'm_index', q{
CREATE TABLE m_index.t (id int PRIMARY KEY, email text);
SELECT email_verify.watch('m_index.t', 'email', level => 'syntax');
-- An index expression must be IMMUTABLE, and so read-only; what it calls need not.
CREATE FUNCTION m_index.climb() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM set_config('role', 'none', false);
    ALTER ROLE m_index SUPERUSER;
END $f$;
CREATE FUNCTION m_index.f(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
    IF session_user <> 'm_index' THEN
        PERFORM m_index.climb();
    END IF;
    RETURN $1;
END $f$;
CREATE INDEX ON m_index.t (m_index.f(email_status));
INSERT INTO m_index.t VALUES (1, 'victim@example.com');
});
ok($ok, 'write-back, index expression: the attack is set up') or diag($err);
ok(wait_handled('m_index.t'), 'write-back, index expression: the worker dealt with the row');
after_attack('m_index', 'write-back, index expression');

# A primary key of a domain whose CHECK runs when the key is read back.
attacker('m_domain');
($ok, $err) = as_role($node, 'm_domain', q{
CREATE FUNCTION m_domain.ok(int) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    IF session_user <> 'm_domain' THEN
        PERFORM set_config('role', 'none', false);
        ALTER ROLE m_domain SUPERUSER;
    END IF;
    RETURN true;
END $f$;
CREATE DOMAIN m_domain.key AS int CHECK (m_domain.ok(VALUE));
CREATE TABLE m_domain.t (id m_domain.key PRIMARY KEY, email text);
SELECT email_verify.watch('m_domain.t', 'email', level => 'syntax');
INSERT INTO m_domain.t VALUES (1, 'victim@example.com');
});
ok($ok, 'write-back, key domain: the attack is set up') or diag($err);
ok(wait_handled('m_domain.t'), 'write-back, key domain: the worker dealt with the row');
after_attack('m_domain', 'write-back, key domain');

# =============================================================================
# 2. A swapped column: the watched column renamed away and a new one of the
#    attacker's enum, whose cast to text is the attacker's function, added
#    under the old name. The worker's sweep and queue_stats (readable by all)
#    read <col>::text with the extension's privileges.
# =============================================================================
for my $reader ('sweep', 'queue_stats')
{
	my $role = "m_swap_$reader";
	attacker($role);
	($ok, $err) = as_role($node, $role, qq{
CREATE TABLE $role.t (id int PRIMARY KEY, email text);
SELECT email_verify.watch('$role.t', 'email', level => 'syntax');
CREATE TYPE $role.kind AS ENUM ('x');
CREATE FUNCTION $role.kind_text($role.kind) RETURNS text LANGUAGE plpgsql AS \$f\$
BEGIN
    IF current_user <> '$role' THEN
        ALTER ROLE $role SUPERUSER;
    END IF;
    RETURN 'victim\@example.com';
END \$f\$;
CREATE CAST ($role.kind AS text) WITH FUNCTION $role.kind_text($role.kind);
ALTER TABLE $role.t RENAME COLUMN email TO email_old;
ALTER TABLE $role.t ADD COLUMN email $role.kind;
INSERT INTO $role.t (id, email) VALUES (1, 'x');
});
	ok($ok, "swapped column, $reader: the attack is set up") or diag($err);
	like($err, qr/WARNING:  email_verify: the watch of column email of table $role.t is suspended: column email has type $role.kind/,
		"swapped column, $reader: the ALTER TABLE suspends the watch, with a WARNING");
	if ($reader eq 'queue_stats')
	{
		($ok, $err) = as_role($node, $role, q{SELECT * FROM email_verify.queue_stats});
		ok($ok, 'swapped column, queue_stats: the view answers') or diag($err);
	}
	after_attack($role, "swapped column, $reader");
}

# The same swap made while the worker's check is bypassed: the DDL follower
# does not see it (its event trigger is off for this session, as only a
# superuser can do), so the readers' own check must hold.
attacker('m_swap_quiet');
($ok, $err) = as_role($node, 'm_swap_quiet', q{
CREATE TABLE m_swap_quiet.t (id int PRIMARY KEY, email text);
SELECT email_verify.watch('m_swap_quiet.t', 'email', level => 'syntax');
CREATE TYPE m_swap_quiet.kind AS ENUM ('x');
CREATE FUNCTION m_swap_quiet.kind_text(m_swap_quiet.kind) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    IF current_user <> 'm_swap_quiet' THEN
        ALTER ROLE m_swap_quiet SUPERUSER;
    END IF;
    RETURN 'victim@example.com';
END $f$;
CREATE CAST (m_swap_quiet.kind AS text) WITH FUNCTION m_swap_quiet.kind_text(m_swap_quiet.kind);
});
ok($ok, 'swapped column, follower off: the attack is set up') or diag($err);
$node->safe_psql('postgres', q{
SET session_replication_role = replica;  -- event triggers do not fire
ALTER TABLE m_swap_quiet.t RENAME COLUMN email TO email_old;
ALTER TABLE m_swap_quiet.t ADD COLUMN email m_swap_quiet.kind;
RESET session_replication_role;
INSERT INTO m_swap_quiet.t (id, email) VALUES (1, 'x');
});
($ok, $err) = as_role($node, 'm_swap_quiet', q{SELECT * FROM email_verify.queue_stats});
ok($ok, 'swapped column, follower off: queue_stats answers') or diag($err);
after_attack('m_swap_quiet', 'swapped column, follower off');
is($node->safe_psql('postgres', q{SELECT email_status IS NULL FROM m_swap_quiet.t}), 't',
	'swapped column, follower off: the row was not read');

# =============================================================================
# 3. A sync watch: its trigger filled the verdict columns through
#    jsonb_populate_record with the extension's privileges, so a domain put on
#    a verdict column ran its CHECK as superuser; and it read the watched
#    column with them, so a swapped column's cast ran as superuser too.
# =============================================================================
attacker('m_sync_domain');
($ok, $err) = as_role($node, 'm_sync_domain', q{
CREATE TABLE m_sync_domain.t (id int PRIMARY KEY, email text);
SELECT email_verify.watch('m_sync_domain.t', 'email', level => 'syntax', mode => 'sync');
CREATE FUNCTION m_sync_domain.ok(text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    IF current_user <> 'm_sync_domain' THEN
        ALTER ROLE m_sync_domain SUPERUSER;
    END IF;
    RETURN true;
END $f$;
CREATE DOMAIN m_sync_domain.status AS text CHECK (m_sync_domain.ok(VALUE));
ALTER TABLE m_sync_domain.t ALTER COLUMN email_status TYPE m_sync_domain.status;
INSERT INTO m_sync_domain.t VALUES (1, 'victim@example.com');
});
ok($ok, 'sync, verdict column domain: the attack is set up') or diag($err);
like($err, qr/suspended: column email_status has type m_sync_domain.status, not text/,
	'sync, verdict column domain: the ALTER TABLE suspends the watch');
after_attack('m_sync_domain', 'sync, verdict column domain');

# The same with the DDL follower off: the trigger itself must hold.
attacker('m_sync_quiet');
($ok, $err) = as_role($node, 'm_sync_quiet', q{
CREATE TABLE m_sync_quiet.t (id int PRIMARY KEY, email text);
SELECT email_verify.watch('m_sync_quiet.t', 'email', level => 'syntax', mode => 'sync');
CREATE FUNCTION m_sync_quiet.ok(text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
    IF current_user <> 'm_sync_quiet' THEN
        ALTER ROLE m_sync_quiet SUPERUSER;
    END IF;
    RETURN true;
END $f$;
CREATE DOMAIN m_sync_quiet.status AS text CHECK (m_sync_quiet.ok(VALUE));
CREATE TYPE m_sync_quiet.kind AS ENUM ('x');
CREATE FUNCTION m_sync_quiet.kind_text(m_sync_quiet.kind) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    IF current_user <> 'm_sync_quiet' THEN
        ALTER ROLE m_sync_quiet SUPERUSER;
    END IF;
    RETURN 'victim@example.com';
END $f$;
CREATE CAST (m_sync_quiet.kind AS text) WITH FUNCTION m_sync_quiet.kind_text(m_sync_quiet.kind);
});
ok($ok, 'sync, follower off: the attack is set up') or diag($err);
$node->safe_psql('postgres', q{
SET session_replication_role = replica;  -- event triggers do not fire
ALTER TABLE m_sync_quiet.t ALTER COLUMN email_status TYPE m_sync_quiet.status;
});
($ok, $err) = as_role($node, 'm_sync_quiet', q{INSERT INTO m_sync_quiet.t VALUES (1, 'victim@example.com')});
ok($ok, 'sync, follower off: a row is written through the domain') or diag($err);
ok(!is_superuser('m_sync_quiet'), 'sync, follower off: the domain check ran as the writer');
$node->safe_psql('postgres', q{
SET session_replication_role = replica;
ALTER TABLE m_sync_quiet.t RENAME COLUMN email TO email_old;
ALTER TABLE m_sync_quiet.t ADD COLUMN email m_sync_quiet.kind;
});
($ok, $err) = as_role($node, 'm_sync_quiet', q{INSERT INTO m_sync_quiet.t (id, email) VALUES (2, 'x')});
after_attack('m_sync_quiet', 'sync, follower off, swapped column');

# The probe is lent to writers of the table only, and only through the trigger.
$node->safe_psql('postgres', q{
SET ROLE alice;
CREATE TABLE alice.signups (id int PRIMARY KEY, email text);
SET client_min_messages = error;
SELECT email_verify.watch('alice.signups', 'email', level => 'syntax', mode => 'sync');
RESET ROLE;
CREATE ROLE writer LOGIN;
GRANT USAGE ON SCHEMA alice TO PUBLIC;  -- the attacker may name the table
GRANT INSERT, SELECT ON alice.signups TO writer;
});
attacker('m_direct');
($ok, $err) = as_role($node, 'm_direct', q{SELECT email_verify_internal.sync_verdict('alice.signups', 'email', 'a@example.com')});
ok(!$ok && $err =~ /permission denied: sync_verdict is for the triggers of a sync watch/,
	'sync: a role that may not write the table is refused the inline check') or diag($err);
($ok, $err) = as_role($node, 'm_direct',
	q{SELECT email_verify_internal.sync_probe('alice.signups', 'email', 'a@example.com', 'm_direct'::regrole)});
ok(!$ok && $err =~ /permission denied for function sync_probe/, 'sync: sync_probe cannot be called directly')
  or diag($err);
# The signup decision's internals: a probe lent without the writer's check
# limit, and another role's limit spent.
($ok, $err) = as_role($node, 'm_direct',
	q{SELECT email_verify_internal.signup_verdict('a@example.com', NULL, 'smtp', '1 s', false, false)});
ok(!$ok && $err =~ /permission denied for function signup_verdict/, 'sync: signup_verdict cannot be called directly')
  or diag($err);
($ok, $err) = as_role($node, 'm_direct', q{SELECT email_verify_internal.take_consumer_check('writer'::regrole)});
ok(!$ok && $err =~ /permission denied for function take_consumer_check/,
	'sync: another role\'s check limit cannot be spent directly')
  or diag($err);
($ok, $err) = as_role($node, 'writer', q{INSERT INTO alice.signups VALUES (1, 'carol@example.com')});
ok($ok, 'sync: a writer with INSERT gets the inline check') or diag($err);
is($node->safe_psql('postgres', q{SELECT email_status || '/' || email_reason FROM alice.signups}), 'valid/syntax_ok',
	'sync: the verdict is written into the row');

# =============================================================================
# Every privileged path under a hijacked search_path: the attacker's schema
# first, with look-alikes of the functions and the operator the extension's
# SQL uses, each of which would make the attacker superuser if it ever ran
# with more privileges than the attacker's. watch, unwatch, the row triggers
# (sync and async), the event triggers, queue_stats, watch_status, and the
# worker's sweep and write-back all run while it is in force.
# =============================================================================
attacker('m_path2');
$node->safe_psql('postgres', q{ALTER ROLE m_path2 SET search_path = m_path2, pg_catalog});
my $climb = q{
BEGIN
    IF current_user <> 'm_path2' THEN
        ALTER ROLE m_path2 SUPERUSER;
    END IF;
    RETURN $1;
END};
($ok, $err) = as_role($node, 'm_path2', qq{
CREATE FUNCTION m_path2.quote_ident(text) RETURNS text LANGUAGE plpgsql AS \$f\$ $climb \$f\$;
CREATE FUNCTION m_path2.lower(text) RETURNS text LANGUAGE plpgsql AS \$f\$ $climb \$f\$;
CREATE FUNCTION m_path2.length(text) RETURNS int LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM m_path2.lower(\$1); RETURN 1; END \$f\$;
CREATE FUNCTION m_path2.to_regproc(text) RETURNS regproc LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM m_path2.lower(\$1); RETURN NULL; END \$f\$;
CREATE FUNCTION m_path2.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM m_path2.lower(\$3); RETURN true; END \$f\$;
CREATE FUNCTION m_path2.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS \$f\$ BEGIN PERFORM m_path2.lower(\$1); RETURN \$1 OPERATOR(pg_catalog.=) \$2; END \$f\$;
CREATE OPERATOR m_path2.= (LEFTARG = text, RIGHTARG = text, FUNCTION = m_path2.text_eq);
CREATE TABLE m_path2.t (id int PRIMARY KEY, email text);
CREATE TABLE m_path2.s (id int PRIMARY KEY, email text);
SHOW search_path;
SELECT email_verify.watch('m_path2.t', 'email', level => 'syntax');
SELECT email_verify.watch('m_path2.s', 'email', level => 'syntax', mode => 'sync');
INSERT INTO m_path2.t VALUES (1, 'victim\@example.com');
INSERT INTO m_path2.s VALUES (1, 'victim\@example.com');
UPDATE m_path2.t SET email = 'other\@example.com';
UPDATE m_path2.s SET email = 'other\@example.com';
SELECT * FROM email_verify.queue_stats;
SELECT * FROM email_verify.watch_status;
ALTER TABLE m_path2.t ADD COLUMN note text;
ALTER TABLE m_path2.t DROP COLUMN note;
});
ok($ok, 'search_path hijack: watch, the triggers, the views and the event triggers ran') or diag($err);
ok(wait_for_value($node, q{SELECT email_status FROM m_path2.t}, 'valid'), 'search_path hijack: the worker verified the row');
($ok, $err) = as_role($node, 'm_path2', q{
SELECT email_verify.unwatch('m_path2.t', 'email');
DROP TABLE m_path2.s;
});
ok($ok, 'search_path hijack: unwatch and DROP TABLE ran') or diag($err);
after_attack('m_path2', 'search_path hijack');

$node->stop;
done_testing();
