# User list entries: seen by other sessions without a reconnect, kept across
# pg_dump/restore, and the extension works without shared_preload_libraries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lists');
$node->init;
$node->start;    # no shared_preload_libraries: the functions must still work
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

# A second session warms its cache first, then must notice the change.
my $other = $node->background_psql('postgres');
is($other->query_safe("SELECT (verify_email('a\@trash.example', 'syntax')).reason"),
    'syntax_ok', 'other session before the change');
$node->safe_psql('postgres',
    "INSERT INTO email_verify.list_entries (list, entry) VALUES ('disposable', 'trash.example'), ('role', 'ceo')");
is($other->query_safe("SELECT (verify_email('a\@trash.example', 'syntax')).reason"),
    'disposable', 'other session sees the committed addition');
$node->safe_psql('postgres', "DELETE FROM email_verify.list_entries WHERE entry = 'trash.example'");
is($other->query_safe("SELECT (verify_email('a\@trash.example', 'syntax')).reason"),
    'syntax_ok', 'other session sees the deletion');
$other->quit;

# pg_dump keeps the user's rows; restore into a fresh database.
$node->safe_psql('postgres',
    "INSERT INTO email_verify.list_entries (list, entry, listed, note) VALUES ('disposable', 'mailinator.com', false, 'our own domain')");
my $dump = $node->basedir . '/lists.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is( $node->safe_psql('restored', 'SELECT list, entry, listed, note FROM email_verify.list_entries ORDER BY 1, 2'),
    "disposable|mailinator.com|f|our own domain\nrole|ceo|t|",
    'entries restored');
is( $node->safe_psql('restored',
        "SELECT (verify_email('x\@mailinator.com', 'syntax')).reason || ',' || (verify_email('ceo\@example.com', 'syntax')).reason"),
    'syntax_ok,role_account',
    'restored entries take effect');

# DROP EXTENSION leaves nothing behind, CREATE again works.
$node->safe_psql('restored', 'DROP EXTENSION email_verify');
is($node->safe_psql('restored', "SELECT count(*) FROM pg_proc WHERE proname = 'verify_email'"), '0', 'dropped cleanly');
$node->safe_psql('restored', 'CREATE EXTENSION email_verify');
is($node->safe_psql('restored', "SELECT (verify_email('a\@b.example', 'syntax')).status"), 'valid', 'recreated');

# A database in another encoding: text is converted to UTF-8 for the core and back.
$node->safe_psql('postgres',
    "CREATE DATABASE latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
$node->safe_psql('latin1', 'CREATE EXTENSION email_verify');
# Perl strings hold the UTF-8 bytes of "José@Bücher.example".
is( $node->safe_psql('latin1',
        "SET client_encoding = 'UTF8'; "
          . "SELECT (v).normalized || ' ' || (v).status FROM verify_email('Jos\xc3\xa9\@B\xc3\xbccher.example', 'syntax') v"),
    "Jos\xc3\xa9\@xn--bcher-kva.example valid",
    'LATIN1 database: converted in and out');

$node->stop;
done_testing();
