#!/bin/bash
# The signup moment (issue 14), each figure with its target and the
# comparator measured in the same run; every call timed server-side
# (clock_timestamp() around it in plpgsql, bench/signup_bench.sql):
#
#   1. check_signup at level smtp, budget 300 ms, against the tarpit
#      (tarpit.test: accepts the connection, never answers), a fresh address
#      each call: p99 over 100 calls <= budget + 20 ms; comparator: the floor
#      of the same loop, pg_sleep(0.3). And against the local Postfix (a
#      fresh known user of an l-domain each call, so never from the cache;
#      result_ttl on): the full mailbox verdict, median < 20 ms; comparator:
#      verify_email(addr, 'smtp') on fresh addresses, interleaved
#   2. a repeated decision for a cached address, in a backend other than the
#      one that settled it: median < 0.2 ms; comparator: verify_email(addr,
#      'syntax') in the same loop. As a superuser and as an application role
#      (email_verify_prober, a row in consumer_limits: its limit is taken on
#      every call); and pgbench, 4 clients, for the record (client latency)
#   3. a single-row INSERT into a table sync-watched at level dns under the
#      default policy (a fresh address each, its domain's route cached) costs
#      at most 2x the same INSERT into a table watched at level syntax (one
#      session, interleaved, medians); written by the application role (its
#      limit taken on every dns-level check) and by a superuser (no limit);
#      an unwatched table of the same shape for the record
#
#   bench/run-signup-bench.sh          (as root; about 3 minutes)
#
# The PostgreSQL installation is the pg_config on PATH (PATH=$(dirname
# $PG_CONFIG):$PATH for another one); the extension is built and installed
# into it when older than the sources. Runs a throwaway cluster of its own
# (bench/worker_lib.sh: port 54386, shared_preload_libraries, no worker,
# host_rcpt_rate = host_session_rate = 0, dns_servers = the world's)
# against the running test world. Medians over EV_SB_ROUNDS rounds (default
# 3) of each figure's per-round figure. It measures and does not gate: a FAIL
# still exits 0 (a step that could not run at all exits 1). Everything
# printed is also in build/bench/run-signup-bench.log; the raw lines in
# build/bench/signup_bench.results.
#
# Environment: EV_SB_ROUNDS (default 3), EV_SB_PGPORT (default 54386),
# EV_SB_FIGS (default "1 2 3").
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh and worker_lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

port=${EV_SB_PGPORT:-54386}
rounds=${EV_SB_ROUNDS:-3}
figs=${EV_SB_FIGS:-1 2 3}
results=$out/signup_bench.results
: >"$results"
dns_server=127.0.53.1:53
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/worker_lib.sh"
started=$(date +%s.%N)
print_machine

ensure_world
eval "$(testworld/world.sh env)"
dns_server=$EV_WORLD_DNS
ensure_extension

step "the cluster (port $port)"
worker_cluster ev-signup-bench signup-bench-server.log
psql_q -d postgres -c "CREATE DATABASE bench" >/dev/null || die "CREATE DATABASE failed"
psql_q -c "CREATE EXTENSION email_verify" -f bench/signup_bench.sql >/dev/null ||
    die "CREATE EXTENSION / bench/signup_bench.sql failed"
# The application role: probes (email_verify_prober), limited like any
# application, with room for the whole bench.
psql_q -c "CREATE ROLE bench_app LOGIN IN ROLE email_verify_prober" \
    -c "GRANT CREATE ON SCHEMA public TO bench_app" \
    -c "INSERT INTO email_verify.consumer_limits VALUES ('bench_app', 1000000, 100000000)" >/dev/null ||
    die "the application role failed"
psql -X -At -c "SELECT 'server: ' || version()"
psql -X -At -c "SELECT 'settings: ' || string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
                WHERE name IN ('email_verify.result_ttl', 'email_verify.host_rcpt_rate', 'email_verify.host_session_rate',
                               'email_verify.dns_servers', 'email_verify.max_connections_per_host', 'email_verify.reply_timeout')"

# --- figure 1 ---------------------------------------------------------------------
fig1() {
    local k
    for ((k = 1; k <= rounds; k++)); do
        step "figure 1, round $k: check_signup (smtp, 300 ms) x100 against the tarpit; the local Postfix, fresh addresses"
        sqlrun -c "CALL sb_fig1_tarpit($k, 100, 300, 20)"
        sqlrun -c "CALL sb_fig1_postfix($k, 50, 'l0$((100 + k)).test')"
    done
}

# --- figure 2 ---------------------------------------------------------------------
fig2() {
    local k who address=cached.user@strict.test
    step "figure 2: a cached address's decision, from backends other than the one that settled it"
    # Settled (and cached) by a session of its own.
    psql_q -c "SELECT decision, status, reason, from_cache FROM email_verify.check_signup('$address')" >/dev/null ||
        die "settling $address failed"
    for ((k = 1; k <= rounds; k++)); do
        for who in postgres bench_app; do
            sqlrun -U "$who" -c "CALL sb_fig2($k, 2000, '$address')"
        done
    done
    # For the record: pgbench, 4 clients, client-side latency (connection kept).
    local f
    for f in check_signup verify_syntax; do
        if [ "$f" = check_signup ]; then
            echo "SELECT email_verify.check_signup('$address');" >"$out/signup_bench_$f.sql"
        else
            echo "SELECT verify_email('$address', 'syntax');" >"$out/signup_bench_$f.sql"
        fi
        chmod 644 "$out/signup_bench_$f.sql"
        timeout 60 "$bindir/pgbench" -n -c 4 -j 2 -T 5 -U bench_app -f "$out/signup_bench_$f.sql" bench 2>&1 |
            tee "$out/signup_bench_pgbench_$f.out" |
            awk -v f="$f" '/latency average/ { lat = $4 } /^tps/ { tps = $3 }
                           END { printf "SIGNUP_BENCH fig=2 run=0 variant=pgbench_%s user=bench_app clients=4 latency_avg_ms=%s tps=%s\n", f, lat, tps }' |
            tee -a "$results"
    done
}

# --- figure 3 ---------------------------------------------------------------------
fig3() {
    local k
    step "figure 3: single-row INSERTs, sync watch at level dns vs level syntax (default policy), as bench_app"
    psql_q -U bench_app -c "SET client_min_messages = error" -c "SELECT sb_fig3_tables()" >/dev/null ||
        die "the tables of figure 3 failed"
    for ((k = 1; k <= rounds; k++)); do
        sqlrun -U bench_app -c "CALL sb_fig3($k, 2000, 'l0$((200 + k)).test')"
        # the same as a superuser, whose checks take nothing from a limit
        sqlrun -U postgres -c "CALL sb_fig3($((k + 100)), 2000, 'l0$((200 + k)).test')"
    done
}

for f in $figs; do
    case "$f" in
    1) fig1 ;;
    2) fig2 ;;
    3) fig3 ;;
    *) die "unknown figure $f" ;;
    esac
done

step "summary"
python3 - "$results" <<'PY'
import statistics, sys

def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)

runs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if line.startswith("SIGNUP_BENCH "):
        d = kv(line)
        runs.setdefault((d["fig"], d["variant"], d.get("user", "")), []).append(d)

def med(variant, user, field, fig):
    xs = [float(d[field]) for d in runs.get((fig, variant, user), []) if d.get(field) not in (None, "", "NULL")]
    return (statistics.median(xs), len(xs)) if xs else (None, 0)

def f(x, nd=2):
    return "n/a" if x is None else f"{x:,.{nd}f}"

rows = []
def row(name, value, comparator, target, ok):
    rows.append((name, value, comparator, target, "INFO" if ok is None else ("PASS" if ok else "FAIL")))

# 1: the tarpit
p99, n = med("tarpit", "postgres", "p99_ms", "1")
fl, _ = med("tarpit_floor_pg_sleep", "postgres", "p99_ms", "1")
tmed, _ = med("tarpit", "postgres", "median_ms", "1")
wrong = sum(int(d.get("wrong", 0)) for d in runs.get(("1", "tarpit", "postgres"), []))
row("1 tarpit: check_signup smtp, budget 300 ms, p99 of 100 (ms)", f(p99), f"pg_sleep(0.3) p99 {f(fl)}",
    "<= 320", None if p99 is None else (p99 <= 320 and wrong == 0))
row("  tarpit: median (ms); wrong decisions", f"{f(tmed)}; {wrong}", "", "", None)
# 1: the local Postfix
sm, _ = med("postfix_check_signup", "postgres", "median_ms", "1")
vm, _ = med("postfix_verify_email", "postgres", "median_ms", "1")
pw = sum(int(d.get("wrong", 0)) + int(d.get("from_cache", 0)) for d in runs.get(("1", "postfix_check_signup", "postgres"), []))
row("1 Postfix: check_signup smtp, fresh address, median (ms)", f(sm), f"verify_email smtp {f(vm)}",
    "< 20", None if sm is None else (sm < 20 and pw == 0))
# 2
for user in ("postgres", "bench_app"):
    cm, _ = med("cached_check_signup", user, "median_ms", "2")
    ym, _ = med("verify_email_syntax", user, "median_ms", "2")
    row(f"2 cached address: check_signup median (ms), as {user}", f(cm, 4), f"verify_email syntax {f(ym, 4)}",
        "< 0.2", None if cm is None else cm < 0.2)
for fn in ("check_signup", "verify_syntax"):
    for d in runs.get(("2", f"pgbench_{fn}", "bench_app"), []):
        row(f"  pgbench 4 clients, {fn}: latency avg (ms) / tps", f"{d.get('latency_avg_ms')} / {d.get('tps')}", "", "", None)
# 3
for user in ("bench_app", "postgres"):
    dm, _ = med("insert_dns", user, "median_ms", "3")
    xm, _ = med("insert_syntax", user, "median_ms", "3")
    um, _ = med("insert_unwatched", user, "median_ms", "3")
    w3 = sum(int(d.get("wrong", 0)) for d in runs.get(("3", "insert_dns", user), []))
    ratio = dm / xm if dm and xm else None
    row(f"3 INSERT as {user}, sync watch level dns, median (ms)", f(dm, 4), f"level syntax {f(xm, 4)}", "", None)
    row(f"  dns / syntax ({user})", f(ratio), f"unwatched {f(um, 4)} ms", "<= 2.0",
        None if ratio is None else (ratio <= 2.0 and w3 == 0))

head = ("figure", "measured (median of rounds)", "comparator (same run)", "target", "result")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]
for r in [head] + rows:
    print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)))
PY
for n in "${notes[@]+"${notes[@]}"}"; do echo "NOTE: $n"; done
echo "wall time: $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
