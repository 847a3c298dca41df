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
	# The configuration tables, by name (the dump gives their OIDs), in name
	# order: an upgrade that replaces a table registers it last, and the
	# order means nothing to pg_dump.
	push @kept, '-- extension: ' . $node->safe_psql($db, q{
		SELECT e.extversion || ' ' || string_agg(c.t::regclass::text || '=' || c.w, ' ' ORDER BY c.t::regclass::text)
		FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS c(t, w)
		WHERE e.extname = 'email_verify' GROUP BY e.extversion});
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

# Upgraded with bulk jobs in place (0.6.0 kept a row per input and per
# address; 0.7.0 keeps chunks): a finished job's results read the same,
# row for row, and a running job's addresses without a verdict wait as
# retries with the attempts they had. The rows are written as 0.6.0's
# functions wrote them (its submit_job is the module's, which now speaks
# 0.7.0's tables).
$node->safe_psql('postgres', 'CREATE DATABASE with_jobs');
$node->safe_psql('with_jobs', q{
	SET client_min_messages = error;
	CREATE EXTENSION email_verify VERSION '0.6.0';
	INSERT INTO email_verify_internal.jobs (id, owner, state, level, total, unique_addresses, processed,
	                                        started_at, finished_at, claimed_through)
	SELECT 1, r.oid, 'completed', 'syntax', 4, 3, 4, now(), now(), 4 FROM pg_roles r WHERE r.rolname = current_user
	UNION ALL
	SELECT 2, r.oid, 'running', 'syntax', 3, 3, 1, now(), NULL, 3 FROM pg_roles r WHERE r.rolname = current_user;
	INSERT INTO email_verify_internal.job_inputs (job_id, ordinal, email, address_key) VALUES
		(1, 1, 'ann@example.com', 'ann@example.com'), (1, 2, 'not an address', 'not an address'),
		(1, 3, ' ann@EXAMPLE.com', 'ann@example.com'), (1, 4, 'info@example.com', 'info@example.com'),
		(2, 1, 'x@example.com', 'x@example.com'), (2, 2, 'y@example.com', 'y@example.com'),
		(2, 3, 'z@example.com', 'z@example.com');
	INSERT INTO email_verify_internal.job_addresses (job_id, address_key, position, copies, state, attempts, result)
	VALUES (1, 'ann@example.com', 1, 2, 'done', 0, email_verify.verify_email('ann@example.com', 'syntax')),
	       (1, 'not an address', 2, 1, 'done', 0, email_verify.verify_email('not an address', 'syntax')),
	       (1, 'info@example.com', 4, 1, 'done', 1, email_verify.verify_email('info@example.com', 'syntax')),
	       (2, 'x@example.com', 1, 1, 'done', 0, email_verify.verify_email('x@example.com', 'syntax')),
	       (2, 'y@example.com', 2, 1, 'retrying', 2, NULL),
	       (2, 'z@example.com', 3, 1, 'new', 0, NULL);
	INSERT INTO email_verify_internal.job_retries (job_id, address_key, not_before)
	VALUES (2, 'y@example.com', now() + interval '1 minute');
	INSERT INTO email_verify_internal.job_claims (job_id, worker_id, first_position, last_position, lease_until)
	VALUES (2, 1, 1, 3, now() + interval '5 minutes');
});
my $results_sql = q{SELECT string_agg(concat_ws(' ', email, normalized, status, reason, is_role, score), '|')
	FROM email_verify.job_results(%d)};
my $before = $node->safe_psql('with_jobs', sprintf($results_sql, 1));
like($before, qr/^ann\@example.com ann\@example.com valid syntax_ok f 50\|not an address invalid syntax 0\| ann/,
	'0.6.0 reads its finished job');
my $running_before = $node->safe_psql('with_jobs', sprintf($results_sql, 2));
$node->safe_psql('with_jobs', 'ALTER EXTENSION email_verify UPDATE');
is($node->safe_psql('with_jobs', sprintf($results_sql, 1)), $before,
	'the finished job reads the same after the upgrade, row for row');
is($node->safe_psql('with_jobs', sprintf($results_sql, 2)), $running_before,
	'so does the running job, its addresses without a verdict still without one');
is($node->safe_psql('with_jobs', q{
	SELECT string_agg(address || ':' || attempts || ':' || (claimed_by IS NULL), ' ' ORDER BY address)
	FROM email_verify_internal.job_retries WHERE job_id = 2}), '1:2:true 2:0:true',
	'its addresses without a verdict wait as retries, with the attempts they had');
is($node->safe_psql('with_jobs', q{
	SELECT (SELECT count(*) FROM email_verify_internal.job_claims) || ' '
	    || (SELECT claimed_through FROM email_verify_internal.jobs WHERE id = 2) || ' '
	    || (SELECT string_agg(chunk || ':' || done || ':' || array_to_string(copies, ','), ' ')
	        FROM email_verify_internal.job_address_chunks WHERE job_id = 1)}),
	'0 3 0:3:2,1,1', 'its claims are gone, its addresses count as claimed; the copies carried over');

$node->stop;
done_testing();
