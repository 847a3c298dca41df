# Big providers (README.md, "Big providers"): email_verify.providers as
# shipped, and the verdicts of the test world's replicas of each documented
# behaviour once rows of the user's own point at them -- Google-like
# (refuses unknown users), Yahoo-like (accepts everyone), Outlook.com-like
# (452 4.5.3 to a second recipient), Microsoft 365-like (one tenant with edge
# blocking, one without), and a tarpit -- each with the provider named in
# smtp_message. Then: an edit of a user row and of a shipped row takes
# effect in a running backend (and drops verdicts cached under the old
# rules), the background worker uses the rules too, pg_dump keeps the user's
# rows and edits and not the shipped ones, and an installation upgraded from
# 0.3.0 ships the same rows as a fresh one.
#
# The world must already run (root: testworld/world.sh start) with the
# replica_* behaviours of testworld/behaviours.txt.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EvScripted;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $dns = $ENV{EV_WORLD_DNS} // '127.0.53.1:53';
my $json = JSON::PP->new;

my $node = PostgreSQL::Test::Cluster->new('providers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'email_verify'
email_verify.database = 'postgres'
email_verify.dns_servers = '$dns'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.helo_name = 'tap021.example'
email_verify.worker_naptime = '60s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

sub sql_array
{
	return 'ARRAY[' . join(', ', map { my $s = $_; $s =~ s/'/''/g; "'$s'" } @_) . ']::text[]';
}

# verify_emails over @$addresses at level smtp in database $db after the
# statements in $setup; { email => { column => value } }.
sub verify
{
	my ($setup, $addresses, $db) = @_;
	my $out = $node->safe_psql($db // 'postgres',
		"$setup\nSELECT jsonb_agg(v) FROM verify_emails(" . sql_array(@$addresses) . ", 'smtp') v");
	my $rows = $json->decode((split /\n/, $out)[-1]);
	return { map { $_->{email} => $_ } @$rows };
}

sub sr
{
	my ($row) = @_;
	return 'no row' unless $row;
	return ($row->{status} // 'NULL') . '/' . ($row->{reason} // 'NULL');
}

sub b { my ($v) = @_; return defined $v ? ($v ? 't' : 'f') : 'NULL' }

sub stats_of
{
	my ($behaviour) = @_;
	my $line = control("STATS $behaviour");
	return $line ? $json->decode($line)->{$behaviour} : undef;
}

# ---- the world and its replicas must be there ---------------------------------

{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT (verify_email('alice\@google-replica.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS ($dns) does not answer for google-replica.test: got '$out' $err; "
		  . 'start it as root with testworld/world.sh start (restart it if it predates the replica_* behaviours)')
	  unless $ret == 0 && $out eq 'domain_ok';
	BAIL_OUT('the scripted SMTP server has no replica_yahoo behaviour (control port '
		  . ($ENV{EV_WORLD_CONTROL} // '127.0.2.1:8025') . '); restart the test world')
	  unless defined stats_of('replica_yahoo');
}

# ---- as shipped ---------------------------------------------------------------

is( $node->safe_psql('postgres',
		q{SELECT string_agg(name || ':' || behaviour, ' ' ORDER BY name) FROM email_verify.providers}),
	'Apple iCloud Mail:reveals_mailboxes Google:reveals_mailboxes Mail.ru:accepts_all '
	  . 'Microsoft 365:per_domain Microsoft Outlook.com:throttles_rcpt Proton Mail:undocumented '
	  . 'Yahoo/AOL:accepts_all Yandex:reveals_mailboxes Zoho Mail:reveals_mailboxes',
	'shipped: the documented providers and their behaviours');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM email_verify.providers
	WHERE origin = 'shipped' AND enabled AND length(notes) > 80 AND length(source) > 20}),
	'9', 'shipped: every row enabled, with notes and a source');
is( $node->safe_psql('postgres', q{
	SELECT string_agg(coalesce(email_verify.provider_for_mx(h), '-'), ' ' ORDER BY n)
	FROM unnest(ARRAY['alt1.gmail-smtp-in.l.google.com', 'contoso-com.mail.protection.outlook.com',
	                  'hotmail-com.olc.protection.outlook.com', 'mta6.am0.yahoodns.net', 'mx01.mail.icloud.com',
	                  'mailsec.protonmail.ch', 'mx.zoho.eu', 'mx.yandex.net', 'mxs.mail.ru', 'mx.google-replica.test'])
	     WITH ORDINALITY AS t(h, n)}),
	'Google Microsoft 365 Microsoft Outlook.com Yahoo/AOL Apple iCloud Mail Proton Mail Zoho Mail Yandex Mail.ru -',
	'shipped: real MX names find their provider; the world\'s replicas (under .test) match none');

# Before any row points at it, the Yahoo-like replica is judged as any
# server: its catch-all probe is accepted, so risky/catch_all, no provider.
{
	my $r = verify('SET email_verify.result_ttl = 0;', ['alice@yahoo-replica.test']);
	my $x = $r->{'alice@yahoo-replica.test'};
	is(sr($x), 'risky/catch_all', 'no provider row: the accept-all replica is caught by the catch-all probe');
	unlike($x->{smtp_message} // '', qr/provider:/, 'no provider row: no provider in smtp_message');
}

# ---- rows of the user's own for the replicas -------------------------------------

$node->safe_psql('postgres', q{
INSERT INTO email_verify.providers (name, mx_patterns, behaviour, notes, source) VALUES
  ('Replica Google', '{mx.google-replica.test}', 'reveals_mailboxes', 'test world', 'testworld/scripted_smtp.py'),
  ('Replica Yahoo', '{yahoo-replica.test}', 'accepts_all', 'test world', 'testworld/scripted_smtp.py'),
  ('Replica Outlook', '{MX.Outlook-Replica.TEST}', 'throttles_rcpt', 'test world', 'testworld/scripted_smtp.py'),
  ('Replica 365', '{mx.m365-dbeb.test,mx.m365-open.test}', 'per_domain', 'test world', 'testworld/scripted_smtp.py'),
  ('Replica tarpit', '{mx.tarpit.test}', 'tarpits', 'test world', 'testworld/scripted_smtp.py');
});
is( $node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT origin, ',') FROM email_verify.providers WHERE name LIKE 'Replica %'}),
	'user', 'rows added by the user are theirs');

my @batch = (
	'alice@google-replica.test',  'ghost@google-replica.test',  'gone@google-replica.test',
	'alice@yahoo-replica.test',   'ghost@yahoo-replica.test',   'alice@outlook-replica.test',
	'bob@outlook-replica.test',   'ghost@outlook-replica.test', 'alice@m365-dbeb.test',
	'ghost@m365-dbeb.test',       'anyone@m365-open.test',      'alice@tarpit.test');
my %before = map { $_ => stats_of($_) } qw(replica_yahoo replica_outlook tarpit);
my $t0 = time;
my $r = verify('SET email_verify.result_ttl = 0;', \@batch);
my $took = time - $t0;
my %after = map { $_ => stats_of($_) } qw(replica_yahoo replica_outlook tarpit);
is(scalar(keys %$r), scalar(@batch), 'one row per address');

# Google-like: refuses unknown users at RCPT; verdicts stand.
my $x = $r->{'alice@google-replica.test'};
is(sr($x), 'valid/accepted', 'reveals_mailboxes: a known user is valid/accepted');
is(b($x->{is_catch_all}), 'f', 'reveals_mailboxes: the catch-all probe was refused');
is($x->{smtp_message}, '2.1.5 OK replica - gsmtp (provider: Replica Google - refuses unknown recipients at RCPT)',
	'reveals_mailboxes: the provider follows the server\'s text in smtp_message');
$x = $r->{'ghost@google-replica.test'};
is(sr($x) . '/' . $x->{smtp_code}, 'invalid/mailbox_not_found/550', 'reveals_mailboxes: 550 5.1.1 is mailbox_not_found');
like($x->{smtp_message}, qr/^5\.1\.1 The email account that you tried to reach does not exist.*\(provider: Replica Google - /s,
	'reveals_mailboxes: the multi-line 550 and the provider in smtp_message');
is(sr($r->{'gone@google-replica.test'}), 'invalid/mailbox_disabled', 'reveals_mailboxes: 550 5.2.1 is mailbox_disabled');

# Yahoo-like: accepts anyone; acceptance is never a confident valid.
for my $email ('alice@yahoo-replica.test', 'ghost@yahoo-replica.test')
{
	$x = $r->{$email};
	is(sr($x) . '/' . b($x->{is_catch_all}) . '/' . $x->{smtp_code}, 'risky/catch_all/t/250',
		"accepts_all: $email is risky/catch_all with is_catch_all, whatever the 250 says");
	like($x->{smtp_message}, qr/^recipient <\Q$email\E> ok \(provider: Replica Yahoo - accepts every recipient at RCPT, so acceptance proves nothing\)$/,
		"accepts_all: $email names the provider and why");
}
is($after{replica_yahoo}{rcpt} - $before{replica_yahoo}{rcpt}, 2, 'accepts_all: no catch-all probe was spent (2 RCPTs for 2 addresses)');

# Outlook.com-like: one recipient per transaction; no 452 provoked, real verdicts.
is( join(' ', map { sr($r->{"$_\@outlook-replica.test"}) } qw(alice bob ghost)),
	'valid/accepted valid/accepted invalid/mailbox_not_found',
	'throttles_rcpt: three recipients, three real verdicts');
like($r->{'ghost@outlook-replica.test'}{smtp_message},
	qr/^5\.5\.0 Requested action not taken: mailbox unavailable.*\(provider: Replica Outlook - answers one recipient per transaction\)$/,
	'throttles_rcpt: the refusal and the provider in smtp_message');
{
	my ($b, $a) = ($before{replica_outlook}{commands}, $after{replica_outlook}{commands});
	my $rcpts = ($a->{RCPT} // 0) - ($b->{RCPT} // 0);
	my $mails = ($a->{MAIL} // 0) - ($b->{MAIL} // 0);
	is("$rcpts/$mails", '4/4', 'throttles_rcpt: 3 addresses and the catch-all probe, each RCPT in a transaction of its own (no 452)');
}

# Microsoft 365-like: acceptance counts where the tenant refused the probe.
$x = $r->{'alice@m365-dbeb.test'};
is(sr($x) . '/' . b($x->{is_catch_all}), 'valid/accepted/f', 'per_domain: a tenant with edge blocking: valid/accepted');
is(sr($r->{'ghost@m365-dbeb.test'}), 'invalid/mailbox_not_found', 'per_domain: 550 5.4.1 Access denied is mailbox_not_found');
$x = $r->{'anyone@m365-open.test'};
is(sr($x) . '/' . b($x->{is_catch_all}), 'risky/catch_all/t', 'per_domain: a tenant that accepts anyone: risky/catch_all');
like($x->{smtp_message}, qr/\(provider: Replica 365 - each hosted domain decides whether unknown recipients are refused\)$/,
	'per_domain: the provider in smtp_message');

# Tarpit: not probed at all.
$x = $r->{'alice@tarpit.test'};
is(sr($x) . '/' . $x->{level}, 'unknown/smtp_blocked/dns', 'tarpits: unknown/smtp_blocked, level dns (the mailbox was not probed)');
is($x->{smtp_code}, undef, 'tarpits: no SMTP code');
is($x->{smtp_message}, "(provider: Replica tarpit - holds probers' connections without answering; not probed)",
	'tarpits: smtp_message says why');
is($after{tarpit}{connections} - $before{tarpit}{connections}, 0, 'tarpits: no connection was made');
cmp_ok($took, '<', 10, sprintf('the batch took %.2f s (the tarpit held nothing up)', $took));

is(scalar(grep { ($_->{smtp_code} // 0) == 452 } values %$r), 0, 'no 452 in any verdict');
is(scalar(grep { ($_->{status} // '') eq 'valid' && ($_->{email} =~ /yahoo|open/) } values %$r), 0,
	'no accept-all answer became valid');

# ---- edits take effect in a running backend -----------------------------------

{
	# One session: a verdict is cached (result_ttl is on), the rows change,
	# and the next call sees the new rules, not the cached verdict.
	my $out = $node->safe_psql('postgres', q{
SELECT reason, from_cache, smtp_message FROM verify_email('alice@google-replica.test', 'smtp');
SELECT reason, from_cache, smtp_message FROM verify_email('alice@google-replica.test', 'smtp');
UPDATE email_verify.providers SET enabled = false WHERE name = 'Replica Google';
UPDATE email_verify.providers SET mx_patterns = mx_patterns || '{google-replica.test}'::text[] WHERE name = 'Google';
SELECT reason, from_cache, smtp_message FROM verify_email('alice@google-replica.test', 'smtp');
UPDATE email_verify.providers SET behaviour = 'tarpits' WHERE name = 'Replica Yahoo';
SELECT reason, level FROM verify_email('alice@yahoo-replica.test', 'smtp');
});
	my @lines = split /\n/, $out;
	is($lines[1], 'accepted|t|2.1.5 OK replica - gsmtp (provider: Replica Google - refuses unknown recipients at RCPT)',
		'edits: the verdict is cached');
	is($lines[2], 'accepted|f|2.1.5 OK replica - gsmtp (provider: Google - refuses unknown recipients at RCPT)',
		'edits: a disabled user row and a pattern added to a shipped row take effect at once, cached verdicts dropped');
	is($lines[3], 'smtp_blocked|dns', 'edits: a changed behaviour takes effect at once');
}
is( $node->safe_psql('postgres',
		q{SELECT string_agg(name || ':' || origin, ' ' ORDER BY name) FROM email_verify.providers WHERE origin <> 'shipped'}),
	'Google:edited Replica 365:user Replica Google:user Replica Outlook:user Replica Yahoo:user Replica tarpit:user',
	'edits: the shipped row changed is now the user\'s (edited)');

# ---- the background worker uses the rules too ---------------------------------

{
	my $started = time + 10;
	sleep 0.1
	  while $node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker'})
	  eq '0' && time < $started;
	$node->safe_psql('postgres', q{
CREATE TABLE contacts (id int PRIMARY KEY, email text);
INSERT INTO contacts VALUES (1, 'bob@tarpit.test'), (2, 'bob@yahoo-replica.test'), (3, 'ghost@outlook-replica.test');
SELECT email_verify.watch('contacts', 'email', level => 'smtp');
});
	my $deadline = time + 30;
	my $got = '';
	while (time < $deadline)
	{
		$got = $node->safe_psql('postgres',
			q{SELECT string_agg(id || ':' || coalesce(email_status, '-') || '/' || coalesce(email_reason, '-'), ' ' ORDER BY id) FROM contacts});
		last if $got !~ /-\/-/;
		sleep 0.2;
	}
	# Replica Yahoo is a tarpit now (edited above).
	is($got, '1:unknown/smtp_blocked 2:unknown/smtp_blocked 3:invalid/mailbox_not_found',
		'worker: verdicts follow the provider rules');
}

# ---- pg_dump keeps the user's rows and edits ------------------------------------

{
	my $dump = $node->basedir . '/providers.dump';
	$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump of the database');
	$node->safe_psql('postgres', 'CREATE DATABASE restored');
	$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore into a new database');
	my $query = q{SELECT string_agg(name || ':' || origin || ':' || enabled || ':' || behaviour || ':' || array_to_string(mx_patterns, ','), ' ' ORDER BY name) FROM email_verify.providers};
	is($node->safe_psql('restored', $query), $node->safe_psql('postgres', $query),
		'restored: the same rows (user rows, the edited shipped row, the shipped rows once each)');
	is($node->safe_psql('restored', q{SELECT count(*) FROM email_verify.providers}), '14', 'restored: 9 shipped + 5 user rows');
	my $rr = verify('SET email_verify.result_ttl = 0;', ['alice@m365-dbeb.test'], 'restored');
	like($rr->{'alice@m365-dbeb.test'}{smtp_message}, qr/\(provider: Replica 365 - /, 'restored: the rules work there');
}

# ---- fresh and upgraded installations ship the same rows ---------------------------

{
	$node->safe_psql('postgres', 'CREATE DATABASE fresh');
	$node->safe_psql('postgres', 'CREATE DATABASE upgraded');
	$node->safe_psql('fresh', 'CREATE EXTENSION email_verify');
	$node->safe_psql('upgraded', q{
SET client_min_messages = warning;
CREATE EXTENSION email_verify VERSION '0.3.0';
ALTER EXTENSION email_verify UPDATE;
});
	my $query = q{SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s', name, mx_patterns, behaviour, notes, source, enabled, origin), E'\n' ORDER BY name)) || ' ' || count(*) FROM email_verify.providers};
	my $fresh = $node->safe_psql('fresh', $query);
	is($node->safe_psql('upgraded', $query), $fresh, "upgraded from 0.3.0: the same shipped rows ($fresh)");
}

$node->stop;
done_testing();
