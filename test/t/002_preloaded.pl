# Loaded through shared_preload_libraries: settings from postgresql.conf
# apply, an unknown email_verify.* setting is refused, and parallel workers
# compute the same verdicts as the leader.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('preloaded');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'email_verify'
email_verify.default_level = 'syntax'
email_verify.allow_quoted_local = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

is($node->safe_psql('postgres', q{SELECT (verify_email('"a b"@example.com')).status}),
    'valid', 'settings from postgresql.conf');

my ($ret, $out, $err) = $node->psql('postgres', q{SET email_verify.nonsense = 1});
isnt($ret, 0, 'unknown setting under the reserved prefix is refused');
like($err, qr/email_verify/, 'error names the prefix');

$node->safe_psql('postgres', q{
CREATE TABLE t AS SELECT 'user' || g || '@example' || (g % 100) || '.com' AS e FROM generate_series(1, 200000) g;
INSERT INTO t SELECT 'bad..' || g || '@example.com' FROM generate_series(1, 1000) g;
ANALYZE t;
});
my $serial = $node->safe_psql('postgres', q{
SET max_parallel_workers_per_gather = 0;
SELECT count(*) FROM t WHERE (verify_email(e, 'syntax')).status = 'valid'});
my $parallel = $node->safe_psql('postgres', q{
SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT count(*) FROM t WHERE (verify_email(e, 'syntax')).status = 'valid'});
is($serial, '200000', 'serial count');
is($parallel, $serial, 'parallel workers agree');

$node->stop;
done_testing();
