# Level 'smtp' against the local test world (testworld/world.sh): every
# reason of README.md's table that an SMTP probe can reach, each from the
# server that really produces it (Postfix for real mailboxes, the scripted
# server for the odd ones), with the columns that come with it (level,
# smtp_code, smtp_message, mx_host, score, is_catch_all, from_cache).
# Also: the precedence between reasons, fall-through to a second MX, the
# HELO fallback, STARTTLS with a certificate that cannot be verified,
# multi-line replies, "452 4.5.3 too many recipients", a 421 in the middle
# of a session, greylisting that clears after its delay, the result cache,
# and that a probe never sends DATA.
#
# The world must already run (root: testworld/world.sh start); the test
# bails out when its DNS (127.0.53.1:53) or the scripted server's control
# port (127.0.2.1:8025) does not answer.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use EvScripted;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('smtp_reasons');
$node->init;
$node->append_conf('postgresql.conf', q{
email_verify.dns_servers = '127.0.53.1:53'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.helo_name = 'tap004.example'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

my $json = JSON::PP->new;

sub sql_array
{
	return 'ARRAY[' . join(', ', map { my $s = $_; $s =~ s/'/''/g; "'$s'" } @_) . ']::text[]';
}

# verify_emails over @$addresses in one session after the statements in
# $setup; returns { email => { column => value } } (values as JSON gives
# them: undef for NULL, JSON booleans for bool).
sub verify
{
	my ($setup, $addresses, $level) = @_;
	my $out = $node->safe_psql('postgres',
		"$setup\nSELECT jsonb_agg(v) FROM verify_emails(" . sql_array(@$addresses) . ", '$level') v");
	my $rows = $json->decode((split /\n/, $out)[-1]);
	return { map { $_->{email} => $_ } @$rows };
}

# "status/reason" of one row, or a note that the row is missing.
sub sr
{
	my ($row) = @_;
	return 'no row' unless $row;
	return ($row->{status} // 'NULL') . '/' . ($row->{reason} // 'NULL');
}

sub b { my ($v) = @_; return defined $v ? ($v ? 't' : 'f') : 'NULL' }

sub stats
{
	my $line = control('STATS');
	return $line ? $json->decode($line) : undef;
}

# ---- the world must be there ------------------------------------------

{
	my ($ret, $out, $err) = $node->psql('postgres', "SELECT (verify_email('alice\@strict.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS (127.0.53.1:53) does not answer: got '$out' $err; "
		  . "start it as root with testworld/world.sh start")
	  unless $ret == 0 && $out eq 'domain_ok';
	BAIL_OUT('the scripted SMTP server (control port 127.0.2.1:8025) does not answer; '
		  . 'start the world as root with testworld/world.sh start')
	  unless defined stats();
}
control('RESET');

# ---- one batch: most reasons at once ------------------------------------

my $udom = "b\xc3\xbccher.test";
my @batch = (
	'alice@strict.test',      'nosuchuser@strict.test', 'info@strict.test',
	'gone@disabled.test',     'inactive@disabled.test', 'alice@disabled.test',
	'full@full.test',         'quota@full.test',        'anyone@catchall.test',
	'alice@acceptall.test',   'alice@tempfail.test',    'alice@banner421.test',
	'alice@dropehlo.test',    'alice@drop-rcpt.test',   'alice@banner554.test',
	'alice@blocklisted.test', 'user@[127.0.3.1]',
	'alice@backupmx.test',    'alice@twomx.test',       'alice@noehlo.test',
	'alice@tlsrequired.test', 'alice@tlsoffered.test',  'alice@multiline.test',
	'nobody@multiline.test',  'alice@nopipelining.test', 'alice@v6.test',
	"alice\@$udom",           'alice@afallback.test',   'alice@nosuch.test',
	'x..y@strict.test');
my $t0 = time;
my $r = verify(q{SET email_verify.allow_domain_literal = on;}, \@batch, 'smtp');
my $batch_time = time - $t0;
note sprintf('batch of %d addresses took %.2f s', scalar @batch, $batch_time);
is(scalar(keys %$r), scalar(@batch), 'one row per address');

# accepted
my $x = $r->{'alice@strict.test'};
is(sr($x), 'valid/accepted', 'Postfix mailbox: valid/accepted');
is($x->{level}, 'smtp', 'accepted: level smtp');
is($x->{smtp_code}, 250, 'accepted: smtp_code 250');
like($x->{smtp_message} // '', qr/^2\.1\.5\b/, 'accepted: smtp_message carries the enhanced code');
is($x->{mx_host}, 'mx.strict.test', 'accepted: mx_host');
is(b($x->{mx_found}), 't', 'accepted: mx_found');
is(b($x->{is_catch_all}), 'f', 'accepted: the domain was probed and is not catch-all');
ok(defined $x->{score} && $x->{score} >= 70 && $x->{score} <= 100, "accepted: high score ($x->{score})");
ok(defined $x->{checked_at} && defined $x->{duration_ms} && $x->{duration_ms} >= 0,
	'accepted: checked_at and duration_ms filled');
is(b($x->{from_cache}), 'f', 'first probe: not from the cache');

# mailbox_not_found
$x = $r->{'nosuchuser@strict.test'};
is(sr($x), 'invalid/mailbox_not_found', 'unknown user at Postfix: invalid/mailbox_not_found');
is($x->{smtp_code}, 550, 'mailbox_not_found: smtp_code 550');
like($x->{smtp_message} // '', qr/5\.1\.1/, 'mailbox_not_found: smtp_message contains 5.1.1');
like($x->{smtp_message} // '', qr/User unknown/, 'mailbox_not_found: smtp_message has the server text');
unlike($x->{smtp_message} // '', qr/^550|[\r\n]/, 'smtp_message: no reply code, no line ends');
ok(defined $x->{score} && $x->{score} < $r->{'alice@strict.test'}{score}, 'mailbox_not_found: lower score than accepted');

# role_account
$x = $r->{'info@strict.test'};
is(sr($x), 'risky/role_account', 'info@ accepted by Postfix: risky/role_account');
is(b($x->{is_role}), 't', 'role_account: is_role');
is($x->{smtp_code}, 250, 'role_account: the RCPT itself was accepted');

# mailbox_disabled
$x = $r->{'gone@disabled.test'};
is(sr($x), 'invalid/mailbox_disabled', '550 5.2.1 disabled: invalid/mailbox_disabled');
is($x->{smtp_code}, 550, 'mailbox_disabled: code 550');
is(sr($r->{'inactive@disabled.test'}), 'invalid/mailbox_disabled',
	'550 "mailbox inactive" without enhanced code: mailbox_disabled');
is(sr($r->{'alice@disabled.test'}), 'valid/accepted', 'same server, a live mailbox: accepted');

# mailbox_full
$x = $r->{'full@full.test'};
is(sr($x), 'risky/mailbox_full', '552 5.2.2: risky/mailbox_full');
is($x->{smtp_code}, 552, 'mailbox_full: code 552');
$x = $r->{'quota@full.test'};
is(sr($x), 'risky/mailbox_full', '452 4.2.2 out of storage: risky/mailbox_full');
is($x->{smtp_code}, 452, 'mailbox_full (4xx): code 452');

# catch_all
$x = $r->{'anyone@catchall.test'};
is(sr($x), 'risky/catch_all', 'Postfix catch-all domain: risky/catch_all');
is(b($x->{is_catch_all}), 't', 'catch_all: is_catch_all true');
is($x->{smtp_code}, 250, 'catch_all: the RCPT was accepted');
is(sr($r->{'alice@acceptall.test'}), 'risky/catch_all', 'scripted catch-all: risky/catch_all');

# temporary_failure
$x = $r->{'alice@tempfail.test'};
is(sr($x), 'unknown/temporary_failure', '451 at RCPT: unknown/temporary_failure');
is($x->{smtp_code}, 451, 'temporary_failure: code 451');
$x = $r->{'alice@banner421.test'};
is(sr($x), 'unknown/temporary_failure', '421 banner, only one MX: temporary_failure');
is($x->{smtp_code}, 421, 'banner 421: code 421');
is(sr($r->{'alice@dropehlo.test'}), 'unknown/temporary_failure', 'connection dropped at EHLO: temporary_failure');
is(sr($r->{'alice@drop-rcpt.test'}), 'unknown/temporary_failure', 'connection dropped at RCPT: temporary_failure');

# smtp_blocked
$x = $r->{'alice@banner554.test'};
is(sr($x), 'unknown/smtp_blocked', '554 banner: unknown/smtp_blocked');
is($x->{smtp_code}, 554, 'banner 554: code 554');
$x = $r->{'alice@blocklisted.test'};
is(sr($x), 'unknown/smtp_blocked', '554 5.7.1 blocklist at MAIL FROM: smtp_blocked');
is($x->{smtp_code}, 554, 'blocklisted: smtp_code is the code that ended the dialogue');
like($x->{smtp_message} // '', qr/spamhaus/, 'blocklisted: smtp_message is the MAIL FROM reply');

# timeout (a short reply_timeout of its own: Postfix in this world may take
# a second to accept a first recipient), connection_failed
{
	my $t = time;
	my $tr = verify(q{SET email_verify.reply_timeout = '500ms';}, ['alice@tarpit.test'], 'smtp');
	my $took = time - $t;
	$x = $tr->{'alice@tarpit.test'};
	is(sr($x), 'unknown/timeout', 'tarpit (no banner) with reply_timeout 500ms: unknown/timeout');
	is($x->{level}, 'smtp', 'timeout: level smtp (the probe was attempted)');
	is($x->{mx_host}, 'mx.tarpit.test', 'timeout: mx_host is the host that was tried');
	cmp_ok($took, '<', 5, sprintf('timeout: the call ended after %.2f s', $took));
}
$x = $r->{'user@[127.0.3.1]'};
is(sr($x), 'unknown/connection_failed', 'domain literal, nothing listening: unknown/connection_failed');

# fall-through to the next MX
$x = $r->{'alice@backupmx.test'};
is(sr($x), 'valid/accepted', 'preferred MX dead: accepted via the backup MX');
is($x->{mx_host}, 'mx2.backupmx.test', 'backupmx: mx_host is the MX that answered');
$x = $r->{'alice@twomx.test'};
is(sr($x), 'valid/accepted', 'first MX says 421 at connect: accepted via the second MX');
is($x->{mx_host}, 'mx2.twomx.test', 'twomx: mx_host is the MX that answered');

# protocol variants
is(sr($r->{'alice@noehlo.test'}), 'valid/accepted', 'EHLO refused: HELO fallback, accepted');
is(sr($r->{'alice@tlsrequired.test'}), 'valid/accepted', 'STARTTLS required: accepted over TLS');
is(sr($r->{'alice@tlsoffered.test'}), 'valid/accepted', 'STARTTLS offered: accepted');
is(sr($r->{'alice@nopipelining.test'}), 'valid/accepted', 'no PIPELINING: accepted');
$x = $r->{'alice@multiline.test'};
is(sr($x), 'valid/accepted', 'multi-line banner, EHLO and RCPT replies: accepted');
like($x->{smtp_message} // '', qr/recipient ok/, 'multi-line RCPT reply: the last line is in smtp_message');
$x = $r->{'nobody@multiline.test'};
is(sr($x), 'invalid/mailbox_not_found', 'multi-line 550: mailbox_not_found');
like($x->{smtp_message} // '', qr/Recipient address rejected:.*User unknown/s,
	'multi-line 550: both lines in smtp_message');

# other address forms
is(sr($r->{'alice@v6.test'}), 'valid/accepted', 'IPv6-only MX: accepted');
$x = $r->{"alice\@$udom"};
is(sr($x), 'valid/accepted', 'IDN domain (U-label): accepted');
is($x->{normalized}, 'alice@xn--bcher-kva.test', 'IDN: normalized to the A-label');
is(sr($r->{'alice@afallback.test'}), 'valid/accepted', 'A fallback: accepted');
$x = $r->{'alice@nosuch.test'};
is(sr($x) . '/' . $x->{level}, 'invalid/no_domain/dns', 'no domain at level smtp: no_domain, level dns');
is($x->{smtp_code}, undef, 'no_domain: no SMTP code');
$x = $r->{'x..y@strict.test'};
is(sr($x) . '/' . $x->{level}, 'invalid/syntax/syntax', 'syntax error at level smtp: level syntax');

# every row: score 0..100, level filled
is(scalar(grep { !defined $_->{score} || $_->{score} < 0 || $_->{score} > 100 } values %$r), 0,
	'every score is within 0..100');
is(scalar(grep { !defined $_->{level} } values %$r), 0, 'every row has a level');

# STARTTLS counters of the same kind of run (prober_stats is per backend).
{
	my $out = $node->safe_psql('postgres', q{
SELECT r.reason, s.tls_sessions, s.tls_unverified
FROM verify_email('bob@tlsrequired.test', 'smtp') r, email_verify.prober_stats() s});
	my ($reason, $tls, $unverified) = split /\|/, $out;
	is($reason, 'accepted', 'tlsrequired: accepted');
	cmp_ok($tls, '>=', 1, 'prober_stats: a TLS session was counted');
	cmp_ok($unverified, '>=', 1, 'prober_stats: its certificate (wrong name, self-signed) counted as unverified');
}

# ---- precedence (README: invalid, then risky in table order, then unknown)

# mailinator.com is on the shipped disposable list. This world's DNS answers
# NXDOMAIN for every name outside "test.", and an invalid reason beats a
# risky one; the flag stays set.
$r = verify('', [ 'someone@mailinator.com' ], 'smtp');
$x = $r->{'someone@mailinator.com'};
is(sr($x), 'invalid/no_domain', 'shipped disposable domain (NXDOMAIN here): invalid/no_domain beats disposable');
is(b($x->{is_disposable}), 't', 'disposable: is_disposable');
is($x->{level} . '/' . b($x->{mx_found}), 'dns/f', 'disposable, NXDOMAIN: level dns, no mail server');
$r = verify('', [ 'someone@mailinator.com' ], 'syntax');
is(sr($r->{'someone@mailinator.com'}), 'risky/disposable', 'shipped disposable domain at level syntax');

# Domains of the world marked disposable in a database of their own, so
# that invalid reasons can meet the disposable flag.
$node->safe_psql('postgres', q{
CREATE DATABASE disp;
});
$node->safe_psql('disp', q{
CREATE EXTENSION email_verify;
INSERT INTO email_verify.list_entries (list, entry) VALUES
    ('disposable', 'nosuch.test'), ('disposable', 'strict.test');
});
{
	my $out = $node->safe_psql('disp', 'SELECT jsonb_agg(v) FROM verify_emails(' . sql_array(
			'a@nosuch.test', 'nosuchuser@strict.test', 'alice@strict.test', 'info@strict.test') . ", 'smtp') v");
	my %d = map { $_->{email} => $_ } @{ $json->decode($out) };
	is(sr($d{'a@nosuch.test'}), 'invalid/no_domain', 'disposable + NXDOMAIN: invalid beats risky');
	is(b($d{'a@nosuch.test'}{is_disposable}), 't', '... and is_disposable is still set');
	is(sr($d{'nosuchuser@strict.test'}), 'invalid/mailbox_not_found', 'disposable + 550 5.1.1: invalid beats risky');
	is(sr($d{'alice@strict.test'}), 'risky/disposable', 'disposable + accepted: risky/disposable beats valid');
	is(sr($d{'info@strict.test'}), 'risky/disposable', 'disposable + role: disposable comes first in table order');
	is(b($d{'info@strict.test'}{is_role}), 't', '... and is_role is still set');
}
$r = verify('', [ 'info@catchall.test', 'full@full.test', 'info@full.test', 'info@tempfail.test' ], 'smtp');
is(sr($r->{'info@catchall.test'}), 'risky/catch_all', 'catch-all + role: catch_all comes before role_account');
is(b($r->{'info@catchall.test'}{is_role}), 't', '... is_role still set');
is(sr($r->{'info@full.test'}), 'risky/role_account', 'role accepted on a normal server: role_account');
is(sr($r->{'info@tempfail.test'}), 'risky/role_account', 'role + temporary failure: risky beats unknown');

# ---- too many recipients (452 4.5.3 is not "full") ----------------------

for my $domain (qw(toomany.test microsoft.test))
{
	my @users = map { "$_\@$domain" } qw(alice bob info nosuch1 nosuch2 nosuch3);
	$r = verify('SET email_verify.result_ttl = 0;', \@users, 'smtp');
	is( join(' ', map { sr($r->{$_}) } @users),
		'valid/accepted valid/accepted risky/role_account invalid/mailbox_not_found '
		  . 'invalid/mailbox_not_found invalid/mailbox_not_found',
		"$domain: six recipients past the server's per-transaction limit all get real verdicts");
	is(scalar(grep { ($_->{smtp_code} // 0) == 452 } values %$r), 0, "$domain: no 452 left in any verdict");
}

# ---- 421 in the middle of a session -------------------------------------

{
	# The server answers one RCPT per session and says 421 to the next.
	my @users = map { "$_\@midclose421.test" } qw(alice bob info nosuch1 nosuch2 nosuch3);
	$r = verify('SET email_verify.result_ttl = 0;', \@users, 'smtp');
	is(sr($r->{'alice@midclose421.test'}), 'valid/accepted', 'midclose421: first recipient answered');
	is(scalar(grep { !$_->{status} } values %$r), 0, 'midclose421: every address has a verdict');
	# Only the recipient the 421 hit pays an attempt; those pipelined behind
	# it, never looked at, are asked again in the next session.
	is( join(' ', map { sr($r->{$_}) } @users),
		'valid/accepted valid/accepted risky/role_account invalid/mailbox_not_found '
		  . 'invalid/mailbox_not_found invalid/mailbox_not_found',
		'midclose421: all addresses end with real verdicts after reconnecting');
}

# ---- greylisting ---------------------------------------------------------

{
	# postgrey keys on (client, sender, recipient) and only greylists a
	# triplet it has not seen: a sender of our own makes the first RCPT new.
	# (Letters in the local part: postgrey folds digit runs there into "#".)
	my $letters = join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 10);
	my $sender = sprintf('tap-%s@grey-%x-%x.example', $letters, time, $$);
	my $setup = "SET email_verify.mail_from = '$sender'; SET email_verify.result_ttl = 0;";
	my $t_first = time;
	$r = verify($setup, ['alice@grey.test'], 'smtp');
	$x = $r->{'alice@grey.test'};
	is(sr($x), 'unknown/greylisted', 'first RCPT to grey.test: unknown/greylisted');
	is($x->{smtp_code}, 450, 'greylisted: code 450');
	like($x->{smtp_message} // '', qr/Greylisted/i, 'greylisted: the server text is kept');
	my $final = sr($x);
	my $waited;
	while (time - $t_first < 10)
	{
		sleep 0.5;
		$r = verify($setup, ['alice@grey.test'], 'smtp');
		$final = sr($r->{'alice@grey.test'});
		$waited = time - $t_first;
		last if $final ne 'unknown/greylisted';
	}
	is($final, 'valid/accepted', sprintf('greylisted address accepted after the delay (%.1f s, bound 10 s)', $waited));
	# postgrey counts whole seconds: 3 s may be a little over 2 s of real time.
	cmp_ok($waited, '>', 2, 'not accepted before the greylisting delay (3 s, counted in whole seconds)');
}

# ---- the result cache ----------------------------------------------------

{
	my $out = $node->safe_psql('postgres', q{
SELECT email_verify.clear_cache();
CREATE TEMP TABLE runs AS SELECT 1 AS run, * FROM verify_emails(
    ARRAY['alice@strict.test', 'nosuchuser@strict.test', 'alice@tempfail.test'], 'smtp');
INSERT INTO runs SELECT 2, * FROM verify_emails(
    ARRAY['alice@strict.test', 'nosuchuser@strict.test', 'alice@tempfail.test'], 'smtp');
SET email_verify.result_ttl = 0;
INSERT INTO runs SELECT 3, * FROM verify_emails(ARRAY['alice@strict.test'], 'smtp');
SELECT run, email, reason, from_cache, CASE WHEN from_cache THEN duration_ms < 20 END, smtp_code
FROM runs ORDER BY run, email;
});
	my @lines = grep { /^\d\|/ } split /\n/, $out;
	is_deeply(
		\@lines,
		[   '1|alice@strict.test|accepted|f||250',
			'1|alice@tempfail.test|temporary_failure|f||451',
			'1|nosuchuser@strict.test|mailbox_not_found|f||550',
			'2|alice@strict.test|accepted|t|t|250',
			'2|alice@tempfail.test|temporary_failure|f||451',
			'2|nosuchuser@strict.test|mailbox_not_found|t|t|550',
			'3|alice@strict.test|accepted|f||250' ],
		'cache: second call answers valid and invalid verdicts from the cache (fast, same columns), '
		  . 'unknown verdicts are probed again, result_ttl = 0 bypasses the cache')
	  or diag $out;
}

# Catch-all detection costs one probe per domain, not per address, and is
# remembered across calls of a backend.
{
	my $out = $node->safe_psql('postgres', q{
SELECT email_verify.clear_cache();
SELECT count(*) FROM verify_emails(ARRAY['a1@catchall.test', 'a2@catchall.test', 'a3@catchall.test'], 'smtp');
SELECT catch_all_probes FROM email_verify.prober_stats();
SELECT count(*) FROM verify_emails(ARRAY['a4@catchall.test', 'a5@catchall.test'], 'smtp');
SELECT catch_all_probes FROM email_verify.prober_stats();
});
	my @lines = split /\n/, $out;
	is("$lines[2] $lines[4]", '1 1', 'catch-all: one probe for three addresses, none for the next call');
}

# ---- never DATA -----------------------------------------------------------

{
	my $s = stats();
	my @with_data = grep { $s->{$_}{data} || $s->{$_}{commands}{DATA} || $s->{$_}{commands}{BDAT} } sort keys %$s;
	is("@with_data", '', 'scripted server: no behaviour ever saw DATA or BDAT');
	cmp_ok($s->{tlsrequired}{tls}, '>=', 1, 'scripted server: TLS handshakes at tlsrequired');
	cmp_ok($s->{noehlo}{commands}{HELO} // 0, '>=', 1, 'scripted server: noehlo was greeted with HELO');
	cmp_ok($s->{toomany}{rcpt}, '>=', 6, 'scripted server: toomany saw the recipients');
}

$node->stop;
done_testing();
