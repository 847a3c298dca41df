#!/bin/bash
# The main job, on a fresh Debian 12 machine as root: installs the
# dependencies, builds and installs the extension, starts a throwaway cluster
# under the repo (.cluster/) and shows verification working end to end.
# Runs from a clone anywhere (under /root, a path with a space, beside
# another clone's cluster and world); ends with what keeps running, where,
# and how to stop it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

scripts/install-deps.sh
echo "== building and installing email_verify"
make -s -j"$(nproc)"
make -s install
echo "== starting the throwaway cluster (.cluster/)"
scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"

run() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# The quickstart's own set-up: no notices ("already installed", "does not
# exist, skipping"), no empty rows of the functions that return nothing.
setup() { run -c 'SET client_min_messages = warning' "$@" >/dev/null; }
setup -c 'CREATE EXTENSION IF NOT EXISTS email_verify' -c 'ALTER EXTENSION email_verify UPDATE'  # a re-run upgrades
setup -f examples/contacts.sql

echo
echo "== One address, every column (level syntax: no network)"
run -x -c "SELECT * FROM verify_email('John.Doe@GMIAL.con', 'syntax')"

echo "== The contacts table, verified in place"
run -c "
SELECT c.name, c.email, (v).status, (v).reason, (v).suggestion,
       (v).is_disposable AS disposable, (v).is_role AS role, (v).is_free AS free, (v).score
FROM contacts c, LATERAL (SELECT verify_email(c.email, 'syntax') AS v) x
ORDER BY c.id"

echo "== Many addresses in one call, in input order"
run -c "
SELECT email, normalized, status, reason
FROM verify_emails(ARRAY['ok@example.com', 'bad@@example.com', 'info@example.com', NULL], 'syntax')"

echo "== Helpers for constraints and indexes"
run -c "
SELECT email_verify.normalize_email('  Jane@Bücher.EXAMPLE ') AS normalized,
       email_verify.suggest_email('bob@gmail.con') AS suggestion,
       email_verify.syntax_error('alan..turing@example.org') AS why_invalid"

echo "== Starting the local mail world (testworld/: unbound, Postfix, postgrey, scripted SMTP on 127.0.x.y)"
testworld/world.sh start
# Every probe below stays on loopback: DNS answers come from the world's unbound.
export PGOPTIONS="-c email_verify.dns_servers=127.0.53.1:53 -c email_verify.result_ttl=0"
sample="ARRAY['alice@strict.test', 'jane.doe@strict.test', 'anyone@catchall.test', 'alice@grey.test',
              'someone@nullmx.test', 'ghost@nosuch.test', 'sales@strict.test', 'john@gmail.con']"

echo "== Level dns: MX lookups through c-ares"
run -c "SELECT email, status, reason, mx_found, mx_host, suggestion FROM verify_emails($sample, 'dns')"

echo "== Level smtp: the mailbox probe (one session per MX host, catch-all checked once per domain)"
run -c "SELECT email, status, reason, is_catch_all AS catch_all, smtp_code AS code, smtp_message, score
        FROM verify_emails($sample, 'smtp')"

echo "== What the prober did for those 8 addresses (its counters, in a fresh session)"
run <<SQL
\o /dev/null
SELECT email_verify.clear_cache();
SELECT count(*) FROM verify_emails($sample, 'smtp');
\o
SELECT sessions_opened, max_sessions_per_host, rcpts_sent, catch_all_probes FROM email_verify.prober_stats();
SQL
unset PGOPTIONS

echo "== In place: a watched table, filled in by the background worker"
# The worker reads its settings from the server's configuration, not from a session.
setup -c "ALTER SYSTEM SET email_verify.dns_servers = '127.0.53.1:53'" \
    -c "ALTER SYSTEM SET email_verify.retry_delay = '2s'" -c "SELECT pg_reload_conf()"
setup -c "
DROP TABLE IF EXISTS lab_contacts, signups;
CREATE TABLE lab_contacts (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, email text);
INSERT INTO lab_contacts (name, email) VALUES
    ('Alice', 'alice@strict.test'), ('Jane', 'jane.doe@strict.test'), ('Anyone', 'anyone@catchall.test'),
    ('Grey', 'bob@grey.test'), ('Null MX', 'someone@nullmx.test'), ('Sales', 'sales@strict.test');
SELECT email_verify.watch('lab_contacts', 'email');"
echo "   (the worker probes; bob@grey.test is greylisted first and retried after postgrey's delay)"
for _ in $(seq 1 60); do
    left=$(psql -X -At -c "SELECT count(*) FROM lab_contacts WHERE email_status IS NULL OR email_reason = 'greylisted'")
    [ "$left" = 0 ] && break
    sleep 0.5
done
run -c "SELECT id, name, email, email_status, email_reason, email_catch_all, email_verified_at IS NOT NULL AS verified
        FROM lab_contacts ORDER BY id"

echo "== A signup form's table: checked inline, a typo rejected with its suggestion"
setup -c "CREATE TABLE signups (id serial PRIMARY KEY, email text);
        SELECT email_verify.watch('signups', 'email', level => 'dns', mode => 'sync', reject_invalid => true)"
echo "   INSERT INTO signups (email) VALUES ('john@gmial.con')"
run -v SHOW_CONTEXT=never -c "INSERT INTO signups (email) VALUES ('john@gmial.con')" 2>&1 | sed 's/^/   /' || true
run -c "INSERT INTO signups (email) VALUES ('alice@strict.test') RETURNING email, email_status, email_reason"

echo "== The signup decision: accept, warn or block, within a 300 ms budget (the tarpit never answers)"
run -c "SELECT address, d.decision, d.message, d.status, d.reason, d.budget_spent, round(d.duration_ms) AS ms
        FROM unnest(ARRAY['alice@strict.test', 'nosuchuser@strict.test', 'info@strict.test', 'john@gmial.con',
                          'alice@tarpit.test']) AS address,
             LATERAL email_verify.check_signup(address) d"

echo "== A bulk job: submitted at once, drained by the worker, read back with SQL"
job=$(psql -X -At -v ON_ERROR_STOP=1 -c "SELECT email_verify.submit_job(ARRAY['alice@strict.test', 'ALICE@strict.TEST',
        'nosuchuser@strict.test', 'anyone@catchall.test', 'x@nullmx.test', 'not an address'], level => 'smtp')")
echo "   SELECT email_verify.submit_job(ARRAY[...6 addresses...], level => 'smtp')  -> job $job"
for _ in $(seq 1 60); do
    state=$(psql -X -At -c "SELECT state FROM email_verify.job_status($job)")
    [ "$state" = completed ] && break
    sleep 0.5
done
run -c "SELECT state, total, unique_addresses, processed, valid, invalid, risky, unknown, reasons
        FROM email_verify.job_status($job)" \
    -c "SELECT email, status, reason, is_catch_all AS catch_all FROM email_verify.job_results($job)"

echo "== The statistics"
# queue_stats lists only what still waits: after the drain, nothing; its total says so.
run -c "SELECT table_name, column_name, level, mode, suspended_reason IS NULL AS active FROM email_verify.watch_status" \
    -c "SELECT coalesce(sum(items), 0) AS items_waiting FROM email_verify.queue_stats" \
    -c "SELECT * FROM email_verify.verdict_stats" \
    -c "SELECT * FROM email_verify.worker_stats()"

world_dir=$(eval "$(testworld/world.sh env)"; echo "$EV_WORLD_DIR")
here=$(printf '%q' "$repo")
cat <<DONE

== Still running, for you to try
PostgreSQL 15 (throwaway cluster of this clone, user postgres, database postgres)
   directory  $PGHOST  (data/, server.log)
   socket     $PGHOST/.s.PGSQL.$PGPORT  (no TCP port)
   connect    psql -h $(printf '%q' "$PGHOST") -p $PGPORT -U postgres
              (or, in the clone: eval "\$(scripts/cluster.sh env)"; psql)
   stop       $here/scripts/cluster.sh stop
The mail world (testworld/README.md), loopback only
   DNS        127.0.53.1:53 (zone test.)      Postfix   127.0.1.1:25, 127.0.1.2:25
   postgrey   127.0.0.1:10023                  scripted  127.0.2.11-34:25
   logs       $world_dir
   stop       $here/testworld/world.sh stop
DONE
