# Consumer limits (issue 14): the network-level checks a role's own calls make
# (verify_email, verify_emails, check_signup, a sync watch's inline check) are
# taken from buckets shared by all backends. Several sessions of one limited
# role hammering at once get no more than the bucket holds; refusals fail
# with SQLSTATE 53400 and are counted in consumer_limit_stats; the per-day
# bucket, verify_emails' all-or-none, the settings' limit for roles without a
# row, the continuous refill; a sync watch's check over the writer's limit is
# let in (or blocked) by the policy's unknown rule and finished by the worker,
# which is not counted. An ordinary role can neither lift its own limit
# (the table, the settings) nor see another role's counters.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use EvSignup;

my $node = signup_node('limits', q{
email_verify.consumer_checks_per_minute = 5
});
sub db { return $node->safe_psql('postgres', $_[0]); }

db(q{
CREATE ROLE hammer LOGIN IN ROLE email_verify_prober;
CREATE ROLE daily LOGIN IN ROLE email_verify_prober;
CREATE ROLE norow LOGIN IN ROLE email_verify_prober;
CREATE ROLE refill LOGIN IN ROLE email_verify_prober;
CREATE ROLE writer LOGIN IN ROLE email_verify_prober;
CREATE ROLE nosy LOGIN;
CREATE ROLE auditor LOGIN IN ROLE email_verify_admin;
GRANT CREATE ON SCHEMA public TO writer;
INSERT INTO email_verify.consumer_limits VALUES
    ('hammer', 30, NULL), ('daily', 0, 10), ('refill', 120, NULL), ('writer', NULL, 3);
INSERT INTO email_verify.signup_policies (name, unknown) VALUES ('closed', 'block');

-- n calls in a row, alternately check_signup (level smtp, the Postfix
-- catch-alls b000..b099.test) and verify_email (level dns); refusals
-- (53400) counted, anything else fails the session. Returns
-- "<accepted> <refused> <last refusal's message>|<its hint>".
CREATE FUNCTION hammer(session int, n int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    accepted int := 0;
    refused int := 0;
    msg text := '-';
    hint text := '-';
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            IF i % 2 = 0 THEN
                PERFORM email_verify.check_signup(format('s%s-%s@b%s.test', session, i, lpad((i % 100)::text, 3, '0')),
                                                  budget => '5 s');
            ELSE
                PERFORM verify_email(format('v%s-%s@b%s.test', session, i, lpad((i % 100)::text, 3, '0')), 'dns');
            END IF;
            accepted := accepted + 1;
        EXCEPTION WHEN configuration_limit_exceeded THEN
            refused := refused + 1;
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
        END;
    END LOOP;
    RETURN format('%s %s %s|%s', accepted, refused, msg, hint);
END $$;

-- How many of n verify_email calls (level dns) go through.
CREATE FUNCTION granted(n int, prefix text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    accepted int := 0;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN
            PERFORM verify_email(format('%s%s@b007.test', prefix, i), 'dns');
            accepted := accepted + 1;
        EXCEPTION WHEN configuration_limit_exceeded THEN
        END;
    END LOOP;
    RETURN accepted;
END $$;
});

sub stats
{
	my ($role) = @_;
	return db(qq{SELECT format('%s %s %s/%s', checks, refusals, coalesce(per_minute::text, '-'), coalesce(per_day::text, '-'))
	             FROM email_verify.consumer_limit_stats WHERE role_name = '$role'});
}

# ---- several sessions of one limited role at once -----------------------------------------------
{
	my ($sessions, $calls) = (4, 24);
	my (@handles, @out, @err);
	# All start at the same moment, a second from now.
	my $start = time + 1.5;
	my $connstr = $node->connstr('postgres') . ' user=hammer';
	for my $k (0 .. $sessions - 1)
	{
		($out[$k], $err[$k]) = ('', '');
		push @handles, IPC::Run::start(
			[ 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', $connstr, '-c',
			  sprintf('SELECT hammer(%d, %d) FROM pg_sleep(greatest(0, %.3f - extract(epoch FROM clock_timestamp())))',
				  $k, $calls, $start) ],
			'>', \$out[$k], '2>', \$err[$k], IPC::Run::timeout(90));
	}
	my $all_ok = 1;
	for my $k (0 .. $sessions - 1)
	{
		$all_ok = 0 unless eval { $handles[$k]->finish };
	}
	my $elapsed = time - $start;
	ok($all_ok, "$sessions sessions of $calls calls each ran; no error but the refusals") or diag(join("\n", @err));
	my ($accepted, $refused, $msg) = (0, 0, '');
	for my $o (@out)
	{
		next unless $o =~ /^(\d+) (\d+) (.*)$/;
		$accepted += $1;
		$refused += $2;
		$msg = $3 if $3 ne '-|-';
	}
	# The bucket holds 30 and refills at 30 a minute, continuously.
	my $ceiling = 30 + int($elapsed * 30 / 60);
	cmp_ok($accepted, '<=', $ceiling, sprintf('accepted %d of %d: never more than the bucket (30 + %.1f s of refill = %d)',
		$accepted, $sessions * $calls, $elapsed, $ceiling));
	cmp_ok($accepted, '>=', 30, 'and the full burst of 30 was granted');
	is($accepted + $refused, $sessions * $calls, 'every call accepted or refused');
	like($msg, qr/^role "hammer" is over its email_verify limit of 30 (?:network-level )?checks per minute/,
		"the refusal's message: $msg");
	like($msg, qr/\|.*email_verify\.consumer_limits/, 'with a HINT about email_verify.consumer_limits');
	is(stats('hammer'), "$accepted $refused 30/-", 'consumer_limit_stats: the checks and refusals counted, the limit');
	is(db(q{SELECT last_refusal_at > now() - interval '5 minutes' FROM email_verify.consumer_limit_stats WHERE role_name = 'hammer'}),
		't', 'and the last refusal time');
}
fails_with($node, 'hammer', q{SELECT verify_email('more@strict.test', 'dns')}, '53400',
	qr/HINT:.*email_verify\.consumer_limits/, 'hammer, over its limit');
is(run_as($node, 'hammer', q{SELECT (verify_email('more@strict.test', 'syntax')).status}) == 0 ? 'ok' : 'refused', 'ok',
	'level syntax is not counted: still allowed');
{
	my ($rc, $out) = run_as($node, 'hammer', q{SELECT (email_verify.check_signup('more@strict.test', level => 'syntax')).decision});
	is("$rc $out", '0 accept', 'check_signup at level syntax: still allowed');
}

# ---- an ordinary role cannot lift its own limit, nor see others' ---------------------------------
for my $c ([ 'hammer', q{UPDATE email_verify.consumer_limits SET per_minute = 0 WHERE role_name = 'hammer'}, 'raise its own limit' ],
	[ 'hammer', q{DELETE FROM email_verify.consumer_limits WHERE role_name = 'hammer'}, 'delete its own row' ],
	[ 'nosy', q{INSERT INTO email_verify.consumer_limits VALUES ('nosy', 0, 0)}, 'give itself a row' ],
	[ 'nosy', q{UPDATE email_verify.consumer_limits SET per_minute = 1 WHERE role_name = 'hammer'}, "edit another role's limit" ],
	[ 'norow', q{SET email_verify.consumer_checks_per_minute = 0}, 'SET the settings that limit it' ],
	[ 'norow', q{SELECT set_config('email_verify.consumer_checks_per_day', '0', false)}, 'set_config the per-day setting' ],
	[ 'norow', q{ALTER ROLE norow SET email_verify.consumer_checks_per_minute = 0}, 'ALTER ROLE itself SET the setting' ],
	[ 'nosy', q{SELECT email_verify_internal.take_consumer_check('hammer'::regrole)}, "take another role's checks" ],
	[ 'hammer', q{SELECT email_verify_internal.signup_verdict('x@strict.test', 'default', 'dns', '1 s', false, false)},
		'call the unlimited decision of sync watches' ])
{
	fails_with($node, $c->[0], $c->[1], '42501', undef, "$c->[0] may not $c->[2]");
}
is(db(q{SELECT format('%s %s', per_minute, coalesce(per_day::text, '-')) FROM email_verify.consumer_limits WHERE role_name = 'hammer'}),
	'30 -', "hammer's row is as it was");
fails_with($node, 'hammer', q{UPDATE email_verify.consumer_limit_stats SET refusals = 0}, '\w+', undef,
	'the stats view cannot be written');
fails_with($node, 'hammer', q{SELECT verify_email('evenmore@strict.test', 'dns')}, '53400', undef,
	'hammer, after all that, is still over its limit');
{
	my ($rc, $out) = run_as($node, 'hammer', q{SELECT string_agg(role_name, ',') FROM email_verify.consumer_limit_stats});
	is($out, 'hammer', 'a role sees its own row of consumer_limit_stats only');
	($rc, $out) = run_as($node, 'nosy', q{SELECT count(*) FROM email_verify.consumer_limit_stats WHERE role_name <> current_user});
	is($out, '0', "an ordinary role without checks sees no one's row");
	($rc, $out) = run_as($node, 'nosy', q{SELECT count(*) FROM email_verify_internal.consumer_counters() WHERE role_oid <> 'nosy'::regrole});
	ok($rc != 0 || $out eq '0', "nor another role's counters through the function behind the view");
}

# ---- the day's bucket; verify_emails takes all its addresses or none ----------------------------------
my $eleven = q{ARRAY(SELECT 'd' || g || '@b003.test' FROM generate_series(1, 11) g)};
my $err = fails_with($node, 'daily', "SELECT count(*) FROM verify_emails($eleven, 'dns')", '53400',
	qr/role "daily" is over its email_verify limit of 10 (?:network-level )?checks per day/,
	'verify_emails of 11 addresses with 10 a day');
like($err, qr/HINT:/, 'with a HINT');
is(stats('daily'), '0 1 -/10', 'none of the 11 taken, one refusal');
{
	my ($rc, $out) = run_as($node, 'daily',
		q{SELECT count(*) FROM verify_emails(ARRAY['a@b003.test', NULL, 'b@b003.test', 'c@b003.test', NULL, 'd@b003.test'], 'dns')});
	is("$rc $out", '0 6', 'verify_emails of 4 addresses and 2 NULLs goes through');
}
is(stats('daily'), '4 1 -/10', 'only the non-NULL addresses counted');
is(db(q{SET ROLE daily; SELECT granted(6, 'daily'); RESET ROLE}), '6', 'six single checks more');
fails_with($node, 'daily', q{SELECT verify_email('x@b003.test', 'dns')}, '53400', qr/10 (?:network-level )?checks per day/,
	'the 11th check of the day');
fails_with($node, 'daily', q{SELECT email_verify.check_signup('x@strict.test')}, '53400', undef, 'check_signup over the day');
fails_with($node, 'daily', q{SELECT count(*) FROM verify_emails(ARRAY['x@b003.test'], 'dns')}, '53400', undef,
	'verify_emails of one over the day');
is(stats('daily'), '10 4 -/10', 'consumer_limit_stats: 10 checks, 4 refusals');

# ---- roles without a row: the settings ------------------------------------------------------------
is(db(q{SHOW email_verify.consumer_checks_per_day}), '100000', 'consumer_checks_per_day: 100000 by default');
is(db(q{SET ROLE norow; SELECT granted(8, 'norow'); RESET ROLE}), '5',
	'a role without a row: consumer_checks_per_minute (5 here) of 8 calls');
is(stats('norow'), '5 3 5/100000', 'its stats show the limits of the settings');
is(db(q{SELECT granted(20, 'super')}), '20', 'a superuser is not limited');

# ---- the bucket refills continuously ---------------------------------------------------------------
{
	# 120 a minute: 2 a second. The burst in one verify_emails, then nothing
	# left; 1.2 s later two more (2.4 refilled).
	my ($rc, $out, $e) = run_as($node, 'refill', q{
SELECT count(*) FROM verify_emails(ARRAY(SELECT 'r' || g || '@b005.test' FROM generate_series(1, 120) g), 'dns');
SELECT granted(1, 'again');
SELECT pg_sleep(1.2);
SELECT granted(5, 'later');});
	is($out, "120\n0\n\n2", 'per_minute 120: a burst of 120, none right after, 2 more 1.2 s later') or diag($e);
}

# ---- a sync watch counts against the writer ------------------------------------------------------
run_as($node, 'writer', q{
SET client_min_messages = error;
CREATE TABLE w_pol (id int PRIMARY KEY, email text);
SELECT email_verify.watch('w_pol', 'email', level => 'dns', mode => 'sync', policy => 'default');
CREATE TABLE w_closed (id int PRIMARY KEY, email text);
SELECT email_verify.watch('w_closed', 'email', level => 'dns', mode => 'sync', policy => 'closed');
CREATE TABLE w_plain (id int PRIMARY KEY, email text);
SELECT email_verify.watch('w_plain', 'email', level => 'dns', mode => 'sync');
INSERT INTO w_pol VALUES (1, 'alice@strict.test'), (2, 'bob@strict.test'), (3, 'info@strict.test');
});
is(stats('writer'), '3 0 -/3', "three inline checks taken from the writer's limit of 3 a day");
# (The rows as the trigger wrote them, by RETURNING: the worker, woken at
# commit, may finish them at once.)
my $returning = q{RETURNING format('%s/%s %s %s', email_status, email_reason, email_decision, email_verified_at IS NOT NULL)};
{
	my ($rc, $out, $e) = run_as($node, 'writer', "INSERT INTO w_pol VALUES (4, 'dave\@strict.test') $returning");
	is("$rc $out", '0 unknown/temporary_failure accept f',
		'over the limit, the default policy lets the row in (unknown: accept_and_recheck), left for the worker') or diag($e);
	# A role account is risky by its syntax alone: that verdict is written,
	# but the dns check is still owed, so the row is left for the worker.
	($rc, $out, $e) = run_as($node, 'writer', "INSERT INTO w_pol VALUES (5, 'sales\@strict.test') $returning");
	is("$rc $out", '0 risky/role_account warn f',
		'a role account over the limit: the syntax says risky (warn), still left for the worker') or diag($e);
}
is(stats('writer'), '3 2 -/3', 'both refusals counted');
fails_with($node, 'writer', q{INSERT INTO w_closed VALUES (1, 'alice@strict.test')}, '23514', undef,
	'over the limit under a policy whose unknown rule blocks');
{
	my ($rc, $out, $e) = run_as($node, 'writer',
		q{INSERT INTO w_plain VALUES (1, 'bob@strict.test') RETURNING format('%s/%s %s', email_status, email_reason, email_verified_at IS NOT NULL)});
	is("$rc $out", '0 unknown/temporary_failure f', 'a sync watch without a policy counts against the writer too') or diag($e);
}
is(stats('writer'), '3 4 -/3', 'every refusal counted');
ok(wait_for_value($node, q{SELECT string_agg(format('%s/%s %s', email_status, email_reason, email_verified_at IS NOT NULL), ' ' ORDER BY id)
                           FROM w_pol WHERE id IN (4, 5)},
	'valid/domain_ok t risky/role_account t', 20), 'the worker gives the rows over the limit their verdict');
ok(wait_for_value($node, q{SELECT format('%s/%s %s', email_status, email_reason, email_verified_at IS NOT NULL) FROM w_plain WHERE id = 1},
	'valid/domain_ok t', 20), 'and the row of the watch without a policy');
like(stats('writer'), qr/^3 \d+ -\/3$/, "the worker's check is not counted against the writer");

# ---- members of email_verify_admin: every role's counters, and the limits to edit ------------------
{
	my ($rc, $out, $e) = run_as($node, 'auditor',
		q{SELECT string_agg(role_name, ',' ORDER BY role_name) FROM email_verify.consumer_limit_stats
		  WHERE role_name IN ('hammer', 'daily', 'norow', 'refill', 'writer', 'nosy')});
	is($out, 'daily,hammer,norow,refill,writer', "a member of email_verify_admin sees every role's row") or diag($e);
	($rc, $out, $e) = run_as($node, 'auditor', q{UPDATE email_verify.consumer_limits SET per_day = 11 WHERE role_name = 'daily'});
	is($rc, 0, "a member of email_verify_admin raises a role's limit") or diag($e);
	($rc, $out, $e) = run_as($node, 'daily', q{SELECT (verify_email('one.more@b003.test', 'dns')).reason});
	is("$rc $out", '0 domain_ok', 'the new limit applies at once: one check more');
	fails_with($node, 'daily', q{SELECT verify_email('two.more@b003.test', 'dns')}, '53400', qr/limit of 11 /, 'and no more');
}

$node->stop;
done_testing();
