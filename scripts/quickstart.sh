#!/bin/bash
# The main job, on a fresh Debian 12 machine as root: installs the
# dependencies, builds and installs the extension, starts a throwaway cluster
# under the repo (.cluster/) and shows verification working end to end.
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
run -c 'CREATE EXTENSION IF NOT EXISTS email_verify'
run -f examples/contacts.sql

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

echo "== What the prober did in that session"
run -c "SELECT email_verify.clear_cache(); SELECT count(*) FROM verify_emails($sample, 'smtp');
        SELECT sessions_opened, max_sessions_per_host, rcpts_sent, catch_all_probes FROM email_verify.prober_stats()"
unset PGOPTIONS

echo
echo "The cluster keeps running: eval \"\$(scripts/cluster.sh env)\"; psql   (stop: scripts/cluster.sh stop)"
echo "So does the mail world (testworld/README.md): testworld/world.sh stop"
