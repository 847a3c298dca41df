#!/bin/bash
# The internet-shaped benchmark world, inside network namespace $EV_INET_NETNS
# (default evinet, made with `ip netns add`, so the bench can run PostgreSQL
# and the probers in it with `ip netns exec evinet ...`):
#   unbound    127.65.0.53:5353  the generated zone inet.test. (only the proxy asks it)
#   dns_proxy  127.65.0.1:53     forwards to unbound, every answer 50 ms late
#   smtp_sim   0.0.0.0:25        every MX host 127.64.0.0 + i, every reply 100 ms late
#              127.65.0.1:8025   its control port (STATS, HOSTS, RESET)
#   dead hosts 198.18.0.0/15     routed "unreachable": connect fails at once
# Usage: testworld/internet/run.sh start|stop|status|env
# The world is generated on first start into $EV_INET_DIR (default
# /var/tmp/email_verify-inet) from EV_INET_DOMAINS (10000),
# EV_INET_ADDRESSES (1000000) and EV_INET_SEED (1); remove the directory
# to generate another. Runs as root (namespaces, port 53 and 25).
# Nothing here touches the host's own network: every socket lives in the
# namespace, which has only its loopback device.
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
state=${EV_INET_DIR:-/var/tmp/email_verify-inet}
netns=${EV_INET_NETNS:-evinet}
domains=${EV_INET_DOMAINS:-10000}
addresses=${EV_INET_ADDRESSES:-1000000}
seed=${EV_INET_SEED:-1}
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3  # Debian's, not a pyenv shim
dns_addr=127.65.0.1
unbound_addr=127.65.0.53
unbound_port=5353
control=127.65.0.1:8025
dead_range=198.18.0.0/15
cd /

say() { echo "inet world: $*" >&2; }
in_ns() { ip netns exec "$netns" "$@"; }

# A pid is ours while the process lives, is no zombie and runs our program.
alive() {  # pidfile program
    local pid stat cmdline
    pid=$(cat "$1" 2>/dev/null) || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$2"* ]]
}

stop_pid() {  # pidfile program
    local pid
    alive "$1" "$2" || return 0
    pid=$(cat "$1")
    kill "$pid"
    for _ in $(seq 50); do alive "$1" "$2" || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

# One start or stop at a time; the daemons are started with fd 9 closed.
lock() {
    mkdir -p "$state"
    exec 9>"$state/run.lock"
    flock -w 60 9 || { say "another run.sh holds $state/run.lock"; exit 1; }
}

generate() {
    [ -f "$state/world/world.json" ] && return 0
    say "generating $domains domains, $addresses addresses (seed $seed) into $state/world"
    rm -rf "$state/world.tmp"
    "$python" "$here/make_world.py" --out "$state/world.tmp" --domains "$domains" \
        --addresses "$addresses" --seed "$seed"
    mv "$state/world.tmp" "$state/world"
}

namespace() {
    ip netns list | grep -qw "^$netns" || ip netns add "$netns"
    in_ns ip link set lo up
    in_ns ip route replace unreachable "$dead_range"
}

start_unbound() {
    alive "$state/dns/unbound.pid" unbound && return 0
    mkdir -p "$state/dns"
    cp "$state/world/inet.zone.conf" "$state/dns/inet.zone.conf"
    sed -e "s|@DIR@|$state/dns|g" -e "s|@ADDR@|$unbound_addr|g" -e "s|@PORT@|$unbound_port|g" \
        "$here/unbound.conf.in" >"$state/dns/unbound.conf"
    in_ns unbound -c "$state/dns/unbound.conf" 9>&-
}

# Starts a Python daemon of ours in the namespace, detached, logging to state.
start_py() {  # name script args...
    local name=$1 script=$2
    shift 2
    alive "$state/$name.pid" "$script" && return 0
    in_ns setsid "$python" "$here/$script" --pidfile "$state/$name.pid" "$@" \
        </dev/null >>"$state/$name.log" 2>&1 9>&- &
}

# Whether everything answers: the proxy resolves an MX, the simulator greets.
ready() {
    local domain ip
    domain=$(awk -F, '$2 == "accepting" { print $1; exit }' "$state/world/domains.csv")
    ip=$(awk -F, '$2 == "accepting" { print $3; exit }' "$state/world/domains.csv")
    in_ns dig +short +time=1 +tries=1 -p 53 "@$dns_addr" MX "$domain" 2>/dev/null | grep -q "mx.$domain" || return 1
    in_ns timeout 3 bash -c "exec 3<>/dev/tcp/$ip/25 && head -c 3 <&3" 2>/dev/null | grep -q 220 || return 1
    [ -f "$state/smtp/stats.json" ]
}

print_env() {
    cat <<EOF
export EV_INET_NETNS=$netns
export EV_INET_DIR=$state
export EV_INET_DNS=$dns_addr:53
export EV_INET_ADDRESSES=$state/world/addresses.txt
export EV_INET_TRUTH=$state/world/truth.csv
export EV_INET_DOMAINS_CSV=$state/world/domains.csv
export EV_INET_STATS=$state/smtp/stats.json
export EV_INET_HOST_STATS=$state/smtp/hosts-stats.tsv
export EV_INET_CONTROL=$control
EOF
}

start() {
    lock
    generate
    namespace
    mkdir -p "$state/smtp"
    # A stale stats file would pass for a ready simulator.
    alive "$state/smtp_sim.pid" smtp_sim.py || rm -f "$state/smtp/stats.json"
    start_unbound
    start_py dns_proxy dns_proxy.py --listen "$dns_addr:53" \
        --upstream "$unbound_addr:$unbound_port" --delay-ms 50 --stats "$state/dns/proxy-stats.json"
    start_py smtp_sim smtp_sim.py --hosts "$state/world/hosts.tsv" --listen 0.0.0.0:25 \
        --delay-ms 100 --stats "$state/smtp" --control "$control"
    for _ in $(seq 100); do
        if ready; then print_env; return 0; fi
        sleep 0.2
    done
    say "not ready after 20 s; logs in $state (*.log, dns/unbound.log)"
    exit 1
}

stop() {
    lock
    stop_pid "$state/smtp_sim.pid" smtp_sim.py
    stop_pid "$state/dns_proxy.pid" dns_proxy.py
    stop_pid "$state/dns/unbound.pid" unbound
    if ip netns list | grep -qw "^$netns"; then
        # A namespace others still run in (the bench's PostgreSQL) stays.
        if [ -z "$(ip netns pids "$netns")" ]; then
            ip netns del "$netns"
        else
            say "namespace $netns kept: processes still run in it ($(ip netns pids "$netns" | tr '\n' ' '))"
        fi
    fi
}

status() {
    local rc=0 name
    for name in dns/unbound.pid:unbound dns_proxy.pid:dns_proxy.py smtp_sim.pid:smtp_sim.py; do
        if alive "$state/${name%%:*}" "${name#*:}"; then
            say "${name#*:} running"
        else
            say "${name#*:} stopped"
            rc=1
        fi
    done
    if [ -f "$state/smtp/stats.json" ]; then cat "$state/smtp/stats.json"; fi
    return $rc
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) print_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
