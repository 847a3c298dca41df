# The signup moment (issue 14). check_signup's decision under the shipped
# 'default' policy and policies of the user's, and its time budget against the
# test world's tarpit (never says a word), greylisting Postfix (grey.test) and
# fast hosts (the local Postfix); the policies' validation; sync watches with
# a policy (a block fails the INSERT with SQLSTATE 23514 and the decision's
# message, a warn lets the row in with <col>_decision = 'warn') and with a
# sync_budget, whose fall-back rows the worker verifies fully afterwards; and
# pg_dump + restore of an edited 'default' policy, the user's own policies,
# consumer limits and a watch with a policy.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use EvSignup;

# postgrey greylists a (client, sender, recipient) triplet it has not seen:
# a sender of this run's own makes the first RCPT to grey.test new (letters
# only: postgrey folds runs of digits into "#").
my $letters = join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 10);
my $sender = "signup-$letters\@grey-$letters.example";
# reply_timeout 10 s: the tarpit holds a probe that long, so only the budget
# can end a call sooner.
my $node = signup_node('signup', qq{
email_verify.mail_from = '$sender'
email_verify.reply_timeout = '10s'
});
sub db { return $node->safe_psql('postgres', $_[0]); }

my $s;

# ---- the contract's shapes ----------------------------------------------------------
# The contract's columns, in its order (the type may carry more, e.g. checked_at).
{
	my @want = qw(decision message suggestion status reason recheck budget_spent normalized
	  is_disposable is_role is_free is_catch_all from_cache duration_ms);
	my @have = split /,/, db(q{SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
	     WHERE attrelid = 'email_verify.signup_decision'::regclass AND attnum > 0 AND NOT attisdropped});
	my %wanted = map { $_ => 1 } @want;
	is(join(',', grep { $wanted{$_} } @have), join(',', @want),
		'signup_decision has the columns of the contract, in its order (' . join(',', @have) . ')');
}
is(db(q{SELECT concat_ws('|', valid, risky, invalid, unknown, reasons::text, coalesce(disposable, '-'),
            coalesce(role_account, '-'), coalesce(free_provider, '-'), coalesce(catch_all, '-'), coalesce(suggestion, '-'))
     FROM email_verify.signup_policies WHERE name = 'default'}),
	'accept|warn|block|accept_and_recheck|{}|-|-|-|-|warn', "the shipped 'default' policy");
is(db(q{SELECT email_verify.check_signup(NULL) IS NULL}), 't', 'NULL address: NULL');

# ---- fast hosts: the local Postfix -----------------------------------------------------
$s = signup($node, 'john.smith@strict.test');
is("$s->{decision} $s->{status}/$s->{reason}", 'accept valid/accepted', 'a real mailbox: accept, valid/accepted');
ok(!defined $s->{message}, 'a plain accept has no message');
is("$s->{budget_spent} $s->{recheck} $s->{from_cache}", 'f f f', 'within the budget, no recheck, not from the cache');
is($s->{normalized}, 'john.smith@strict.test', 'normalized');
cmp_ok($s->{duration_ms}, '<', 300, "the whole verdict within the 300 ms budget ($s->{duration_ms} ms)");
$s = signup($node, 'john.smith@strict.test');
is("$s->{decision} $s->{status}/$s->{reason} $s->{from_cache}", 'accept valid/accepted t',
	'asked again: the same decision, from the shared result cache');

$s = signup($node, 'nosuchuser@strict.test');
is("$s->{decision} $s->{status}/$s->{reason}", 'block invalid/mailbox_not_found', 'an unknown user: block');
ok(defined $s->{message} && $s->{message} ne '', "a block has a message for the form: " . ($s->{message} // 'NULL'));
$s = signup($node, 'sales@strict.test');
is("$s->{decision} $s->{status}/$s->{reason} $s->{is_role}", 'warn risky/role_account t', 'a role account: warn');
ok(defined $s->{message}, 'a warn has a message');
$s = signup($node, 'anyone@catchall.test');
is("$s->{decision} $s->{status}/$s->{reason} $s->{is_catch_all}", 'warn risky/catch_all t', 'a catch-all domain: warn');
$s = signup($node, 'John@gmial.con');
is("$s->{decision} $s->{status}/$s->{reason}", 'block invalid/no_domain', 'a typo domain: block');
is($s->{suggestion}, 'John@gmail.com', 'with the suggestion');
like($s->{message} // '', qr/Did you mean John\@gmail\.com\?/, 'which the message carries');
$s = signup($node, 'not an address');
is("$s->{decision} $s->{status}/$s->{reason} $s->{budget_spent}", 'block invalid/syntax f', 'bad syntax: block at once');

# ---- greylisting (grey.test: Postfix + postgrey) -----------------------------------------
$s = signup($node, 'alice@grey.test');
is("$s->{decision} $s->{status}/$s->{reason} $s->{recheck} $s->{budget_spent}", 'accept unknown/greylisted t f',
	'greylisted: accepted to be rechecked (the default unknown rule), within the budget');
cmp_ok($s->{duration_ms}, '<', 300, "greylisted: answered in $s->{duration_ms} ms");
db(q{INSERT INTO email_verify.signup_policies (name, unknown, description) VALUES ('closed', 'block', 'unknown blocks')});
$s = signup($node, 'alice@grey.test', "policy => 'closed'");
is("$s->{decision} $s->{status}/$s->{reason} $s->{recheck}", 'block unknown/greylisted f',
	"greylisted under a policy whose unknown rule blocks: block, no recheck");
$s = signup($node, 'nosuch@grey.test');
is("$s->{decision} $s->{status}/$s->{reason}", 'block invalid/mailbox_not_found', 'an unknown user of grey.test: block at once');

# ---- the budget against the tarpit --------------------------------------------------------
for my $budget (300, 100)
{
	my $worst = 0;
	my $wall_worst = 0;
	my $all = '';
	for my $i (1 .. 4)
	{
		my $t0 = time;
		$s = signup($node, "user$i.$budget\@tarpit.test", "budget => '$budget ms'");
		my $wall = (time - $t0) * 1000;
		$wall_worst = $wall if $wall > $wall_worst;
		$worst = $s->{duration_ms} if $s->{duration_ms} > $worst;
		$all .= "$s->{decision} $s->{status}/$s->{reason} $s->{budget_spent} $s->{recheck};";
	}
	is($all, 'accept unknown/timeout t t;' x 4,
		"tarpit, budget $budget ms: unknown/timeout, budget_spent, accepted to be rechecked (4 calls)");
	cmp_ok($worst, '<=', $budget + 100, sprintf('tarpit, budget %d ms: the call took at most %.1f ms', $budget, $worst));
	cmp_ok($wall_worst, '<', $budget + 1500, sprintf('tarpit, budget %d ms: psql included, %.0f ms (reply_timeout is 10 s)', $budget, $wall_worst));
}
$s = signup($node, 'closed@tarpit.test', "policy => 'closed', budget => '200 ms'");
is("$s->{decision} $s->{status}/$s->{reason} $s->{budget_spent} $s->{recheck}", 'block unknown/timeout t f',
	'tarpit under the closed policy: block when the budget runs out');
ok(defined $s->{message}, 'with a message');
# What the syntax level already knows stands when the budget runs out.
$s = signup($node, 'info@tarpit.test', "budget => '200 ms'");
is("$s->{decision} $s->{status}/$s->{reason} $s->{budget_spent}", 'warn risky/role_account t',
	'a role account at the tarpit: the budget runs out, the syntax-level risky verdict stands (warn)');
$s = signup($node, 'anyone@tarpit.test', "level => 'dns'");
is("$s->{decision} $s->{status}/$s->{reason} $s->{budget_spent}", 'accept valid/domain_ok f',
	'level dns at the tarpit domain: no SMTP, no budget spent');

# ---- arguments -------------------------------------------------------------------------
fails_with($node, undef, q{SELECT email_verify.check_signup('a@strict.test', policy => 'nosuch')},
	'42704', qr/signup policy "nosuch" does not exist/, 'an unknown policy');
for my $bad ("'0'", "'-1 s'", "'61 s'", "'1 day'")
{
	my ($rc, $out, $err) = run_as($node, undef, "SELECT email_verify.check_signup('a\@strict.test', budget => $bad)");
	ok($rc != 0 && $err =~ /budget/, "budget $bad is refused, naming the budget") or diag($err);
}
{
	my ($rc, $out, $err) = run_as($node, undef, q{SELECT email_verify.check_signup('a@strict.test', level => 'deep')});
	ok($rc != 0 && $err =~ /level/, 'an unknown level is refused') or diag($err);
}
is(signup($node, 'x@nosuch.test', "budget => '1 minute', level => 'dns'")->{reason}, 'no_domain', 'a budget of 1 minute is allowed');

# ---- privileges: levels dns and smtp need email_verify_prober -------------------------------
db(q{CREATE ROLE plain LOGIN; CREATE ROLE prober LOGIN IN ROLE email_verify_prober});
is(signup($node, 'someone@strict.test', "level => 'syntax'", 'plain')->{decision}, 'accept', 'an ordinary role: level syntax works');
fails_with($node, 'plain', q{SELECT email_verify.check_signup('someone@strict.test')}, '42501', undef,
	'an ordinary role at level smtp (the default)');
fails_with($node, 'plain', q{SELECT email_verify.check_signup('someone@strict.test', level => 'dns')}, '42501', undef,
	'an ordinary role at level dns');
is(signup($node, 'alice@strict.test', undef, 'prober')->{decision}, 'accept', 'a member of email_verify_prober: level smtp');
{
	my ($rc, $out, $e) = run_as($node, 'plain', q{SELECT count(*) > 0 FROM email_verify.signup_policies});
	is("$rc $out", '0 t', 'an ordinary role can read the policies it may name') or diag($e);
}
for my $dml (q{UPDATE email_verify.signup_policies SET invalid = 'accept' WHERE name = 'default'},
	q{INSERT INTO email_verify.signup_policies (name) VALUES ('mine')},
	q{DELETE FROM email_verify.signup_policies WHERE name = 'closed'})
{
	fails_with($node, 'plain', $dml, '42501', undef, "an ordinary role may not change the policies others' watches use: " . substr($dml, 0, 40));
}
is(db(q{SELECT invalid FROM email_verify.signup_policies WHERE name = 'default'}), 'block', "the 'default' policy is unchanged");

# ---- policies: validation ------------------------------------------------------------
for my $bad ([ q{valid => 'maybe'}, q{(name, valid) VALUES ('bad1', 'maybe')}, qr/valid/ ],
	[ q{unknown => 'warn'}, q{(name, unknown) VALUES ('bad2', 'warn')}, qr/unknown/ ],
	[ q{valid => 'accept_and_recheck'}, q{(name, valid) VALUES ('bad3', 'accept_and_recheck')}, qr/valid/ ],
	[ q{invalid => NULL-ish ''}, q{(name, invalid) VALUES ('bad4', '')}, qr/invalid/ ],
	[ q{disposable => 'maybe'}, q{(name, disposable) VALUES ('bad5', 'maybe')}, qr/disposable/ ],
	[ q{reasons: a bad decision}, q{(name, reasons) VALUES ('bad6', '{"catch_all": "nope"}')}, qr/reasons/ ],
	[ q{reasons: an unknown reason}, q{(name, reasons) VALUES ('bad7', '{"no_such_reason": "block"}')}, qr/reasons/ ],
	[ q{reasons: not an object}, q{(name, reasons) VALUES ('bad8', '["block"]')}, qr/reasons/ ])
{
	fails_with($node, undef, "INSERT INTO email_verify.signup_policies $bad->[1]", '23514', $bad->[2], "policy with $bad->[0]");
}
fails_with($node, undef, q{INSERT INTO email_verify.signup_policies (name) VALUES ('closed')}, '23505', undef,
	'a second policy of an existing name (other than default)');
# INSERT of 'default' replaces it (what a restore does); the shipped values come back the same way.
db(q{INSERT INTO email_verify.signup_policies (name, risky, description) VALUES ('default', 'block', 'replaced')});
is(db(q{SELECT concat_ws('|', valid, risky, invalid, unknown, description) FROM email_verify.signup_policies WHERE name = 'default'}),
	'accept|block|block|accept_and_recheck|replaced', "INSERT of 'default' replaces the row");
is(signup($node, 'sales@strict.test')->{decision}, 'block', 'and the replaced default decides at once (risky: block)');
db(q{INSERT INTO email_verify.signup_policies (name, valid, risky, invalid, unknown, suggestion)
  VALUES ('default', 'accept', 'warn', 'block', 'accept_and_recheck', 'warn')});
is(db(q{SELECT count(*) FROM email_verify.signup_policies WHERE name = 'default'}), '1', "still one 'default' row");

# ---- policies: the decision is the most severe of the status's (or reason's) and the flags' ---------
db(q{
INSERT INTO email_verify.signup_policies (name, valid, risky, free_provider, disposable)
VALUES ('flags', 'accept', 'accept', 'warn', 'block');
INSERT INTO email_verify.signup_policies (name, risky, reasons)
VALUES ('reasons', 'warn', '{"role_account": "accept", "catch_all": "block"}');
INSERT INTO email_verify.signup_policies (name, valid) VALUES ('suspicious', 'warn');
INSERT INTO email_verify.signup_policies (name, suggestion) VALUES ('nosuggest', NULL);
});
my @cases = (
	[ 'someone@gmail.com', 'flags', 'syntax', 'warn', 'valid, free (warn): warn' ],
	[ 'info@gmail.com', 'flags', 'syntax', 'warn', 'risky role account (accept) and free (warn): warn' ],
	[ 'x@mailinator.com', 'flags', 'syntax', 'block', 'disposable (block) beats risky (accept)' ],
	[ 'sales@strict.test', 'reasons', 'syntax', 'accept', "reason role_account: accept replaces risky's warn" ],
	[ 'anyone@catchall.test', 'reasons', 'smtp', 'block', "reason catch_all: block replaces risky's warn" ],
	[ 'john.smith@strict.test', 'suspicious', 'smtp', 'warn', 'valid under valid => warn: warn' ],
	[ 'john@gmial.com', 'default', 'syntax', 'warn', "a suggestion under 'default' (suggestion warn): warn" ],
	[ 'john@gmial.com', 'nosuggest', 'syntax', 'accept', 'a suggestion without say in the policy: accept' ],);
for my $c (@cases)
{
	$s = signup($node, $c->[0], "policy => '$c->[1]', level => '$c->[2]'");
	is($s->{decision}, $c->[3], "$c->[0] under '$c->[1]' at $c->[2]: $c->[4]") or diag(explain $s);
}
like(signup($node, 'john@gmial.com', "policy => 'nosuggest', level => 'syntax'")->{message} // '',
	qr/Did you mean john\@gmail\.com\?/, 'an accept with a suggestion still carries it in the message');

# ---- a sync watch with a policy (inline at level dns) ------------------------------------------
db(q{
SET client_min_messages = error;
CREATE TABLE signups (id serial PRIMARY KEY, email text);
SELECT email_verify.watch('signups', 'email', level => 'dns', mode => 'sync', policy => 'default');
});
is(db(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'signups'::regclass AND attname = 'email_decision'}),
	'text', 'watch() with a policy adds email_decision text');
my $err = fails_with($node, undef, q{INSERT INTO signups (email) VALUES ('john@gmial.con')}, '23514',
	qr/john\@gmail\.com/, 'a blocked INSERT (typo domain)');
like($err, qr/HINT:.*john\@gmail\.com/, 'with a HINT carrying the suggestion');
fails_with($node, undef, q{INSERT INTO signups (email) VALUES ('not an address')}, '23514', qr/not an address/,
	'a blocked INSERT (bad syntax)');
db(q{INSERT INTO signups (email) VALUES ('info@strict.test'), ('alice@strict.test'), ('x@servfail.test')});
is(db(q{SELECT string_agg(format('%s %s/%s %s %s', email, email_status, email_reason, email_decision,
                                (email_verified_at IS NOT NULL)), '; ' ORDER BY id) FROM signups}),
	'info@strict.test risky/role_account warn t; alice@strict.test valid/domain_ok accept t; '
	  . 'x@servfail.test unknown/dns_error accept f',
	'warn and accept let the row in with <col>_decision; unknown is let in for the worker (verified_at NULL)');
fails_with($node, undef, q{UPDATE signups SET email = 'bob@nosuch.test' WHERE email = 'alice@strict.test'}, '23514',
	qr/bob\@nosuch\.test/, 'an UPDATE to a blocked address');
db(q{UPDATE signups SET email = 'sales@strict.test' WHERE email = 'alice@strict.test'});
is(db(q{SELECT email_decision FROM signups WHERE email = 'sales@strict.test'}), 'warn', 'an UPDATE of the address is decided again');
fails_with($node, undef, q{COPY signups (email) FROM stdin;
ok1@strict.test
bad@nosuch.test
\.
}, '23514', undef, 'COPY with one blocked address');
is(db(q{SELECT count(*) FROM signups WHERE email = 'ok1@strict.test'}), '0', 'fails whole');

db(q{
CREATE TABLE lenient (id serial PRIMARY KEY, email text);
INSERT INTO email_verify.signup_policies (name, invalid) VALUES ('lenient', 'warn');
SET client_min_messages = error;
SELECT email_verify.watch('lenient', 'email', level => 'dns', mode => 'sync', policy => 'lenient');
INSERT INTO lenient (email) VALUES ('bad@nosuch.test');
});
is(db(q{SELECT format('%s/%s %s', email_status, email_reason, email_decision) FROM lenient}), 'invalid/no_domain warn',
	'a policy that warns on invalid lets the invalid address in, marked warn');

for my $bad ([ q{mode => 'sync', reject_invalid => true, policy => 'default'}, 'both reject_invalid and policy' ],
	[ q{mode => 'async', policy => 'default'}, 'a policy on an async watch' ],
	[ q{mode => 'async', sync_budget => '1 s'}, 'a sync_budget on an async watch' ],
	[ q{mode => 'sync', policy => 'nosuch'}, 'an unknown policy' ],
	[ q{mode => 'sync', policy => 'default', sync_budget => '0'}, 'a sync_budget of 0' ],
	[ q{mode => 'sync', policy => 'default', sync_budget => '2 minutes'}, 'a sync_budget over 1 minute' ])
{
	my ($rc, $out, $e) = run_as($node, undef, "SELECT email_verify.watch('lenient', 'email', level => 'dns', $bad->[0])");
	ok($rc != 0, "watch() refuses $bad->[1]") or diag($out);
}
is(db(q{SELECT format('%s/%s %s', email_status, email_reason, email_decision) FROM lenient}), 'invalid/no_domain warn',
	'and the refused calls left the watch as it was');

# ---- a sync watch with a budget: the fall-back rows go to the worker --------------------------
db(q{
SET client_min_messages = error;
CREATE TABLE fb (id int PRIMARY KEY, email text);
SELECT email_verify.watch('fb', 'email', level => 'smtp', mode => 'sync', policy => 'default', sync_budget => '300 ms');
CREATE FUNCTION timed_ms(sql text) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
});
my $ms = db(q{SELECT timed_ms('INSERT INTO fb VALUES (1, ''bob@strict.test'')')});
cmp_ok($ms, '<', 300, "a fast host's mailbox verdict inline: $ms ms");
is(db(q{SELECT format('%s/%s %s %s', email_status, email_reason, email_decision, email_verified_at IS NOT NULL) FROM fb WHERE id = 1}),
	'valid/accepted accept t', 'reached in time: written as verified (smtp level inline)');
fails_with($node, undef, q{INSERT INTO fb VALUES (2, 'nosuchuser2@strict.test')}, '23514', qr/nosuchuser2\@strict\.test/,
	'an unknown mailbox, found within the budget, blocks the INSERT');
$ms = db(q{SELECT timed_ms('INSERT INTO fb VALUES (3, ''alice@slowbanner.test'')')});
cmp_ok($ms, '<=', 300 + 100, "slow banner (2 s): the INSERT returns when the budget runs out ($ms ms)");
is(db(q{SELECT format('%s/%s %s %s', email_status, email_reason, email_decision, email_verified_at IS NOT NULL) FROM fb WHERE id = 3}),
	'unknown/timeout accept f', 'let in (unknown: accept_and_recheck) with verified_at NULL');
db(q{INSERT INTO fb VALUES (4, 'bob@grey.test')});
is(db(q{SELECT format('%s/%s %s %s', email_status, email_reason, email_decision, email_verified_at IS NOT NULL) FROM fb WHERE id = 4}),
	'unknown/greylisted accept f', 'greylisted: let in with verified_at NULL');
my $t0 = time;
ok(wait_for_value($node, q{SELECT string_agg(format('%s/%s %s', email_status, email_reason, email_verified_at IS NOT NULL), ' ' ORDER BY id)
                           FROM fb WHERE id IN (3, 4)}, 'valid/accepted t valid/accepted t', 40),
	sprintf('the worker gives both fall-back rows their full verdict later (%.1f s)', time - $t0));
$ms = db(q{SELECT timed_ms('INSERT INTO fb VALUES (5, ''alice@tarpit.test'')')});
cmp_ok($ms, '<=', 300 + 100, "tarpit: the INSERT returns when the budget runs out ($ms ms)");
is(db(q{SELECT format('%s/%s %s %s', email_status, email_reason, email_decision, email_verified_at IS NOT NULL) FROM fb WHERE id = 5}),
	'unknown/timeout accept f', 'tarpit: let in for the worker');
# What the syntax says stands when the budget runs out (a role account is
# risky: warn), but the mailbox check is still owed: left for the worker.
$ms = db(q{SELECT timed_ms('INSERT INTO fb VALUES (6, ''info@tarpit.test'')')});
cmp_ok($ms, '<=', 300 + 100, "a role account at the tarpit: the INSERT returns when the budget runs out ($ms ms)");
is(db(q{SELECT format('%s/%s %s %s', email_status, email_reason, email_decision, email_verified_at IS NOT NULL) FROM fb WHERE id = 6}),
	'risky/role_account warn f', "let in with the syntax's verdict (warn), verified_at NULL: the worker still owes it the mailbox check");
db(q{SELECT email_verify.unwatch('fb', 'email')});

# Without sync_budget the inline check stops at level dns, as before.
db(q{
SET client_min_messages = error;
CREATE TABLE nobudget (id int PRIMARY KEY, email text);
SELECT email_verify.watch('nobudget', 'email', level => 'smtp', mode => 'sync', policy => 'default');
});
$ms = db(q{SELECT timed_ms('INSERT INTO nobudget VALUES (1, ''quick@tarpit.test'')')});
cmp_ok($ms, '<', 300, "no sync_budget: the tarpit domain's row goes in at dns level ($ms ms)");
is(db(q{SELECT format('%s/%s %s', email_status, email_reason, email_verified_at IS NOT NULL) FROM nobudget}),
	'valid/domain_ok f', 'with the dns verdict, left for the worker');
db(q{SELECT email_verify.unwatch('nobudget', 'email')});

# ---- pg_dump + restore into a fresh database -----------------------------------------------
db(q{CREATE DATABASE src; CREATE DATABASE restored_c; CREATE DATABASE restored_plain; CREATE ROLE app LOGIN;});
$node->safe_psql('src', q{
SET client_min_messages = error;
CREATE EXTENSION email_verify;
UPDATE email_verify.signup_policies SET risky = 'block', disposable = 'block', description = 'ours'
WHERE name = 'default';
INSERT INTO email_verify.signup_policies (name, valid, invalid, reasons, catch_all, description)
VALUES ('mine', 'warn', 'block', '{"catch_all": "accept", "mailbox_full": "block"}', 'warn', 'the app''s');
INSERT INTO email_verify.consumer_limits VALUES ('app', 120, 5000);
CREATE TABLE signups (id int PRIMARY KEY, email text);
SELECT email_verify.watch('signups', 'email', level => 'dns', mode => 'sync', policy => 'mine', sync_budget => '250 ms');
INSERT INTO signups VALUES (1, 'alice@strict.test');
});
my $snapshot = q{
SELECT (SELECT string_agg(row_to_json(p)::text, ';' ORDER BY name) FROM email_verify.signup_policies p)
    || ' / ' || (SELECT string_agg(row_to_json(l)::text, ';' ORDER BY role_name) FROM email_verify.consumer_limits l)
    || ' / ' || (SELECT string_agg(format('%s %s', email, email_decision), ';') FROM signups)};
my $before = $node->safe_psql('src', $snapshot);
my $dump = $node->basedir . '/signup.dump';
my $plain = $node->basedir . '/signup.sql';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('src') ], 'pg_dump (plain)');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored_c'), $dump ],
	'pg_restore into a fresh database: no error');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored_plain'), '-f', $plain ],
	'the plain dump through psql (ON_ERROR_STOP): no error');
for my $db (qw(restored_c restored_plain))
{
	is($node->safe_psql($db, $snapshot), $before, "$db: the edited default, our policy, the limits and the rows are as they were");
	my ($rc, $out, $e) = run_as($node, undef, q{INSERT INTO signups VALUES (2, 'bad@nosuch.test')}, $db);
	ok($rc != 0 && $e =~ /ERROR:\s+23514:/, "$db: the restored watch decides by its policy (block)") or diag($e);
	$node->safe_psql($db, q{INSERT INTO signups VALUES (3, 'anyone@catchall.test')});
	is($node->safe_psql($db, q{SELECT email_decision FROM signups WHERE id = 3}), 'warn',
		"$db: 'mine' (valid => warn) decides the new row");
}

$node->stop;
done_testing();
