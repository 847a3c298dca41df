#!/bin/bash
# verify_email(e, 'syntax') as a filter against the plain regex filter, over
# the same table in the same run.
#
#   bench/sql_syntax_bench.sh [LIST] [ROWS]
#
# LIST: an address list from bench/make_address_list.py (default
# build/bench/addresses.txt, generated if missing); ROWS: table size
# (default 1600000). The list is repeated with a number in each local part
# (make_address_list.py --from LIST --copies K) so that every row is distinct
# and keeps its category.
#
# Assumes the extension is installed (make && make install). Uses the
# throwaway cluster of scripts/cluster.sh (started if needed) and a database
# of its own (ev_bench, dropped at the end). If the running server still maps
# an email_verify.so whose content differs from the installed one (a server
# started before the last `make install`), the cluster is restarted so the
# installed module is measured (EV_BENCH_NO_RESTART=1 only warns).
#
# Environment: EV_SQL_ROUNDS (default 5) timed runs per query and mode,
# after one untimed warm-up run of each.
#
# Each round also times the unfiltered "SELECT count(*) FROM t" (insight
# only: what the filters cost beyond the scan).
#
# Prints each run, the medians, the ratio verify/regex, and one
# machine-readable line per mode:
#   SQL_SYNTAX_BENCH mode=serial|parallel rows=.. rounds=.. workers=..
#                    verify_median_ms=.. regex_median_ms=.. ratio=..
#                    scan_median_ms=.. verify_valid=.. regex_match=..
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
list=${1:-build/bench/addresses.txt}
rows=${2:-1600000}
rounds=${EV_SQL_ROUNDS:-5}
db=ev_bench
py=python3

if [ ! -s "$list" ]; then
    mkdir -p "$(dirname "$list")"
    "$py" bench/make_address_list.py -o "$list"
fi
n=$(wc -l <"$list")
copies=$(((rows + n - 1) / n))

scripts/cluster.sh start
eval "$(scripts/cluster.sh env)"
export PGDATABASE=postgres
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

# A server started before the last `make install` still runs the old module
# (shared_preload_libraries loads it into the postmaster, and backends inherit
# that mapping).
# `make install` replaces the file even when it is byte for byte the same, so
# compare the mapped file's content with the installed one.
stale_module() {
    local pidfile="$repo/.cluster/data/postmaster.pid" pm range installed
    [ -r "$pidfile" ] || return 1
    pm=$(head -1 "$pidfile")
    [ -r "/proc/$pm/maps" ] || return 1
    range=$(grep -m1 'email_verify\.so (deleted)' "/proc/$pm/maps" | cut -d' ' -f1) || true
    [ -n "$range" ] || return 1
    installed="$(pg_config --pkglibdir)/email_verify.so"
    ! cmp -s "/proc/$pm/map_files/$range" "$installed" 2>/dev/null
}
if stale_module; then
    if [ "${EV_BENCH_NO_RESTART:-0}" = 1 ]; then
        echo "WARNING: the server runs an email_verify.so that differs from the installed one" >&2
    else
        echo "note: the server runs an email_verify.so that differs from the installed one; restarting the cluster"
        scripts/cluster.sh stop
        scripts/cluster.sh start
    fi
fi

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

wait_for_server() {
    for _ in $(seq 60); do
        pg_isready -q && return 0
        sleep 1
    done
    scripts/cluster.sh start
}

cleanup() {
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null
psql_q -d postgres -c "CREATE DATABASE $db" >/dev/null
export PGDATABASE=$db
psql_q -c "CREATE EXTENSION email_verify" >/dev/null
psql_q -c "CREATE TABLE t (e text)" >/dev/null

echo "loading $rows rows ($copies copies of $n addresses from $list) ..."
t0=$(date +%s.%N)
"$py" bench/make_address_list.py --from "$list" --copies "$copies" --limit "$rows" --copy-text |
    psql_q -c "COPY t (e) FROM STDIN"
psql_q -c "VACUUM (FREEZE, ANALYZE) t"
t1=$(date +%s.%N)
psql -X -At -c "SELECT format('table t: %s rows, %s distinct, %s; loaded in %s s',
        count(*), count(DISTINCT e), pg_size_pretty(pg_table_size('t')), round(($t1 - $t0)::numeric, 1))
        FROM t"
psql -X -At -c "SELECT 'server: ' || version()"
psql -X -At -c "SELECT format('settings: jit=%s, max_parallel_workers_per_gather=%s (default), shared_buffers=%s',
        current_setting('jit'), current_setting('max_parallel_workers_per_gather'), current_setting('shared_buffers'))"

# The two filters; each timed statement is "SELECT '<label>', count(*) FROM t
# WHERE <filter>", README.md's query with a constant label column.
verify_w="(verify_email(e, 'syntax')).status = 'valid'"
regex_w="e ~ '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\$'"

# One psql session per mode; each timed statement is preceded by a label row.
script() {
    local setting=$1
    echo "$setting"
    printf '%s\n' '\timing off'
    echo "SELECT 'plan_verify';"
    echo "EXPLAIN (COSTS OFF) SELECT count(*) FROM t WHERE $verify_w;"
    printf '%s\n' '\timing on'
    # Untimed warm-up: caches, the module's lists, the regex compile cache.
    echo "SELECT 'warmup_verify', count(*) FROM t WHERE $verify_w;"
    echo "SELECT 'warmup_regex', count(*) FROM t WHERE $regex_w;"
    for ((i = 1; i <= rounds; i++)); do
        # Alternate which query goes first, so neither always follows the other.
        if ((i % 2)); then
            echo "SELECT 'verify', count(*) FROM t WHERE $verify_w;"
            echo "SELECT 'regex', count(*) FROM t WHERE $regex_w;"
        else
            echo "SELECT 'regex', count(*) FROM t WHERE $regex_w;"
            echo "SELECT 'verify', count(*) FROM t WHERE $verify_w;"
        fi
        # For insight only: the same scan and count with no filter.
        echo "SELECT 'scan', count(*) FROM t;"
    done
}

summarise() {
    local mode=$1 out=$2
    "$py" - "$mode" "$out" "$rows" "$rounds" <<'PY'
import re, statistics, sys
mode, path, rows, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
times = {"verify": [], "regex": [], "scan": [], "warmup_verify": [], "warmup_regex": []}
counts = {}
plan = []
label = None
in_plan = False
for line in open(path, encoding="utf-8"):
    line = line.rstrip("\n")
    m = re.match(r"^Time: ([0-9.]+) ms", line)
    if m:
        if label in times:
            times[label].append(float(m.group(1)))
        label = None
        continue
    if line == "plan_verify":
        in_plan = True
        continue
    m = re.match(r"^(warmup_verify|warmup_regex|verify|regex|scan)\|(\d+)$", line)
    if m:
        in_plan = False
        label = m.group(1)
        counts[label.replace("warmup_", "")] = int(m.group(2))
        continue
    if in_plan and line:
        plan.append(line)
v, r = times["verify"], times["regex"]
if not v or not r:
    sys.exit(f"sql_syntax_bench: no timings parsed from {path}")
workers = next((l.split(":")[1].strip() for l in plan if "Workers Planned" in l), "0")
mv, mr = statistics.median(v), statistics.median(r)
ms = statistics.median(times["scan"]) if times["scan"] else float("nan")
print(f"  [{mode}] verify runs (ms): " + ", ".join(f"{x:.0f}" for x in v))
print(f"  [{mode}] regex  runs (ms): " + ", ".join(f"{x:.0f}" for x in r))
print(f"  [{mode}] warm-up (ms): verify {times['warmup_verify'][0]:.0f}, regex {times['warmup_regex'][0]:.0f}; "
      f"workers planned for verify: {workers}")
print(f"  [{mode}] median verify {mv:.0f} ms ({mv * 1e6 / int(rows):.0f} ns/row), "
      f"median regex {mr:.0f} ms ({mr * 1e6 / int(rows):.0f} ns/row), ratio {mv / mr:.2f}x; "
      f"rows passing: verify {counts.get('verify')}, regex {counts.get('regex')}")
print(f"  [{mode}] (insight) unfiltered scan+count {ms:.0f} ms; filter cost alone: verify "
      f"{(mv - ms) * 1e6 / int(rows):.0f} ns/row, regex {(mr - ms) * 1e6 / int(rows):.0f} ns/row, "
      f"ratio {(mv - ms) / (mr - ms):.2f}x")
print(f"SQL_SYNTAX_BENCH mode={mode} rows={rows} rounds={len(v)} workers={workers} verify_median_ms={mv:.1f} "
      f"regex_median_ms={mr:.1f} ratio={mv / mr:.3f} scan_median_ms={ms:.1f} verify_valid={counts.get('verify')} regex_match={counts.get('regex')}")
PY
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; cleanup' EXIT
for mode in serial parallel; do
    if [ "$mode" = serial ]; then
        setting="SET max_parallel_workers_per_gather = 0;"
    else
        setting="RESET max_parallel_workers_per_gather;"
    fi
    echo "timing $mode ($setting) $rounds rounds, alternating ..."
    # The cluster is shared: if someone restarts it under us, wait for it and
    # time the whole mode again (the table survives a restart).
    for attempt in 1 2 3; do
        if script "$setting" | psql -X -At -v ON_ERROR_STOP=1 >"$tmp/$mode.out" 2>"$tmp/$mode.err"; then
            break
        fi
        cat "$tmp/$mode.err" >&2
        if [ "$attempt" = 3 ]; then
            echo "sql_syntax_bench: $mode failed three times" >&2
            exit 1
        fi
        echo "  [$mode] the session failed (attempt $attempt); waiting for the server and timing again" >&2
        wait_for_server
    done
    summarise "$mode" "$tmp/$mode.out"
done

psql_q -c "DROP TABLE t"
