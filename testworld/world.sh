#!/bin/bash
# The local mail world the prober's tests talk to, all on loopback:
#   unbound    127.0.53.1:53          the zone "test." (make-zones.py)
#   Postfix    127.0.1.1:25 127.0.1.2:25 [::1]:25   real mailboxes (make-maps.py)
#   postgrey   127.0.0.1:10023        greylisting for grey.test, 3 s delay
#   scripted   127.0.2.N:25           odd servers (behaviours.txt), control 127.0.2.1:8025
# Usage: testworld/world.sh start|stop [--all]|restart|status|env
#   start  starts what is not running and returns once everything answers
#   stop   this clone is done with the world: stops it unless another clone
#          still uses it (--all: for everyone); safe when nothing runs
#   env    prints EV_WORLD_* exports for the tests
# State, configuration and logs: $EV_WORLD_DIR (default <repo>/.world).
# Runs as root: Postfix and port 53/25 need it.
#
# The addresses are fixed, so a machine has one world. A second clone whose
# testworld/ is the same shares the running one (and its state directory);
# the world stops when the last clone using it stops it (<state>/users).
# A clone whose testworld/ differs is refused, with the command that stops
# the running one.
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
own=${EV_WORLD_DIR:-$repo/.world}
[[ $own == /* ]] || own=$PWD/$own
state=$own
behaviours=$here/behaviours.txt
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3  # Debian's, not a pyenv shim
# The machine's one world: the state directory it runs from, and the lock
# every world.sh takes before it starts or stops anything.
registry=/run/email_verify
current=$registry/world
# Nothing below needs the caller's directory, which may be one the daemons'
# users cannot enter.
cd /

say() { echo "world: $*" >&2; }

# A path for a shell to paste.
quoted() { printf '%q' "$1"; }

# Whether the world can live in dir: Postfix's configuration takes no space
# or quote in a path, and postfix, postgrey and postgres (TAP 006 reads the
# maillog) must be able to enter it.
usable() {  # dir enter
    local user
    [[ $1 =~ ^[[:alnum:]._/+@=:~-]+$ ]] || return 1
    for user in postfix postgrey postgres; do
        if id "$user" >/dev/null 2>&1; then
            runuser -u "$user" -- test -x "$2" || return 1
        fi
    done
}

# This clone's own state directory. When the repo's path is not usable (a
# clone under /root, mode 700; a path with a space), .world becomes a link
# to a directory of the same purpose under /var/tmp (as scripts/cluster.sh).
prepare_state() {
    state=$own
    if [ -L "$state" ] && [ ! -e "$state" ]; then
        rm -f "$state"  # its /var/tmp directory is gone
    fi
    if [ ! -e "$state" ]; then
        if [ -n "${EV_WORLD_DIR:-}" ] || usable "$state" "$repo"; then
            mkdir -p "$state"
        else
            ln -s "$(mktemp -d /var/tmp/email_verify-world.XXXXXX)" "$state"
        fi
    fi
    chmod 755 "$(readlink -f "$state")"
    state=$(readlink -f "$state")
    if ! usable "$state" "$state"; then
        say "postfix, postgrey or postgres cannot use $state (was the clone moved?)"
        say "remove it and start again: rm -rf $(quoted "$state") $(quoted "$own")"
        exit 1
    fi
    mkdir -p "$state/dns" "$state/postfix" "$state/postgrey" "$state/smtp" "$state/users"
}

# What this testworld/ serves: a world made from other files is not shared.
definition() {
    (cd "$here" && cat world.sh behaviours.txt make-zones.py make-maps.py unbound.conf.in \
        scripted_smtp.py postfix/*.in) | sha256sum | cut -d' ' -f1
}

# This clone, as a user of the world in state.
user_file() {  # state
    echo "$1/users/$(printf '%s' "$repo" | sha256sum | cut -c1-16)"
}

# The clones that use the world in state (those that still exist).
users() {  # state
    local f r
    for f in "$1"/users/*; do
        [ -f "$f" ] || continue
        r=$(cat "$f")
        if [ -x "$r/testworld/world.sh" ]; then echo "$r"; else rm -f "$f" 2>/dev/null || true; fi
    done
}

# A pid is ours while the process lives, is no zombie (a container's init
# may not reap) and still runs the program we started.
alive() {  # pidfile program
    local pid stat cmdline
    pid=$(cat "$1" 2>/dev/null) || return 1  # unbound removes its own at exit
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$2"* ]]
}

# Test suites (of any clone) may start and stop the world at the same time;
# one at a time. The daemons are started with fd 9 closed, or they would
# hold the lock.
lock() {
    [ -d "$registry" ] || mkdir -m 755 "$registry"
    exec 9>"$registry/world.lock"
    flock -w 60 9 || { say "another world.sh holds $registry/world.lock"; exit 1; }
}

# postfix(1) pauses a second after a fatal error such as a missing main.cf,
# so that case is answered here.
postfix_running() {  # [state]
    local dir=${1:-$state}
    [ -f "$dir/postfix/etc/main.cf" ] && postfix -c "$dir/postfix/etc" status >/dev/null 2>&1
}

# Whether any part of the world in dir runs.
any_alive() {  # dir
    alive "$1/dns/unbound.pid" unbound || alive "$1/postgrey/postgrey.pid" postgrey ||
        alive "$1/smtp/scripted.pid" scripted_smtp.py || postfix_running "$1"
}

# The state directory of the world that runs on this machine, if one does.
running_world() {
    local dir
    dir=$(readlink "$current" 2>/dev/null) || return 1
    [ -d "$dir" ] && any_alive "$dir" && echo "$dir"
}

stop_pid() {  # pidfile program
    local pid
    if alive "$1" "$2"; then
        pid=$(cat "$1")
        kill "$pid"
        for _ in $(seq 50); do alive "$1" "$2" || break; sleep 0.1; done
        if alive "$1" "$2"; then kill -9 "$pid"; fi
    fi
    rm -f "$1"
}

# Fails with a clear message when another program holds one of our
# addresses (Debian's own postfix or unbound on 0.0.0.0, or the world of a
# clone whose world.sh kept no record of it): ours would not start, and the
# other one would answer the tests instead.
require_free() {  # proto host port ...
    local proto=$1 taken
    shift
    taken=$("$python" - "$proto" "$@" <<'EOF'
import socket, sys
proto, pairs = sys.argv[1], sys.argv[2:]
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
for host, port in zip(pairs[::2], pairs[1::2]):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as e:
            print(f"{proto} [{host}]:{port} is already in use ({e.strerror})")
            print(f"{host}:{port}" if family == socket.AF_INET else f"[{host}]:{port}")
            break
EOF
)
    [ -n "$taken" ] || return 0
    say "${taken%%$'\n'*}; held by:"
    ss -Hlnp "$([ "$proto" = udp ] && echo -u || echo -t)" 2>/dev/null |
        awk -v a="${taken##*$'\n'}" '$4 == a' | grep -o 'pid=[0-9]*' | sort -u |
        while IFS='=' read -r _ pid; do say "  $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline")"; done || true
    say "stop it first: Debian's own service (systemctl stop postfix unbound postgrey),"
    say "or another clone's world (<that clone>/testworld/world.sh stop --all)"
    exit 1
}

has_ipv6() {
    "$python" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null
}

start_dns() {
    local dir=$state/dns
    alive "$dir/unbound.pid" unbound && return
    require_free udp 127.0.53.1 53
    require_free tcp 127.0.53.1 53
    "$python" "$here/make-zones.py" "$behaviours" "$dir/test.zone.conf"
    sed "s|@DIR@|$dir|g" "$here/unbound.conf.in" >"$dir/unbound.conf"
    unbound -c "$dir/unbound.conf" 9>&-
}

start_postgrey() {
    local dir=$state/postgrey
    alive "$dir/postgrey.pid" postgrey && return
    require_free tcp 127.0.0.1 10023
    # A fresh database each time, so the first RCPT of a triplet is always
    # greylisted and the tests do not depend on earlier runs.
    rm -rf "$dir/db"
    mkdir -p "$dir/db"
    chown postgrey:postgrey "$dir/db"
    : >"$dir/whitelist_clients"
    : >"$dir/whitelist_recipients"
    # In the foreground under setsid rather than --daemonize: a daemonized
    # postgrey logs only to syslog, which a container does not have.
    setsid postgrey --inet=127.0.0.1:10023 --delay=3 --max-age=1 \
        --auto-whitelist-clients=0 --dbdir="$dir/db" \
        --whitelist-clients="$dir/whitelist_clients" \
        --whitelist-recipients="$dir/whitelist_recipients" \
        </dev/null >>"$dir/postgrey.log" 2>&1 9>&- &
    echo $! >"$dir/postgrey.pid"
}

start_postfix() {
    local dir=$state/postfix protocols=ipv4 v6='#'
    postfix_running && return
    if has_ipv6; then protocols=all v6=; fi
    require_free tcp 127.0.1.1 25 127.0.1.2 25
    if [ -z "$v6" ]; then require_free tcp ::1 25; fi
    mkdir -p "$dir/etc" "$dir/queue" "$dir/data"
    chown postfix "$dir/data"
    sed -e "s|@DIR@|$dir|g" -e "s|@INET_PROTOCOLS@|$protocols|" \
        "$here/postfix/main.cf.in" >"$dir/etc/main.cf"
    sed -e "s|@V6@|$v6|" "$here/postfix/master.cf.in" >"$dir/etc/master.cf"
    "$python" "$here/make-maps.py" "$dir/etc"
    # Postfix waits until a just-written main.cf or lookup table is a second
    # or so old (it might still be being edited); ours are complete, so
    # date them back.
    touch -d "@$(($(date +%s) - 10))" "$dir"/etc/*
    # postfix(1) reports its errors only to a terminal or the log.
    postfix -c "$dir/etc" start >/dev/null 2>&1 9>&- || {
        say "postfix did not start; $dir/maillog says:"
        tail -5 "$dir/maillog" >&2
        exit 1
    }
}

start_scripted() {
    local dir=$state/smtp addresses
    alive "$dir/scripted.pid" scripted_smtp.py && return
    reset_counters=--reset  # once it answers, see wait_ready.py
    addresses=$(awk '!/^#/ && NF { print $2, 25 }' "$behaviours")
    # shellcheck disable=SC2086  # one word per host and port
    require_free tcp 127.0.2.1 8025 $addresses
    # A certificate for a name that is not the server's: the prober must
    # not insist on verifying it (opportunistic TLS, as MTAs do).
    if [ ! -s "$dir/cert.pem" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 3650 -subj /CN=wrong.example \
            -addext subjectAltName=DNS:wrong.example \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    fi
    rm -f "$dir/scripted.pid"
    setsid "$python" "$here/scripted_smtp.py" --behaviours "$behaviours" \
        --cert "$dir/cert.pem" --key "$dir/key.pem" --pidfile "$dir/scripted.pid" \
        </dev/null >>"$dir/scripted.log" 2>&1 9>&- &
}

stop_all() {
    stop_pid "$state/smtp/scripted.pid" scripted_smtp.py
    if postfix_running; then postfix -c "$state/postfix/etc" stop >/dev/null 2>&1 || true; fi
    stop_pid "$state/postgrey/postgrey.pid" postgrey
    stop_pid "$state/dns/unbound.pid" unbound
}

status() {
    local rc=0
    report() {  # name running?
        if "${@:2}"; then echo "$1: running"; else echo "$1: stopped"; rc=3; fi
    }
    report "unbound  127.0.53.1:53" alive "$state/dns/unbound.pid" unbound
    report "postfix  127.0.1.1:25 127.0.1.2:25 [::1]:25" postfix_running
    report "postgrey 127.0.0.1:10023" alive "$state/postgrey/postgrey.pid" postgrey
    report "scripted 127.0.2.11-35:25, control 127.0.2.1:8025" \
        alive "$state/smtp/scripted.pid" scripted_smtp.py
    echo "state: $state"
    if [ $rc = 0 ]; then echo "used by: $(users "$state" | paste -sd ' ')"; fi
    return $rc
}

start() {
    local running from
    lock
    running=$(running_world) || running=
    if [ -n "$running" ] && [ "$running" != "$(readlink -f "$own")" ]; then
        from=$(cat "$running/repo" 2>/dev/null) || from="an unknown clone"
        if [ "$(cat "$running/definition" 2>/dev/null)" != "$(definition)" ]; then
            say "the mail world of $from runs on these addresses,"
            say "made from another testworld/ than this clone's; stop it first with"
            say "  $(quoted "$from/testworld/world.sh") stop --all"
            exit 1
        fi
        state=$running
        say "sharing the mail world that $from started (the same testworld/)"
    else
        prepare_state
        if ! any_alive "$state"; then
            definition >"$state/definition"
            echo "$repo" >"$state/repo"
        fi
    fi
    reset_counters=
    # The scripted server is meant for hundreds of concurrent connections.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    start_dns
    start_postgrey
    start_postfix
    start_scripted
    no_ipv6=--no-ipv6
    if has_ipv6; then no_ipv6=; fi
    # shellcheck disable=SC2086  # empty or one flag each
    "$python" "$here/wait_ready.py" "$behaviours" $no_ipv6 $reset_counters ${EV_WORLD_VERBOSE:+-v} || {
        say "not ready; logs are in $state (stop with: $(quoted "$here/world.sh") stop)"
        exit 1
    }
    ln -sfn "$state" "$current"
    mkdir -p "$state/users"
    echo "$repo" >"$(user_file "$state")"
}

stop() {  # [--all]
    local running others
    lock
    running=$(running_world) || running=
    if [ -n "$running" ]; then
        rm -f "$(user_file "$running")"
        others=$(users "$running" | paste -sd ' ')
        if [ -n "$others" ] && [ "${1:-}" != --all ]; then
            say "left running for $others (for everyone: $(quoted "$here/world.sh") stop --all)"
        else
            state=$running
            stop_all
            rm -f "$state"/users/* "$current"
        fi
    fi
    # This clone's own world when it is not the one on record (an older
    # world.sh started it).
    if [ -e "$own" ] && [ "$(readlink -f "$own")" != "$running" ]; then
        state=$(readlink -f "$own")
        if any_alive "$state"; then stop_all; fi
    fi
}

# status and env describe the world that runs, else this clone's.
describe_state() {
    state=$(running_world) || {
        state=$own
        if [ -e "$state" ]; then state=$(readlink -f "$state"); fi
    }
}

case "${1:-}" in
start)
    [ "$(id -u)" = 0 ] || { say "must run as root"; exit 1; }
    start
    ;;
stop)
    [ "$(id -u)" = 0 ] || { say "must run as root"; exit 1; }
    case "${2:-}" in "" | --all) ;; *) echo "usage: $0 stop [--all]" >&2; exit 2 ;; esac
    stop "${2:-}"
    ;;
restart)
    "$here/world.sh" stop --all
    exec "$here/world.sh" start
    ;;
status)
    describe_state
    status
    ;;
env)
    describe_state
    ipv6=0
    if has_ipv6; then ipv6=1; fi
    cat <<ENV
export EV_WORLD_DIR=$(quoted "$state")
export EV_WORLD_DNS=127.0.53.1:53
export EV_WORLD_POSTFIX=127.0.1.1 EV_WORLD_POSTFIX2=127.0.1.2 EV_WORLD_SMTP_PORT=25
export EV_WORLD_POSTGREY=127.0.0.1:10023 EV_WORLD_GREY_DELAY=3
export EV_WORLD_CONTROL=127.0.2.1:8025
export EV_WORLD_IPV6=$ipv6
ENV
    ;;
*)
    echo "usage: $0 start|stop [--all]|restart|status|env" >&2
    exit 2
    ;;
esac
