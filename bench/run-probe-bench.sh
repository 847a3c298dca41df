#!/bin/bash
# The native prober's benchmarks (levels dns and smtp) against the local test
# world, each with its comparator measured in the same run:
#
#   1. verify_emails() of 10,000 addresses on the 100 catch-all bench domains
#      (b000..b099.test) against the wire limit of the same Postfix
#      (bench/wire_limit.cpp: the same RCPTs over a few pipelined
#      connections, no DNS); targets: verdicts/s >= 50% of the wire limit,
#      <= 1 new SMTP session per 50 addresses (prober_stats().sessions_opened)
#   2. 2,000 addresses on l0000..l0019.test, half of them unknown users, with
#      Postfix's default error limits: verdicts/s, wrong verdicts, sessions
#      (README.md's "no crawl" is read here as >= 10% of figure 1's
#      wire limit; wrong verdicts must be 0)
#   3. verify_email(addr, 'smtp') latency in one session: warm cache
#      (target < 1 ms) and uncached (target < 20 ms), against
#      verify_email(addr, 'syntax') in the same loop
#   4. verify_emails() of 10,000 addresses on 10,000 distinct domains at level
#      dns against unbound's own answer rate for the same MX queries
#      (bench/dns_blaster.cpp); target >= 5,000 domains/s
#
#   bench/run-probe-bench.sh
#
# Builds the two load generators with g++ into build/bench, starts the test
# world (testworld/world.sh, as root) and the throwaway cluster
# (scripts/cluster.sh) when they are not running, rebuilds and installs the
# extension when the installed module is older than the sources, and works in
# a database of its own (ev_probe_bench, dropped at the end). Every verdict
# is a real probe: clear_cache() and result_ttl = 0 before each batch.
#
# Figures 1, 2 and 4 run EV_PROBE_RUNS times (default 5; fewer when the
# first run shows that they would not fit in EV_PROBE_FIG_BUDGET seconds,
# default 75, but at least once) and report medians; figure 3 collects
# per-call samples over its runs (each variant bounded in calls and seconds)
# and reports the median call. A wrong verdict fails figures 1, 2 and 4
# whatever their speed. When the world's Postfix paces new transactions
# (in_flow_delay > 0) the SMTP batches are measured in its steady state (see
# drain_flow_tokens below).
# Ends with a table, each line PASS/FAIL against its target (INFO: no
# target). It measures and does not gate: FAIL still exits 0 (a step that
# could not run at all exits 1). Everything printed is also in
# build/bench/run-probe-bench.log; the raw result lines are in
# build/bench/probe_bench.results.
#
# Environment: EV_PROBE_RUNS (default 5), EV_PROBE_FIG_BUDGET (default 75),
# EV_WIRE_CONNS (wire-limit connections, default 4), EV_BENCH_NO_RESTART=1
# (never restart the cluster for a stale module, only warn).
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

runs=${EV_PROBE_RUNS:-5}
fig_budget=${EV_PROBE_FIG_BUDGET:-75}
wire_conns=${EV_WIRE_CONNS:-4}
db=ev_probe_bench
postfix_ip=127.0.1.1
dns_server=127.0.53.1:53
results=$out/probe_bench.results
: >"$results"
started=$(date +%s.%N)
print_machine

step "build the load generators (g++ -O2)"
for tool in wire_limit dns_blaster; do
    if [ ! -x "$out/$tool" ] || [ "bench/$tool.cpp" -nt "$out/$tool" ]; then
        g++ -O2 -std=c++17 -Wall -Wextra -o "$out/$tool" "bench/$tool.cpp" || die "building $tool failed"
    fi
    echo "$out/$tool"
done

ensure_world
eval "$(testworld/world.sh env)"
world_pids() {
    echo "unbound=$(cat "$EV_WORLD_DIR/dns/unbound.pid" 2>/dev/null) postfix=$(head -1 "$EV_WORLD_DIR/postfix/queue/pid/master.pid" 2>/dev/null | tr -d ' ')"
}
# A debugger or strace on the world's daemons slows them down by an order of
# magnitude: say so rather than report its figures as the server's.
check_traced() {
    local name pid tracer
    for name in unbound postfix; do
        pid=$(world_pids | tr ' ' '\n' | sed -n "s/^$name=//p")
        if [ -z "$pid" ] || [ ! -r "/proc/$pid/status" ]; then continue; fi
        tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$pid/status")
        if [ "${tracer:-0}" != 0 ]; then
            note "$name (pid $pid) is being traced by pid $tracer ($(tr '\0' ' ' <"/proc/$tracer/cmdline" 2>/dev/null | cut -c1-80)): its figures are not the server's"
        fi
    done
}
world_at_start=$(world_pids)
echo "world pids: $world_at_start"
check_traced

# Postfix's in_flow_delay (default 1 s): cleanup(8) takes a flow token
# before it opens a queue file (at a transaction's first accepted RCPT) and,
# when there is none, sleeps in_flow_delay first. qmgr(8) tops the tokens up
# to default_process_limit (100) only when it runs (mail queued, or its
# 300 s wake-up); probes never queue mail. So a probe-only Postfix with the
# default runs out after 100 transactions and from then on every transaction
# with an accepted RCPT costs 1 s, until qmgr's next wake-up refills them.
# The figures would then depend on when qmgr last woke; the script takes the
# steady state instead: before each measured batch it spends the tokens left
# (one-RCPT transactions, at most 120, until one takes >= 0.5 s) and records
# how many there were (FLOW_DRAIN lines). With in_flow_delay = 0 (the test
# world's setting since d63efe4) there is no pacing and nothing to drain.
in_flow_delay=$(postconf -c "$EV_WORLD_DIR/postfix/etc" -h in_flow_delay 2>/dev/null)
echo "Postfix in_flow_delay = ${in_flow_delay:-?}"
echo "POSTFIX in_flow_delay=${in_flow_delay:-unknown}" >>"$results"
echo "drain-$$-$RANDOM@b099.test" >"$out/probe_drain.txt"
drain_flow_tokens() {  # label
    local i s fast=0 stalled=0
    case "$in_flow_delay" in 0 | 0s | 0ms) return ;; esac
    for ((i = 0; i < 120; i++)); do
        s=$("$out/wire_limit" --host "$postfix_ip" --list "$out/probe_drain.txt" --conns 1 --deadline 10 2>/dev/null |
            sed -n 's/.*seconds=\([0-9.]*\) .*complete=1.*/\1/p')
        if [ -z "$s" ]; then
            note "the flow-token drain before $1 could not talk to Postfix"
            break
        fi
        if awk -v s="$s" 'BEGIN { exit !(s >= 0.5) }'; then
            stalled=1
            break
        fi
        fast=$((fast + 1))
    done
    echo "FLOW_DRAIN at=$1 tokens_spent=$fast stalled=$stalled" >>"$results"
    echo "(flow tokens spent before $1: $fast)"
}
drain_flow_tokens start

ensure_extension

step "the cluster"
scripts/cluster.sh start || die "scripts/cluster.sh start failed"
eval "$(scripts/cluster.sh env)"
export PGDATABASE=postgres
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
# A server started before the last `make install` still runs the old module
# (see bench/sql_syntax_bench.sh).
stale_module() {
    local pidfile pm range
    pidfile="$(readlink -f "$repo/.cluster")/data/postmaster.pid"
    [ -r "$pidfile" ] || return 1
    pm=$(head -1 "$pidfile")
    [ -r "/proc/$pm/maps" ] || return 1
    range=$(grep -m1 'email_verify\.so (deleted)' "/proc/$pm/maps" | cut -d' ' -f1) || true
    [ -n "$range" ] || return 1
    ! cmp -s "/proc/$pm/map_files/$range" "$installed" 2>/dev/null
}
if stale_module; then
    if [ "${EV_BENCH_NO_RESTART:-0}" = 1 ]; then
        note "the server runs an email_verify.so that differs from the installed one"
    else
        echo "the server runs an email_verify.so that differs from the installed one; restarting the cluster"
        scripts/cluster.sh stop
        scripts/cluster.sh start || die "cluster restart failed"
    fi
fi
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# shellcheck disable=SC2317  # run by the EXIT trap; ShellCheck 0.9 calls it unreachable as the script ends with exit
cleanup() {
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null || die "cannot reach the cluster"
psql_q -d postgres -c "CREATE DATABASE $db" >/dev/null || die "CREATE DATABASE failed"
export PGDATABASE=$db
psql_q -c "CREATE EXTENSION email_verify" >/dev/null || die "CREATE EXTENSION failed"
psql_q -f bench/probe_bench.sql >/dev/null || die "loading bench/probe_bench.sql failed"
psql -X -At -c "SELECT 'server: ' || version()"
psql -X -At -c "SELECT 'extension: email_verify ' || extversion FROM pg_extension WHERE extname = 'email_verify'"

step "the lists"
python3 bench/make_probe_lists.py "$out" || die "make_probe_lists.py failed"
psql_q -c "\\copy bench_list FROM '$out/probe_lists.tsv'" || die "loading the lists failed"
psql -X -At -c "SELECT format('figure %s: %s addresses, %s domains', fig, count(*), count(DISTINCT split_part(e, '@', 2)))
                FROM bench_list GROUP BY fig ORDER BY fig"

# One session per batch: the settings, then the batch; its NOTICE lines
# (PROBE_BENCH ...) go to the results.
batch() {  # fig level run
    timeout 600 psql -X -q -v ON_ERROR_STOP=1 \
        -c "SET client_min_messages = notice" \
        -c "SET email_verify.dns_servers = '$dns_server'" \
        -c "SET email_verify.host_rcpt_rate = 0" -c "SET email_verify.host_session_rate = 0" \
        -c "SET statement_timeout = '300s'" \
        -c "SELECT bench_batch($1, '$2', $3)" 2>&1 |
        sed -n 's/^.*NOTICE: *//p; /ERROR/p' | tee -a "$results"
}
field() {  # line key
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}
runs_for() {  # first-run seconds: as many runs as fit in the figure's budget, 1..runs
    awk -v s="$1" -v b="$fig_budget" -v r="$runs" 'BEGIN { n = (s > 0) ? int(b / s) : r; if (n > r) n = r; if (n < 1) n = 1; print n }'
}

step "figure 1: 10,000 addresses on 100 catch-all domains, verify_emails vs the wire limit ($wire_conns connections)"
n1=$runs
for ((k = 1; k <= n1; k++)); do
    wire() {  # connections [tag]
        drain_flow_tokens "fig1-wire-$k${2:-}"
        "$out/wire_limit" --host "$postfix_ip" --list "$out/probe_fig1.txt" --conns "$1" --deadline 120 |
            sed "s/^WIRE_LIMIT /WIRE_LIMIT run=$k${2:-} /" | tee -a "$results"
    }
    engine() {
        local line
        drain_flow_tokens "fig1-engine-$k"
        line=$(batch 1 smtp "$k")
        echo "$line"
    }
    run_started=$(date +%s.%N)
    if ((k % 2 == 1)); then wire "$wire_conns"; engine; else engine; wire "$wire_conns"; fi
    if ((k == 1)); then
        run_seconds=$(echo "$(date +%s.%N) - $run_started" | bc)
        n1=$(runs_for "$run_seconds")
        ((n1 < runs)) && echo "(the first run took ${run_seconds%.*} s: $n1 runs)"
        # For the record, not the ratio: the wire limit with as many
        # connections as the prober may open to one host, and with more.
        wire 2 "-info"
        wire 8 "-info"
    fi
done

step "figure 2: 2,000 addresses on l0000..l0019.test, half unknown users"
too_many() { grep -c 'too many errors' "$EV_WORLD_DIR/postfix/maillog" 2>/dev/null; }
too_many_before=$(too_many)
n2=$runs
for ((k = 1; k <= n2; k++)); do
    drain_flow_tokens "fig2-$k"
    line=$(batch 2 smtp "$k")
    echo "$line"
    if ((k == 1)); then
        s=$(field "$line" seconds)
        [ -n "$s" ] && n2=$(runs_for "$s")
        ((n2 < runs)) && echo "(the first run took $s s: $n2 runs)"
    fi
done
echo "Postfix 'too many errors' disconnects (hard error limit) during figure 2: $(($(too_many) - too_many_before)) (anyone's)"

step "figure 3: verify_email() latency, one session, per-call clock_timestamp()"
# variant calls-per-run seconds-per-run
fig3_plan="warm:40:2 cold:20:3 route:20:3 route_ca:20:3 cold_unknown:20:2"
for ((k = 1; k <= runs; k++)); do
    drain_flow_tokens "fig3-$k"
    sql=(-c "SET client_min_messages = warning" -c "SET email_verify.dns_servers = '$dns_server'"
         -c "SET email_verify.host_rcpt_rate = 0" -c "SET email_verify.host_session_rate = 0"
         -c "SET statement_timeout = '60s'")
    for p in $fig3_plan; do
        IFS=: read -r variant calls budget <<<"$p"
        sql+=(-c "SELECT bench_latency($k, '$variant', $calls, $budget)")
    done
    timeout 300 psql -X -q -v ON_ERROR_STOP=1 "${sql[@]}" >/dev/null || echo "figure 3 run $k failed"
done
timeout 60 psql -X -q -c "SET client_min_messages = notice" -c "SELECT bench_latency_report()" 2>&1 |
    sed -n 's/^.*NOTICE: *//p' | tee -a "$results"

step "figure 4: 10,000 domains at level dns vs unbound's answer rate (dns_blaster)"
n4=$runs
for ((k = 1; k <= n4; k++)); do
    line=$(batch 4 dns "$k")
    echo "$line"
    # The comparator: the best of a few in-flight limits (unbound drops
    # queries once its socket buffer overflows; dns_blaster then resends
    # after its 1 s timeout, which is not unbound's answer rate).
    for inflight in 100 500; do
        "$out/dns_blaster" --server "$dns_server" --names "$out/probe_fig4_names.txt" --inflight "$inflight" |
            sed "s/^DNS_BLASTER /DNS_BLASTER run=$k /" | tee -a "$results"
    done
    if ((k == 1)); then
        "$out/dns_blaster" --server "$dns_server" --names "$out/probe_fig4_names.txt" --inflight 100 --types mx,a,aaaa |
            sed "s/^DNS_BLASTER /DNS_BLASTER run=$k /" | tee -a "$results"
        s=$(field "$line" seconds)
        [ -n "$s" ] && n4=$(runs_for "$s")
    fi
done

step "after the runs"
world_at_end=$(world_pids)
if [ "$world_at_end" != "$world_at_start" ]; then
    note "the test world was restarted during the run ($world_at_start -> $world_at_end): figures may mix two worlds"
fi
check_traced

finished=$(date +%s.%N)
step "summary"
notes_text=$(printf '%s\n' "${notes[@]+"${notes[@]}"}")
python3 - "$results" "$started" "$finished" "$notes_text" <<'PY'
import re, statistics, sys

path, started, finished, notes = sys.argv[1:5]

def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)

batches, wire, dns, fig3, stall = {}, [], [], {}, {}
flow_delay = None
for line in open(path, encoding="utf-8"):
    line = line.strip()
    if line.startswith("PROBE_BENCH fig=3 "):
        d = kv(line)
        fig3[d["variant"]] = d
    elif line.startswith("PROBE_BENCH "):
        d = kv(line)
        batches.setdefault(int(d["fig"]), []).append(d)
    elif line.startswith("WIRE_LIMIT "):
        wire.append(kv(line))
    elif line.startswith("DNS_BLASTER "):
        dns.append(kv(line))
    elif line.startswith("POSTFIX "):
        flow_delay = kv(line).get("in_flow_delay")
    elif line.startswith("FLOW_DRAIN "):
        d = kv(line)
        stall[d["at"]] = int(d["tokens_spent"])

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def rate(d):
    s = float(d["seconds"])
    return int(d["n"]) / s if s > 0 else None

rows = []
def verdict(ok):
    return "PASS" if ok else "FAIL"
def f0(x, unit=""):
    return "n/a" if x is None else f"{x:,.0f}{unit}"
def f2(x, unit=""):
    return "n/a" if x is None else f"{x:,.2f}{unit}"

# 1
b1 = batches.get(1, [])
e1 = med([rate(d) for d in b1])
w_ok = [w for w in wire if w.get("complete") == "1" and "info" not in w["run"]]
w1 = med([float(w["rcpt_per_s"]) for w in w_ok])
wrong1 = max([int(d["wrong"]) for d in b1], default=None)
sess1 = med([int(d["sessions"]) for d in b1])
if e1 and w1:
    r = e1 / w1
    rows.append(("1 verdicts/s, 10k addr, 100 catch-all domains", f0(e1, "/s"),
                 f"wire limit {f0(w1, '/s')} ({w_ok[0]['conns']} conns)", f"{r:.3f}x",
                 ">= 0.50x, 0 wrong", verdict(r >= 0.5 and wrong1 == 0)))
else:
    rows.append(("1 verdicts/s, 10k addr, 100 catch-all domains", f0(e1), f0(w1), "", ">= 0.50x", "ERROR"))
if sess1 is not None:
    rows.append(("1 SMTP sessions opened (10k addr)", f"{sess1:.0f} (1 per {10000 / max(sess1, 1):,.0f} addr)",
                 "", "", "<= 200 (1 per 50)", verdict(sess1 <= 200)))

# 2
b2 = batches.get(2, [])
e2 = med([rate(d) for d in b2])
wrong2 = max([int(d["wrong"]) for d in b2], default=None)
sess2 = med([int(d["sessions"]) for d in b2])
if e2 is not None:
    r = e2 / w1 if w1 else None
    ok = wrong2 == 0 and r is not None and r >= 0.10
    rows.append(("2 verdicts/s, 2k addr, half unknown users", f0(e2, "/s"), f"wire limit {f0(w1, '/s')}",
                 f2(r, "x"), ">= 0.10x (no crawl), 0 wrong", verdict(ok)))
    # 1,000 unknown users + 20 catch-all probes, 9 refusals per session
    rows.append(("2 wrong verdicts / sessions", f"{wrong2} wrong, {sess2:.0f} sessions",
                 "fewest at 9 errors/session: 114", "", "0 wrong", verdict(wrong2 == 0)))
else:
    rows.append(("2 verdicts/s, 2k addr, half unknown users", "n/a", "", "", "", "ERROR"))

# 3
labels = {
    "warm": ("3 verify_email smtp, warm cache", 1.0, True),
    "cold": ("3 uncached, fully cold (DNS+catch-all+RCPT)", 20.0, True),
    "route": ("3 uncached, route cached (catch-all+RCPT)", 20.0, False),
    "route_ca": ("3 uncached, route+catch-all cached (RCPT)", 20.0, False),
    "cold_unknown": ("3 uncached, fully cold, unknown user", 20.0, False),
}
for v, (label, target, gated) in labels.items():
    d = fig3.get(v)
    if not d:
        rows.append((label, "n/a", "", "", f"< {target:g} ms", "ERROR"))
        continue
    s, c = float(d["smtp_median_ms"]), float(d["syntax_median_ms"])
    ok = s < target and int(d["wrong"]) == 0 and int(d["unexpected_cache"]) == 0
    rows.append((label, f"{s:,.3f} ms ({d['calls']} calls)", f"syntax {c:,.3f} ms", f"{s / c:,.0f}x" if c > 0 else "",
                 f"< {target:g} ms", verdict(ok) if gated else "INFO"))

# 4
b4 = batches.get(4, [])
e4 = med([rate(d) for d in b4])
wrong4 = max([int(d["wrong"]) for d in b4], default=None)
by_run = {}
for d in dns:
    if d.get("types") == "mx":
        by_run.setdefault(d["run"], []).append(float(d["answers_per_s"]))
u4 = med([max(v) for v in by_run.values()])
if e4 is not None and u4:
    rows.append(("4 domains/s at level dns, 10k domains", f0(e4, "/s"), f"unbound {f0(u4, ' MX/s')}", f"{e4 / u4:.3f}x",
                 ">= 5,000/s, 0 wrong", verdict(e4 >= 5000 and wrong4 == 0)))
    rows.append(("4 wrong verdicts (not valid/domain_ok)", f"{wrong4} of 10,000 (worst run)", "", "", "0", verdict(wrong4 == 0)))
    full = [float(d["names_per_s"]) for d in dns if d.get("types") == "mx,a,aaaa"]
    if full:
        f4 = med(full)
        rows.append(("4 the same, vs unbound MX+A+AAAA per domain", f0(e4, "/s"), f"unbound {f0(f4, ' domains/s')}",
                     f"{e4 / f4:.3f}x", "(what a route lookup asks)", "INFO"))
else:
    rows.append(("4 domains/s at level dns, 10k domains", f0(e4), f0(u4), "", ">= 5,000/s", "ERROR"))

head = ("figure", "median", "comparator (median)", "ratio", "target", "result")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
fmt = lambda r: "  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip()
print(fmt(head))
print(fmt(tuple("-" * w for w in widths)))
for r in rows:
    print(fmt(r))

print()
print(f"runs: figure 1 {len(b1)} (wire {len(w_ok)}), figure 2 {len(b2)}, figure 4 {len(b4)}; "
      f"figure 3 medians over all calls of {fig3.get('warm', {}).get('runs', '?')} runs")
for fig, bs in sorted(batches.items()):
    for d in bs:
        print(f"  fig {fig} run {d['run']}: {rate(d):,.0f}/s ({d['seconds']} s), wrong {d['wrong']}, "
              f"sessions {d['sessions']}, rcpts {d['rcpts']}, max/host {d['max_per_host']}"
              + (f", wrong kinds {d['wrong_kinds']}" if d['wrong_kinds'] != '-' else ""))
for w in wire:
    print(f"  wire run {w['run']}: {float(w['rcpt_per_s']):,.0f} RCPT/s ({w['seconds']} s, {w['conns']} conns, "
          f"{w['txns']} transactions, complete={w['complete']})")
for d in dns:
    print(f"  dns_blaster run {d['run']} {d['types']} inflight {d['inflight']}: {float(d['answers_per_s']):,.0f} answers/s, "
          f"{float(d['names_per_s']):,.0f} names/s, lost {d['lost']}, resent {d['resent']}")
for v, d in fig3.items():
    print(f"  fig 3 {v}: median {d['smtp_median_ms']} ms, p90 {d['smtp_p90_ms']} ms, min {d['smtp_min_ms']}, "
          f"max {d['smtp_max_ms']}; verdicts {d['verdicts']}")
if stall:
    refilled = [k for k, v in stall.items() if v > 0 and k != "start"]
    print(f"Postfix in_flow_delay = {flow_delay}: {stall.get('start', '?')} flow tokens were left at the start; "
          f"every measured SMTP batch began with none (qmgr refills found and spent before: "
          f"{', '.join(refilled) or 'none'}), so each transaction with an accepted RCPT waited in_flow_delay in cleanup(8)")
else:
    print(f"Postfix in_flow_delay = {flow_delay}: no inflow pacing, no tokens drained")
for n in notes.splitlines():
    if n.strip():
        print("NOTE: " + n)
print(f"wall time: {float(finished) - float(started):.0f} s")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
