# Level 'dns' against the local test world (testworld/world.sh): every
# outcome the DNS step can reach, as README.md's table of reasons names them:
# domain_ok through an MX, through the A fallback and through an IPv6-only
# MX; an IDN domain given as U-label; no_domain, null_mx, no_mail_server,
# dns_error (SERVFAIL, REFUSED, a DNS server that is not there); the
# mx_found/mx_host/level columns; input that fails the syntax check never
# reaches the network; NULL in, NULL out; verify_emails keeps input order;
# and levels dns/smtp are a privilege (email_verify_prober).
#
# The world must already run (root: testworld/world.sh start); the test
# bails out when its DNS server 127.0.53.1:53 does not answer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('dns_level');
$node->init;
# dns_servers is superuser-only, so it is set here for every role.
$node->append_conf('postgresql.conf', q{
email_verify.dns_servers = '127.0.53.1:53'
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
email_verify.dns_timeout = '1s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION email_verify');

# One row of verify_email(...) as "col=value" pairs, NULL shown as "<null>".
sub row
{
	my ($address, $level, @cols) = @_;
	my $select = join(", ", map { "coalesce(${_}::text, '<null>')" } @cols);
	my $out = $node->safe_psql('postgres',
		"SELECT $select FROM verify_email(" . quote($address) . ", '$level')");
	my @vals = split /\|/, $out, -1;
	return { map { $cols[$_] => $vals[$_] } 0 .. $#cols };
}

sub quote
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	$s =~ s/'/''/g;
	return "'$s'";
}

# The world's DNS must answer before anything else means something.
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT (verify_email('alice\@strict.test', 'dns')).reason");
	BAIL_OUT("the test world's DNS (127.0.53.1:53) does not answer: got '$out' $err; "
		  . "start it as root with testworld/world.sh start")
	  unless $ret == 0 && $out eq 'domain_ok';
}

my @cols = qw(status reason level mx_found mx_host normalized smtp_code is_catch_all);

# ---- a usable mail server ---------------------------------------------

my $r = row('alice@strict.test', 'dns', @cols);
is_deeply(
	$r,
	{   status => 'valid', reason => 'domain_ok', level => 'dns', mx_found => 'true',
		mx_host => 'mx.strict.test', normalized => 'alice@strict.test',
		smtp_code => '<null>', is_catch_all => '<null>' },
	'MX domain: valid/domain_ok, mx_found, mx_host is the MX, nothing probed');

$r = row('alice@afallback.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{mx_found}", 'valid/domain_ok/true',
	'no MX but an A record: the RFC 5321 A fallback counts as a mail server');
is($r->{mx_host}, 'afallback.test', 'A fallback: mx_host is the domain itself');

$r = row('alice@v6.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{mx_found}/$r->{mx_host}", 'valid/domain_ok/true/mx.v6.test',
	'MX whose only address is IPv6 (AAAA) is usable');

# bücher.test as UTF-8 U-label: looked up as its A-label.
$r = row("alice\@b\xc3\xbccher.test", 'dns', @cols);
is("$r->{status}/$r->{reason}", 'valid/domain_ok', 'IDN domain given as U-label resolves');
is($r->{normalized}, 'alice@xn--bcher-kva.test', 'IDN: normalized to the A-label');
is($r->{mx_host}, 'mx.xn--bcher-kva.test', 'IDN: MX found under the A-label');
is( $node->safe_psql('postgres', "SELECT email FROM verify_email('alice\@B\xc3\x9cCHER.test', 'dns')"),
	"alice\@B\xc3\x9cCHER.test", 'IDN: email column is the input as given');

$r = row('Alice@STRICT.Test', 'dns', @cols);
is("$r->{reason}/$r->{normalized}", 'domain_ok/Alice@strict.test',
	'domain lower-cased, local part kept as given');

# ---- domains without a usable mail server -----------------------------

$r = row('alice@nosuch.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{level}/$r->{mx_found}", 'invalid/no_domain/dns/false',
	'NXDOMAIN: invalid/no_domain, mx_found false');

$r = row('alice@nullmx.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{mx_found}", 'invalid/null_mx/false',
	'null MX (RFC 7505): invalid/null_mx');

$r = row('alice@dangling.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{mx_found}", 'invalid/no_mail_server/false',
	'MX target without any address: no_mail_server');

$r = row('alice@noaddress.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{mx_found}", 'invalid/no_mail_server/false',
	'domain exists (TXT only), no MX, no A/AAAA: no_mail_server');

# ---- DNS failures -------------------------------------------------------

$r = row('alice@servfail.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{level}", 'unknown/dns_error/dns', 'SERVFAIL: unknown/dns_error');
is($r->{mx_found}, '<null>', 'SERVFAIL: mx_found not determined (NULL)');

$r = row('alice@refused.test', 'dns', @cols);
is("$r->{status}/$r->{reason}", 'unknown/dns_error', 'REFUSED: unknown/dns_error');

# A DNS server where nothing listens, with a short per-try timeout: a quick
# dns_error, not a hang. A fresh domain, so no cached route can answer.
{
	my $t0 = time;
	my $out = $node->safe_psql('postgres', q{
SET email_verify.dns_servers = '127.0.53.9:53';
SET email_verify.dns_timeout = '200ms';
SELECT email_verify.clear_cache();
SELECT status || '/' || reason FROM verify_email('alice@catchall.test', 'dns');
});
	my $elapsed = time - $t0;
	is((split /\n/, $out)[-1], 'unknown/dns_error', 'dead DNS server: unknown/dns_error');
	cmp_ok($elapsed, '<', 5, sprintf('dead DNS server: answered in %.2f s (< 5 s)', $elapsed));
}

# The setting itself refuses what is not ip[:port][,...]. Its check runs
# once the library is loaded (here by a first call); before that PostgreSQL
# keeps any value as a placeholder and checks it at load time.
{
	my $load = "SELECT count(*) FROM verify_email('a\@b.example', 'syntax');\n";
	my ($ret, $out, $err) = $node->psql('postgres', $load . q{SET email_verify.dns_servers = 'not-an-ip'});
	isnt($ret, 0, 'dns_servers: a host name is refused');
	like($err, qr/invalid value for parameter "email_verify\.dns_servers"/, 'dns_servers: error names the setting');
	like($err, qr/not-an-ip/, 'dns_servers: error shows the bad entry');
	($ret, $out, $err) = $node->psql('postgres', $load . q{SET email_verify.dns_servers = '127.0.0.1:70000'});
	isnt($ret, 0, 'dns_servers: a port out of range is refused');
	like($err, qr/port/i, 'dns_servers: error says what is wrong with the port');
	($ret, $out, $err) = $node->psql('postgres', $load . q{SET email_verify.dns_servers = '127.0.53.1'});
	is($ret, 0, 'dns_servers: an address without a port is accepted (port 53)');
	($ret, $out, $err) = $node->psql('postgres',
		$load . q{SET email_verify.dns_servers = '127.0.53.1:53, [::1]:53'; SHOW email_verify.dns_servers});
	is($ret, 0, 'dns_servers: a list with an IPv6 entry is accepted');

	# Set before the library is loaded: refused with a WARNING at load time,
	# and the configured server stays in use.
	($ret, $out, $err) = $node->psql('postgres', q{SET email_verify.dns_servers = 'not-an-ip';
SELECT (verify_email('alice@strict.test', 'dns')).reason; SHOW email_verify.dns_servers});
	is($out, "domain_ok\n127.0.53.1:53", 'dns_servers set before load: the bad value is not used');
	like($err, qr/WARNING:.*invalid value for parameter "email_verify\.dns_servers"/,
		'dns_servers set before load: WARNING at load time');
}

# ---- what DNS does not change --------------------------------------------

$r = row('alice..x@strict.test', 'dns', @cols);
is("$r->{status}/$r->{reason}/$r->{level}/$r->{mx_found}/$r->{normalized}",
	'invalid/syntax/syntax/<null>/<null>',
	'syntax-invalid input at level dns: level stays syntax, no DNS columns');

is($node->safe_psql('postgres', "SELECT verify_email(NULL, 'dns') IS NULL"), 't', 'NULL in, NULL out');

# verify_emails: one row per input, in input order, NULL rows for NULLs.
{
	my $out = $node->safe_psql('postgres', q{
SELECT row_number() OVER (), v IS NULL, coalesce(v.email, '-'), coalesce(v.reason, '-'), coalesce(v.level, '-')
FROM verify_emails(ARRAY['b@nosuch.test', NULL, 'alice@strict.test', 'x..y@strict.test',
                         'alice@nullmx.test', NULL, 'alice@strict.test', 'bob@afallback.test'], 'dns') v});
	is( $out, join("\n",
			'1|f|b@nosuch.test|no_domain|dns',
			'2|t|-|-|-',
			'3|f|alice@strict.test|domain_ok|dns',
			'4|f|x..y@strict.test|syntax|syntax',
			'5|f|alice@nullmx.test|null_mx|dns',
			'6|t|-|-|-',
			'7|f|alice@strict.test|domain_ok|dns',
			'8|f|bob@afallback.test|domain_ok|dns'),
		'verify_emails: input order kept, NULL rows for NULL inputs, duplicates answered twice');
	is($node->safe_psql('postgres', "SELECT count(*) FROM verify_emails(ARRAY[]::text[], 'dns')"),
		'0', 'verify_emails: empty array, no rows');
	is($node->safe_psql('postgres', "SELECT count(*) FROM verify_emails(NULL, 'dns')"),
		'0', 'verify_emails: NULL array, no rows');
}

# ---- privilege: levels dns and smtp need email_verify_prober ------------

$node->safe_psql('postgres', 'CREATE ROLE plain LOGIN');
sub as_plain
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-U', 'plain' ]);
	return ($ret, $out, $err);
}

my ($ret, $out, $err) = as_plain("SELECT (verify_email('alice\@strict.test', 'syntax')).reason");
is($out, 'syntax_ok', 'plain role: level syntax works');
for my $level (qw(dns smtp))
{
	($ret, $out, $err) = as_plain("SELECT (verify_email('alice\@strict.test', '$level')).reason");
	like($err, qr/\b42501\b/, "plain role: verify_email at level $level is SQLSTATE 42501");
	like($err, qr/email_verify_prober/, "plain role: level $level error names the role to grant");
	($ret, $out, $err) = as_plain("SELECT count(*) FROM verify_emails(ARRAY['alice\@strict.test'], '$level')");
	like($err, qr/\b42501\b/, "plain role: verify_emails at level $level is SQLSTATE 42501");
}
# The default level is smtp: no level given is a network level too.
($ret, $out, $err) = as_plain("SELECT (verify_email('alice\@strict.test')).reason");
like($err, qr/\b42501\b/, 'plain role: default level (smtp) needs the privilege too');

$node->safe_psql('postgres', 'GRANT email_verify_prober TO plain');
($ret, $out, $err) = as_plain("SELECT status || '/' || reason || '/' || level FROM verify_email('alice\@strict.test', 'dns')");
is($out, 'valid/domain_ok/dns', 'after GRANT email_verify_prober: level dns works');
($ret, $out, $err) = as_plain("SELECT count(*) FROM verify_emails(ARRAY['alice\@strict.test', 'a\@nosuch.test'], 'dns')");
is($out, '2', 'after GRANT: verify_emails at level dns works');
$node->safe_psql('postgres', 'REVOKE email_verify_prober FROM plain');
($ret, $out, $err) = as_plain("SELECT (verify_email('alice\@strict.test', 'dns')).reason");
like($err, qr/\b42501\b/, 'after REVOKE: refused again');

$node->stop;
done_testing();
