# The workers log in as email_verify_worker, a role with no more privilege
# than they need, and an ordinary role cannot borrow it:
#   - before CREATE EXTENSION the launcher waits quietly (no worker, no FATAL
#     in the log); after it, the workers run as email_verify_worker, no
#     superuser, and the launcher opens no database;
#   - no client logs in as the role (the cluster trusts every local login);
#     no ordinary role can grant it to itself or SET ROLE to it;
#   - the role reads a table only while it is watched, and none of the
#     catalogs' secrets;
#   - a row security policy of the owner, which would be the owner's code run
#     with the worker's identity, never runs as the worker: the rows are still
#     verified, and the policy's function sees only its owner;
#   - CREATE EXTENSION in another database resets what was done to the role.
# Needs no test world: every watch is at level syntax.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use EvAttack;

my $node = PostgreSQL::Test::Cluster->new('worker_role');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.worker_naptime = '1s'
});
$node->start;

my $workers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker'};

# =============================================================================
# Before CREATE EXTENSION: the launcher alone, quietly.
# =============================================================================
ok(wait_for_value($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify launcher'}, '1', 10),
	'the launcher runs');
is($node->safe_psql('postgres', q{SELECT coalesce(datname, '(none)') FROM pg_stat_activity
	WHERE backend_type = 'email_verify launcher'}), '(none)', 'the launcher opens no database');
sleep 3;
is($node->safe_psql('postgres', $workers), '0', 'no worker before the role exists');
unlike(slurp_file($node->logfile), qr/FATAL/, 'and no FATAL in the log while the launcher waits');

# =============================================================================
# After CREATE EXTENSION: the workers run as the role.
# =============================================================================
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');
ok(wait_for_value($node, $workers, '1', 5), 'a worker starts within seconds of CREATE EXTENSION');
is($node->safe_psql('postgres', q{SELECT a.usename || ' ' || r.rolsuper || ' ' || r.rolbypassrls
	FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid WHERE a.backend_type = 'email_verify worker'}),
	'email_verify_worker false true', 'the worker runs as email_verify_worker: no superuser, bypasses row security');
is($node->safe_psql('postgres', q{SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'email_verify_worker'}),
	't', 'the role has no password');

# =============================================================================
# No one else gets the role.
# =============================================================================
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT 1', extra_params => ['-U', 'email_verify_worker']);
isnt($rc, 0, 'a client cannot log in as email_verify_worker, even where every login is trusted');
like($err, qr/role "email_verify_worker" is reserved for email_verify's background workers/, 'and is told why');

$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
});
my ($ok, $stderr) = as_role($node, 'mallory', 'GRANT email_verify_worker TO mallory');
ok(!$ok, 'an ordinary role cannot grant itself the workers\' role');
($ok, $stderr) = as_role($node, 'mallory', 'SET ROLE email_verify_worker');
ok(!$ok, 'nor SET ROLE to it');
like($stderr, qr/permission denied to set role/, 'permission denied');

# =============================================================================
# It reads a table only while the table is watched.
# =============================================================================
($ok, $stderr) = as_role($node, 'alice', q{
CREATE TABLE alice.contacts (id int PRIMARY KEY, email text);
CREATE TABLE alice.private (id int PRIMARY KEY, secret text);
});
ok($ok, 'alice has her tables') or diag($stderr);
my $reads = q{SELECT has_table_privilege('email_verify_worker', 'alice.contacts', 'SELECT') || ' '
	|| has_table_privilege('email_verify_worker', 'alice.private', 'SELECT') || ' '
	|| has_table_privilege('email_verify_worker', 'pg_catalog.pg_authid', 'SELECT') || ' '
	|| has_table_privilege('email_verify_worker', 'alice.contacts', 'INSERT, UPDATE, DELETE, TRUNCATE') || ' '
	|| has_schema_privilege('email_verify_worker', 'alice', 'USAGE')};
is($node->safe_psql('postgres', $reads), 'false false false false false', 'unwatched: the role reads none of them');
($ok, $stderr) = as_role($node, 'alice', q{SELECT email_verify.watch('alice.contacts', 'email', level => 'syntax')});
ok($ok, 'alice watches her contacts') or diag($stderr);
is($node->safe_psql('postgres', $reads), 'true false false false true',
	'watched: the role reads the watched table and its schema\'s names, and writes nothing');
bystander_verified($node, 'as email_verify_worker');
($ok, $stderr) = as_role($node, 'alice', q{SELECT email_verify.unwatch('alice.contacts', 'email')});
ok($ok, 'alice stops watching') or diag($stderr);
is($node->safe_psql('postgres', $reads), 'false false false false false', 'unwatched again: the grants are gone');
($ok, $stderr) = as_role($node, 'alice', q{SELECT email_verify.watch('alice.contacts', 'email', level => 'syntax')});
ok($ok, 'alice watches her contacts again') or diag($stderr);

# =============================================================================
# A row security policy is the owner's code: it must never run as the worker.
# =============================================================================
($ok, $stderr) = as_role($node, 'mallory', q{
CREATE TABLE mallory.seen (who name, is_super boolean);
CREATE FUNCTION mallory.spy() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
    INSERT INTO mallory.seen SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
    RETURN true;
END $f$;
CREATE TABLE mallory.t (id int PRIMARY KEY, email text);
ALTER TABLE mallory.t ENABLE ROW LEVEL SECURITY;
ALTER TABLE mallory.t FORCE ROW LEVEL SECURITY;
CREATE POLICY everything ON mallory.t USING (mallory.spy()) WITH CHECK (mallory.spy());
SELECT email_verify.watch('mallory.t', 'email', level => 'syntax');
INSERT INTO mallory.t VALUES (1, 'a@example.com'), (2, 'not an address');
});
ok($ok, 'mallory watches a table whose policy records who evaluates it') or diag($stderr);
ok(wait_for_value($node, q{SELECT string_agg(email_status, ',' ORDER BY id) FROM mallory.t}, 'valid,invalid', 10),
	'the rows of a table under forced row security are verified');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT who || '/' || is_super, ',') FROM mallory.seen}),
	'mallory/false', 'its policy ran as its owner only, never as the worker or a superuser');

# =============================================================================
# The owner takes the grant back: that table waits, the others go on; moved
# to another schema, the table stays readable.
# =============================================================================
$node->safe_psql('postgres', 'GRANT CREATE ON DATABASE postgres TO mallory');
($ok, $stderr) = as_role($node, 'mallory', q{
REVOKE SELECT ON mallory.t FROM email_verify_worker;
INSERT INTO mallory.t VALUES (3, 'c@example.com');
});
ok($ok, 'mallory revokes the worker\'s SELECT and inserts a row') or diag($stderr);
bystander_verified($node, 'a table the worker may no longer read');
is($node->safe_psql('postgres', 'SELECT email_status IS NULL FROM mallory.t WHERE id = 3'), 't',
	'the unreadable table\'s row waits');
($ok, $stderr) = as_role($node, 'mallory', q{SELECT email_verify.watch('mallory.t', 'email', level => 'syntax')});
ok($ok, 'watch() again') or diag($stderr);
ok(wait_for_value($node, 'SELECT email_status FROM mallory.t WHERE id = 3', 'valid', 10), 'gives the grant back: the row is verified');
($ok, $stderr) = as_role($node, 'mallory', q{
CREATE SCHEMA moved;
ALTER TABLE mallory.t SET SCHEMA moved;
INSERT INTO moved.t VALUES (4, 'd@example.com');
});
ok($ok, 'mallory moves the table to another schema') or diag($stderr);
ok(wait_for_value($node, 'SELECT email_status FROM moved.t WHERE id = 4', 'valid', 10),
	'the moved table\'s new row is verified');

# Names that need quoting: the grants are made on the right objects.
($ok, $stderr) = as_role($node, 'mallory', q{
CREATE SCHEMA "we""ird; schema";
CREATE TABLE "we""ird; schema"."t; DROP TABLE x" (id int PRIMARY KEY, email text);
SELECT email_verify.watch('"we""ird; schema"."t; DROP TABLE x"', 'email', level => 'syntax');
INSERT INTO "we""ird; schema"."t; DROP TABLE x" VALUES (1, 'e@example.com');
});
ok($ok, 'a table and a schema whose names need quoting are watched') or diag($stderr);
ok(wait_for_value($node, q{SELECT email_status FROM "we""ird; schema"."t; DROP TABLE x"}, 'valid', 10),
	'and their row is verified');

# =============================================================================
# Another database's CREATE EXTENSION finds the role and resets it.
# =============================================================================
$node->safe_psql('postgres', q{ALTER ROLE email_verify_worker CREATEDB PASSWORD 'known'});
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION email_verify');
is($node->safe_psql('postgres', q{SELECT rolcreatedb || ' ' || (rolpassword IS NULL) FROM pg_authid
	WHERE rolname = 'email_verify_worker'}), 'false true', 'CREATE EXTENSION resets the role\'s attributes');
bystander_verified($node, 'after a second CREATE EXTENSION');

$node->stop;
done_testing();
