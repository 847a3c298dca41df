# pg_dump and pg_restore -j of a database with watches and open queue items:
# the watches, the items and the watched tables' triggers all come back, and
# the restored watch goes on working. (The queue had a foreign key to the
# watches, which failed the queue's COPY whenever pg_restore -j loaded it
# first: the open items were lost.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE DATABASE source;
CREATE DATABASE target;
});
$node->safe_psql('source', q{
SET client_min_messages = error;
CREATE EXTENSION email_verify;
CREATE TABLE contacts (id int PRIMARY KEY, email text, email_status text, email_reason text,
                       email_catch_all boolean, email_verified_at timestamptz);
INSERT INTO contacts SELECT g, 'user' || g || '@example.com', 'valid', 'syntax_ok', NULL, now()
FROM generate_series(1, 200) g;
-- A new level queues every verified row again: 200 open items (no worker runs).
SELECT email_verify.watch('contacts', 'email', level => 'syntax');
SELECT email_verify.watch('contacts', 'email', level => 'dns');
});
is($node->safe_psql('source', q{SELECT count(*) FROM email_verify.queue}), '200', 'the source has 200 open items');

my $dir = $node->basedir . '/dump';
$node->command_ok(['pg_dump', '-Fd', '-f', $dir, '-d', $node->connstr('source')], 'pg_dump -Fd');
$node->command_ok(['pg_restore', '-j', '4', '-d', $node->connstr('target'), $dir], 'pg_restore -j 4 succeeds');
is($node->safe_psql('target', q{SELECT count(*) FROM email_verify.queue}), '200', 'the open items are restored');
is($node->safe_psql('target', q{SELECT relid::text || ' ' || column_name || ' ' || level FROM email_verify.watches}),
	'contacts email dns', 'the watch is restored');
is($node->safe_psql('target', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'contacts'::regclass AND NOT tgisinternal}),
	'3', "the watched table's triggers are restored");
is($node->safe_psql('target', q{
	UPDATE contacts SET email = 'new@example.com' WHERE id = 1;
	SELECT count(*) FROM contacts WHERE email_status IS NULL}), '1', 'the restored watch works: a new address clears the verdict');
$node->safe_psql('target', q{SELECT email_verify.unwatch('contacts', 'email')});
is($node->safe_psql('target', q{SELECT count(*) FROM email_verify.queue}), '0', 'unwatch removes the items');

$node->stop;
done_testing();
