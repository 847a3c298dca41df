#!/bin/bash
# A throwaway PostgreSQL 15 cluster under the repo (.cluster/, git-ignored),
# owned by the `postgres` OS user because the server refuses to run as root.
# Usage: scripts/cluster.sh start|stop|status|env
#   start  initdb if needed, start with shared_preload_libraries = email_verify
#   env    prints PGHOST/PGPORT/PGUSER exports for the other scripts
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bindir=$(pg_config --bindir)
root="$repo/.cluster"
data="$root/data"
port=${EV_PGPORT:-54329}
run_as=postgres

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$run_as" -- "$@"; else "$@"; fi
}

# The server's user must be able to reach the data directory. When the repo
# sits where it cannot (a clone under /root), .cluster becomes a link to a
# directory of the same purpose under /var/tmp.
prepare_root() {
    [ -e "$root" ] && return
    if [ "$(id -u)" != 0 ] || runuser -u "$run_as" -- test -x "$repo"; then
        mkdir -p "$root"
    else
        local target
        target=$(mktemp -d /var/tmp/email_verify-cluster.XXXXXX)
        chmod 755 "$target"
        ln -s "$target" "$root"
    fi
    if [ "$(id -u)" = 0 ]; then chown "$run_as" "$(readlink -f "$root")"; fi
}

case "${1:-}" in
start)
    prepare_root
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$root/initdb.log"
        cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$(readlink -f "$root")'
shared_preload_libraries = 'email_verify'
fsync = off
max_worker_processes = 16
CONF
    fi
    if ! as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w start >/dev/null
    fi
    ;;
stop)
    if [ -f "$data/PG_VERSION" ]; then as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true; fi
    ;;
status)
    as_owner "$bindir/pg_ctl" -D "$data" status
    ;;
env)
    echo "export PGHOST='$(readlink -f "$root")' PGPORT=$port PGUSER=postgres PGDATABASE=postgres"
    ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
