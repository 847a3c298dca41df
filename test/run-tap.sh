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
# What the suites start besides PostgreSQL, in the repository's layout (the
# postgres user may not enter the repository): the webhook receiver with its
# npm packages, its Perl helper, the receiver examples.
receiver="$repo/test/webhook-receiver"
[ -d "$receiver/node_modules" ] || npm ci --prefix "$receiver" --no-audit --no-fund
mkdir -p "$work/test" "$work/examples"
cp -r "$repo/test/perl" "$repo/test/webhook-receiver" "$work/test/"
cp -r "$repo/examples/webhooks" "$work/examples/"
runner=()
if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$work"
    runner=(runuser -u postgres --)
fi
cd "$work"
# shellcheck disable=SC2086  # PROVE_FLAGS: one word per flag
"${runner[@]}" env PATH="$bindir:$PATH" PERL5LIB="$pgxs/src/test/perl:$work/test/perl" \
    PG_REGRESS="$pgxs/src/test/regress/pg_regress" TESTDIR="$work" \
    prove --timer ${PROVE_FLAGS:-} t/*.pl
