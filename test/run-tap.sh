#!/bin/bash
# Runs the TAP suites (test/t/*.pl, PostgreSQL::Test::Cluster) against the
# installed extension. The framework runs initdb, which refuses root, so the
# suites run as the `postgres` OS user from a scratch copy it owns.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
pgxs=$(cd "$(dirname "$(pg_config --pgxs)")/../.." && pwd)
bindir=$(pg_config --bindir)

work=$(mktemp -d /var/tmp/email_verify-tap.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/test/t" "$work/t"
runner=()
if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$work"
    runner=(runuser -u postgres --)
fi
cd "$work"
# shellcheck disable=SC2086  # PROVE_FLAGS: one word per flag
"${runner[@]}" env PATH="$bindir:$PATH" PERL5LIB="$pgxs/src/test/perl" \
    PG_REGRESS="$pgxs/src/test/regress/pg_regress" TESTDIR="$work" \
    prove --timer ${PROVE_FLAGS:-} t/*.pl
