#!/bin/bash
# Smoke test of the internet world (part of the bench, not of CI): starts it
# (and stops it again if it was not running), then inside the namespace
#   1. resolves domains through the proxy: every answer 50-90 ms late;
#   2. times an SMTP banner and EHLO: each reply 100-300 ms late;
#   3. probes ~200 addresses of every behaviour with ev_probe and compares
#      them with truth.csv (compare.py); greylisted mailboxes are probed
#      again after the grey delay and must then be valid;
#   4. checks the simulator saw at most 2 sessions per MX host.
# Usage: testworld/internet/smoke.sh [N addresses, default 200]
# EV_PROBE: the prober binary (default <repo>/build/dev/ev_probe).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$(dirname "$here")")
probe=${EV_PROBE:-$repo/build/dev/ev_probe}
count=${1:-200}
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
[ -x "$probe" ] || { echo "smoke: no $probe (build the core first)" >&2; exit 2; }

was_running=yes
"$here/run.sh" status >/dev/null 2>&1 || was_running=no
eval "$("$here/run.sh" start)"
work=$(mktemp -d /tmp/ev-inet-smoke.XXXXXX)
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    rm -rf "$work"
    if [ "$was_running" = no ]; then "$here/run.sh" stop; fi
}
trap cleanup EXIT
world=$EV_INET_DIR/world
in_ns() { ip netns exec "$EV_INET_NETNS" "$@"; }
failed=0

echo "== 1. DNS through the proxy ($EV_INET_DNS)"
in_ns "$python" - "$EV_INET_DNS" <<'EOF' || failed=1
import random, socket, statistics, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
times = []
for i in range(20):
    name = f"d{random.randrange(10000):05d}.inet.test"
    q = struct.pack("!6H", i, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\x0f\0\x01"
    t = time.perf_counter()
    s.sendto(q, (host, int(port)))
    s.recvfrom(4096)
    times.append(1000 * (time.perf_counter() - t))
m = statistics.median(times)
print(f"20 MX queries: min {min(times):.1f} ms, median {m:.1f} ms, max {max(times):.1f} ms")
sys.exit(0 if 50 <= min(times) and m < 90 else 1)
EOF

echo "== 2. SMTP reply delay"
ip=$(awk -F, '$2 == "accepting" { print $3; exit }' "$world/domains.csv")
in_ns "$python" - "$ip" <<'EOF' || failed=1
import socket, sys, time
s = socket.create_connection((sys.argv[1], 25), timeout=5)
t = time.perf_counter()
banner = s.recv(4096)
b = 1000 * (time.perf_counter() - t)
t = time.perf_counter()
s.sendall(b"EHLO smoke.test\r\n")
ehlo = b""
while b"\r\n250 " not in ehlo:
    ehlo += s.recv(4096)
e = 1000 * (time.perf_counter() - t)
s.sendall(b"QUIT\r\n")
print(f"banner after {b:.1f} ms ({banner.decode().strip()}), EHLO reply after {e:.1f} ms")
sys.exit(0 if 100 <= b < 300 and 100 <= e < 300 else 1)
EOF

echo "== 3. $count addresses of every behaviour through ev_probe"
"$python" "$here/compare.py" --world "$world" --sample "$count" >"$work/sample.txt"
in_ns timeout 300 "$probe" --dns "$EV_INET_DNS" <"$work/sample.txt" >"$work/first.tsv" || failed=1
"$python" "$here/compare.py" --world "$world" --verdicts "$work/first.tsv" || failed=1
awk -F'\t' '$2 == "unknown" && $3 == "greylisted" { print $1 }' "$work/first.tsv" >"$work/grey.txt"
if [ -s "$work/grey.txt" ]; then
    echo "-- $(wc -l <"$work/grey.txt") greylisted: again after the grey delay, now they must be valid"
    sleep 6
    in_ns timeout 120 "$probe" --dns "$EV_INET_DNS" <"$work/grey.txt" >"$work/second.tsv" || failed=1
    "$python" "$here/compare.py" --world "$world" --verdicts "$work/second.tsv" >"$work/second.txt" || failed=1
    cat "$work/second.txt"
    if grep -q "pending *[1-9]" "$work/second.txt"; then failed=1; fi
fi

echo "== 4. politeness as the simulator saw it"
in_ns "$python" - "$EV_INET_CONTROL" <<'EOF' || failed=1
import json, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=5) as s:
    s.sendall(b"STATS\n")
    data = b""
    while not data.endswith(b"\n"):
        data += s.recv(65536)
stats = json.loads(data)
w = stats["worst_host"]
print(f"max sessions open {stats['max_sessions_open']}; per host: open {w['max_open']}, "
      f"sessions/min {w['max_sessions_per_min']}, RCPTs/min {w['max_rcpts_per_min']}")
sys.exit(0 if w["max_open"][0] <= 2 else 1)
EOF

if [ "$failed" = 0 ]; then echo "smoke: ok"; else echo "smoke: FAILED" >&2; fi
exit "$failed"
