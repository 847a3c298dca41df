#!/bin/bash
# The README's commands from a clone anywhere (as root). Copies the working
# tree (its tracked and unignored files, with the build's outputs so that
# make has nothing to do) to two places a newcomer may clone to:
#   A  <tmp>/private/main       under a mode-700 directory, as a clone in /root
#   B  <tmp>/with space/main    a path with a space in it
# A runs the whole quickstart (scripts/cluster.sh, testworld/world.sh, the
# probes, the worker); its output must read cleanly. B, a second clone,
# then starts its own cluster (the same port number: only a socket in its
# own directory) and the mail world (the running one, shared), and probes
# through it while A's cluster and world run. Stopping B's world leaves it
# to A; stopping A's stops it, unless a clone that used it before this test
# (the repo's) still does. Every path a server got must be the resolved
# one, where its user can enter.
# Cleans up what it started, even when it fails; every wait is bounded.
# Usage: test/clone_anywhere.sh   (test/run-all.sh runs it after make install)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "clone_anywhere: must run as root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/email_verify-clones.XXXXXX)
chmod 755 "$tmp"
a="$tmp/private/main"
b="$tmp/with space/main"
mkdir -p "$a" "$b"
chmod 700 "$tmp/private"
# Hermetic: the caller's cluster, port and world settings do not leak in.
unset PGHOST PGPORT PGUSER PGDATABASE PGOPTIONS EV_PGPORT EV_WORLD_DIR
export PGCONNECT_TIMEOUT=10
failures=0

pass() { echo "ok - $1"; }
fail() { echo "not ok - $1"; failures=$((failures + 1)); }
check() {  # description command...
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

world_running() { "$repo/testworld/world.sh" status >/dev/null 2>&1; }
world_dir() { (eval "$("$1/testworld/world.sh" env)" && echo "$EV_WORLD_DIR"); }

# What this test may remove: the directories its clones made under /var/tmp,
# never the repo's own (nor another clone's).
ours() {  # dir
    case "$1" in /var/tmp/email_verify-cluster.* | /var/tmp/email_verify-world.*) ;; *) return 1 ;; esac
    [ "$1" != "$repo_cluster" ] && [ "$1" != "$repo_world" ] && [ "$1" != "$world_at_start" ]
}

cleanup() {
    local clone dir
    for clone in "$b" "$a"; do
        [ -x "$clone/scripts/cluster.sh" ] || continue
        "$clone/scripts/cluster.sh" stop
        "$clone/testworld/world.sh" stop 2>/dev/null
    done
    for clone in "$b" "$a"; do
        dir=$(readlink -f "$clone/.world" 2>/dev/null) || continue
        # A world that others still use keeps its directory.
        if [ "$(readlink /run/email_verify/world 2>/dev/null)" = "$dir" ] && world_running; then
            echo "# the world in $dir stays: another clone still uses it"
            continue
        fi
        if [ -L "$clone/.world" ] && ours "$dir"; then rm -rf "$dir"; fi
    done
    for clone in "$b" "$a"; do
        dir=$(readlink -f "$clone/.cluster" 2>/dev/null) || continue
        if [ -L "$clone/.cluster" ] && ours "$dir"; then rm -rf "$dir"; fi
    done
    rm -rf "$tmp"
}
repo_cluster=$(readlink -f "$repo/.cluster")
repo_world=$(readlink -f "$repo/.world")
world_at_start=$(readlink /run/email_verify/world 2>/dev/null) || world_at_start=
trap cleanup EXIT
trap 'exit 1' INT TERM

# The working tree as a clone would hold it, plus the build's outputs; not
# the repo's own .cluster and .world (links, when it sits under /root).
copy_tree() {  # dest
    (cd "$repo" && {
        git ls-files -z --cached --others --exclude-standard
        find . -maxdepth 1 -name '*.so' -print0
        find src \( -name '*.o' -o -name '*.d' -o -name '*.gen.cpp' \) -print0
    } | grep -zv -e '^\.cluster$' -e '^\.world$' |
        tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$1" &&
        [ ! -e "$1/.cluster" ] && [ ! -L "$1/.cluster" ] && [ ! -e "$1/.world" ] && [ ! -L "$1/.world" ]
}
if ! copy_tree "$a" || ! copy_tree "$b"; then echo "clone_anywhere: copying the tree failed" >&2; exit 1; fi

world_before=no
if world_running; then world_before=yes; fi
echo "# a world ran before: $world_before"

# Whether user can enter (and read) path.
reaches() {  # user path
    runuser -u "$1" -- test -r "$2"
}
# Whether dir is (or resolves to) a place outside the clone's private parent.
outside_private() { case "$(readlink -f "$1")" in "$tmp/private"*) return 1 ;; esac; }

# --- A: the quickstart from under a mode-700 directory -----------------------
out=$tmp/quickstart.out
timeout -k 5 150 "$a/scripts/quickstart.sh" >"$out" 2>&1
rc=$?
check "A: the quickstart from a clone under a mode-700 directory (rc $rc)" [ $rc = 0 ]
[ $rc = 0 ] || tail -n 25 "$out" | sed 's/^/#   /'
check "A: no NOTICE in the quickstart's output" bash -c "! grep -n NOTICE '$out'"
check "A: no empty result row of a function returning nothing" \
    bash -c "! grep -En '^ (watch|clear_cache|pg_reload_conf) *\$' '$out'"
check "A: the last screen says how to stop both" bash -c \
    "tail -n 12 '$out' | grep -q 'cluster.sh stop' && tail -n 12 '$out' | grep -q 'world.sh stop'"
a_env=$("$a/scripts/cluster.sh" env)
a_host=$(eval "$a_env" && echo "$PGHOST")
check "A: .cluster is a link out of the private directory ($a_host)" \
    bash -c "[ -L '$a/.cluster' ] && [ '$a_host' = \"\$(readlink -f '$a/.cluster')\" ]"
check "A: postgres reaches the cluster's directory" reaches postgres "$a_host/data/PG_VERSION"
a_world=$(world_dir "$a")
check "A: the world's directory is outside the private one ($a_world)" outside_private "$a_world"
for u in postfix postgrey postgres; do
    check "A: $u enters the world's directory" reaches "$u" "$a_world/postfix"
done

# --- B: a second clone, with a space in its path, while A's run ----------------
(cd "$b" && scripts/cluster.sh start)
check "B: scripts/cluster.sh start beside A's cluster" [ $? = 0 ]
b_host=$(eval "$("$b/scripts/cluster.sh" env)" && echo "$PGHOST")
check "B: the cluster in the clone itself ($b_host)" [ "$b_host" = "$b/.cluster" ]
world_log=$tmp/world-b.log
(cd "$b" && testworld/world.sh start) 2>"$world_log"
check "B: testworld/world.sh start while A's world runs" [ $? = 0 ]
sed 's/^/#   /' "$world_log"
check "B: shares the running world" grep -q 'sharing the mail world' "$world_log"
check "B: env names the running world's directory" [ "$(world_dir "$b")" = "$a_world" ]

probe() {  # clone
    (eval "$("$1/scripts/cluster.sh" env)" &&
        PGOPTIONS="-c statement_timeout=20s -c email_verify.dns_servers=127.0.53.1:53 -c email_verify.result_ttl=0" \
            psql -X -q -At -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
            -c "CREATE EXTENSION IF NOT EXISTS email_verify" \
            -c "SELECT status || '/' || reason FROM verify_email('alice@strict.test', 'smtp')" 2>&1)
}
got=$(probe "$b")
check "B: an smtp probe through B's cluster: '$got'" [ "$got" = "valid/accepted" ]
got=$(probe "$a")
check "A: and through A's, on the same port number: '$got'" [ "$got" = "valid/accepted" ]

# --- stopping --------------------------------------------------------------------
"$b/scripts/cluster.sh" stop
"$b/testworld/world.sh" stop 2>/dev/null
check "B stopped: A's world still runs" world_running
got=$(probe "$a")
check "B stopped: A still probes: '$got'" [ "$got" = "valid/accepted" ]
"$a/scripts/cluster.sh" stop
"$a/testworld/world.sh" stop 2>/dev/null
if [ $world_before = yes ]; then
    check "A stopped: the world that ran before still runs" world_running
else
    check "A stopped: the world is stopped" bash -c "! '$repo/testworld/world.sh' status >/dev/null 2>&1"
fi

echo "clone_anywhere: $failures failed"
[ $failures = 0 ]
