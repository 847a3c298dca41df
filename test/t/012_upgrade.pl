# A fresh install and an installation upgraded from any older release have the
# same schema. The fresh one runs the install script make builds from
# extension/src/*.sql; the others run CREATE EXTENSION ... VERSION of each
# older release (0.1.0 is the base script, later ones its upgrade chain), then
# ALTER EXTENSION ... UPDATE through every upgrade script. Each database is
# dumped with pg_dump --binary-upgrade, which, unlike a plain dump, writes out
# every object of the extension (functions, tables, constraints, triggers,
# event triggers, types, views, comments, and the privileges recorded at
# install); OIDs, transaction ids and LSNs are taken out and the dumps must be
# equal, or the test fails with their diff. Last, a database with a watch made
# under 0.3.0 is upgraded and the watch goes on working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'email_verify'});
my @older = split /\n/, $node->safe_psql('postgres', qq{
	SELECT version FROM pg_available_extension_versions
	WHERE name = 'email_verify' AND version <> '$default'
	ORDER BY string_to_array(version, '.')::int[]});
ok(scalar(grep { $_ eq '0.1.0' } @older), "older releases to upgrade from: @older");

# The schema of database $db as pg_dump sees it, without what differs between
# any two databases of a cluster (OIDs, transaction ids, LSNs).
sub schema_of {
	my ($db) = @_;
	my ($dump, $stderr) = run_command(['pg_dump', '--binary-upgrade', '--schema-only', '-d', $node->connstr($db)]);
	die "pg_dump of $db failed: $stderr" if $stderr ne '';
	my @kept;
	for (split /\n/, $dump) {
		next if /^\\(un)?restrict /;
		next if /^SELECT pg_catalog\.binary_upgrade_set_next_/ || /^-- For binary upgrade, must preserve/;
		s/'\{[0-9,]*\}'/'{config tables}'/ if /binary_upgrade_create_empty_extension/;
		s/'\d+'/'N'/g if /relfrozenxid|^WHERE oid = /;
		push @kept, $_;
	}
	# The configuration tables, by name (the dump gives their OIDs).
	push @kept, '-- extension: ' . $node->safe_psql($db, q{
		SELECT extversion || ' ' || extconfig::regclass[]::text || ' ' || extcondition::text
		FROM pg_extension WHERE extname = 'email_verify'});
	return join("\n", @kept) . "\n";
}

# diff -u of two schemas, or '' when they are the same.
sub schema_diff {
	my ($a_name, $a, $b_name, $b) = @_;
	return '' if $a eq $b;
	my $dir = $node->basedir;
	for ([$a_name, $a], [$b_name, $b]) {
		open(my $fh, '>', "$dir/$_->[0].sql") or die "cannot write $dir/$_->[0].sql: $!";
		print $fh $_->[1];
		close($fh);
	}
	my ($diff) = run_command(['diff', '-u', "$dir/$a_name.sql", "$dir/$b_name.sql"]);
	return $diff;
}

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION email_verify');
my $fresh = schema_of('fresh');
like($fresh, qr/CREATE FUNCTION email_verify\.watch\(/, 'the dump shows the members of the extension');

for my $from (@older) {
	(my $db = "from_$from") =~ tr/./_/;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
		SET client_min_messages = warning;
		CREATE EXTENSION email_verify VERSION '$from';
		ALTER EXTENSION email_verify UPDATE;
	});
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'email_verify'}),
		$default, "$from updates to $default");
	my $diff = schema_diff('fresh', $fresh, $db, schema_of($db));
	ok($diff eq '', "installed fresh and upgraded from $from: the same schema")
	  or diag("fresh install (-) against the one upgraded from $from (+):\n$diff");
}

# Upgraded with a watch in place: the watch, its table's triggers and its
# waiting rows carry over, and the watch is served and ended as usual.
$node->safe_psql('postgres', 'CREATE DATABASE with_watch');
$node->safe_psql('with_watch', q{
	SET client_min_messages = error;
	CREATE EXTENSION email_verify VERSION '0.3.0';
	CREATE TABLE contacts (id int PRIMARY KEY, email text);
	SELECT email_verify.watch('contacts', 'email', level => 'syntax');
	INSERT INTO contacts VALUES (1, 'a@example.com'), (2, 'b@example.com');
	ALTER EXTENSION email_verify UPDATE;
});
is($node->safe_psql('with_watch', q{SELECT table_name || ' ' || column_name || ' ' || level
	|| ' ' || coalesce(suspended_reason, 'active') FROM email_verify.watch_status}),
	'contacts email syntax active', 'the watch made under 0.3.0 is there, active');
is($node->safe_psql('with_watch', q{SELECT state || ' ' || items FROM email_verify.queue_stats}),
	'new 2', 'its two rows wait for the worker');
is($node->safe_psql('with_watch', q{
	SELECT count(*) FROM email_verify_internal.claim_batch(1, 10);
	}), '2', 'the worker claims them');
$node->safe_psql('with_watch', q{SELECT email_verify.unwatch('contacts', 'email')});
is($node->safe_psql('with_watch', q{
	SELECT (SELECT count(*) FROM email_verify.queue) + (SELECT count(*) FROM pg_trigger
	        WHERE tgrelid = 'contacts'::regclass AND NOT tgisinternal)}), '0',
	'unwatch removes its items and triggers');

$node->stop;
done_testing();
