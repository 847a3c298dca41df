#!/bin/bash
# A throwaway PostgreSQL 15 cluster for this clone, owned by the `postgres` OS
# user because the server refuses to run as root.
# Usage: scripts/cluster.sh start|stop|status|env
#   start  initdb if needed, start with shared_preload_libraries = email_verify
#   env    prints PGHOST/PGPORT/PGUSER/PGDATABASE exports for the other scripts
#
# Where: .cluster/ in the repo (git-ignored). When the server could not use
# that place -- the postgres user cannot enter the repo (a clone under /root,
# mode 700, or a tree others cannot read), or its path holds a character the
# server's configuration or pg_ctl's shell command cannot carry (a quote, a
# backslash, a dollar; spaces are fine), or the socket's path would be too
# long -- the cluster lives in /var/tmp/email_verify-cluster.XXXXXX and
# .cluster is a link to it. Every path handed to the server, initdb and
# pg_ctl is the resolved one, and they run from /, never from the repo.
#
# The server listens on no TCP port, only on a Unix socket in its own
# directory: the port (EV_PGPORT, default 54329, fixed at initdb) only names
# that socket, so the clusters of several clones run side by side.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bindir=$(pg_config --bindir)
link="$repo/.cluster"
port=${EV_PGPORT:-54329}
run_as=postgres
me=scripts/cluster.sh

say() { echo "$me: $*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a program as the server's owner, from / (the caller's working
# directory may be one the owner cannot enter: initdb and pg_ctl would
# complain that they cannot change back to it).
as_owner() {
    if is_root; then
        (cd / && runuser -u "$run_as" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Whether the server can live in dir: a path its configuration, pg_ctl's
# shell command and a socket's address can carry, in a directory (enter)
# that the owner can enter.
usable() {  # dir enter
    local dir=$1 enter=$2
    [[ $dir =~ ^[[:alnum:]\ ._/+@=:~-]+$ ]] || return 1
    # sun_path holds 107 bytes: <dir>/.s.PGSQL.<port>
    [ "$(LC_ALL=C; echo "${#dir}")" -le 90 ] || return 1
    if is_root; then
        runuser -u "$run_as" -- test -x "$enter" || return 1
    fi
}

# The resolved directory of the cluster, or nothing when there is none yet.
resolved() {
    if [ -d "$link" ]; then readlink -f "$link"; fi
}

prepare() {
    local dir
    if [ -L "$link" ] && [ ! -e "$link" ]; then
        say "$link points to $(readlink "$link"), which is gone; making a new cluster"
        rm -f "$link"
    fi
    if [ -e "$link" ]; then
        dir=$(resolved)
        if ! usable "$dir" "$dir"; then
            say "the $run_as user cannot use $dir (was the clone moved?)"
            if [ "$dir" = "$link" ]; then
                say "start afresh with: $me stop; rm -rf $(printf '%q' "$link"); $me start"
            else
                say "start afresh with: $me stop; rm -rf $(printf '%q %q' "$dir" "$link"); $me start"
            fi
            exit 1
        fi
        return
    fi
    if usable "$link" "$repo"; then
        mkdir "$link"
        dir=$link
    else
        dir=$(mktemp -d /var/tmp/email_verify-cluster.XXXXXX)
        chmod 755 "$dir"
        ln -s "$dir" "$link"
    fi
    if is_root; then chown "$run_as" "$dir"; fi
}

configured_port() {  # the port the cluster was made with, else EV_PGPORT's
    local dir conf
    dir=$(resolved)
    conf=${dir:+$dir/data/postgresql.conf}
    if [ -n "$conf" ] && [ -f "$conf" ]; then
        sed -n 's/^port = \([0-9]*\)$/\1/p' "$conf" | tail -n 1
    else
        echo "$port"
    fi
}

case "${1:-}" in
start)
    prepare
    dir=$(resolved)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'email_verify'
fsync = off
max_worker_processes = 16
# Every MX host of the local test world is ours: no politeness rates (the
# defaults are for the open internet; the per-host session limit stays).
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
CONF
    elif [ -n "${EV_PGPORT:-}" ] && [ "$EV_PGPORT" != "$(configured_port)" ]; then
        say "this cluster was made with port $(configured_port); EV_PGPORT=$EV_PGPORT is ignored"
    fi
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null || {
            say "the server did not start; $dir/server.log says:"
            tail -n 5 "$dir/server.log" >&2
            exit 1
        }
    fi
    ;;
stop)
    dir=$(resolved)
    if [ -n "$dir" ] && [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
status)
    dir=$(resolved)
    if [ -z "$dir" ] || [ ! -f "$dir/data/PG_VERSION" ]; then
        echo "no cluster in $link"
        exit 4
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" status
    ;;
env)
    dir=$(resolved)
    printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres PGDATABASE=postgres\n' "${dir:-$link}" "$(configured_port)"
    ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
