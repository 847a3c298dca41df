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

echo "== Levels dns and smtp arrive with the native prober:"
run -c "SELECT (verify_email('ada@example.com', 'smtp')).status" 2>&1 | sed 's/^/   /' || true

echo
echo "The cluster keeps running: eval \"\$(scripts/cluster.sh env)\"; psql   (stop: scripts/cluster.sh stop)"
