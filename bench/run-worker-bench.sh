#!/bin/bash
# The in-place flow's benchmarks (watch() in async mode and the background
# worker), each with its comparator measured in the same run:
#
#   1. INSERT of 100,000 rows in one statement into a watched table (async)
#      against the same INSERT into the same table unwatched (as the user had
#      it: no verdict columns): 5 alternating pairs, a fresh table each, the
#      median of the pair ratios; target watched >= 0.70x the unwatched
#      rows/s. The workers are off for this figure (email_verify.workers =
#      0) so that they do not compete. When the ratio is below target (or
#      EV_WORKER_PROFILE=1) a profile follows, in a scratch database of the
#      same cluster: the same INSERT under scratch variants of the async path
#      (where the time goes), and the watched INSERT, an UPDATE of 20,000
#      addresses and watch() of 20,000 rows with the queue TRUNCATEd against
#      the queue drained and vacuumed empty (relpages = reltuples = 0: the
#      planner then takes it for empty), with two candidate fixes.
#   2. 100,000 watched rows over l0000..l0999.test (users u0..u99) at level
#      dns: from the watch() call (which enqueues the rows) until the queue
#      holds nothing of the watch and every row has a verdict; target >=
#      3,000 rows/s (workers 1, batch 500, the defaults; median of
#      EV_WORKER_RUNS). INFO: worker_batch_size 2000 and workers 2; at the
#      end, a scratch change of the write-back path (see the step) against
#      the released code, alternating, applied to this cluster only.
#   3. The same at level smtp against the local Postfix, 20,000 rows (users
#      u0..u19 on the 1,000 domains; 100,000 would take about a minute a
#      run with its comparator), against one verify_emails(the same
#      addresses, 'smtp') call in the same run (clear_cache(), result_ttl =
#      0), alternating which goes first; target >= 0.50x its rate.
#   4. The worker's memory while it drains figure 2: /proc/<pid>/status
#      sampled at every poll (50 ms): the largest VmRSS (target < 100 MB),
#      with RssAnon / RssShmem / RssFile, and VmHWM at the end; INFO: three
#      drains of 100,000 rows in a row by the same worker (no restart), to
#      see what keeps growing (private memory, or shared buffers touched).
#   Every drain must end within 120 s with no wrong verdict; one that does
#   not is reported (with what the worker was doing) and the server is
#   restarted before the next step.
#
#   bench/run-worker-bench.sh
#
# Works in a throwaway cluster of its own (initdb as the postgres OS user
# into /var/tmp/ev-bench5-XXXX, port EV_WORKER_PGPORT (54350), unix socket
# in that folder, shared_preload_libraries = email_verify,
# email_verify.database = bench, email_verify.dns_servers = the world's
# unbound), stopped and removed at the end whatever happens; the other
# settings are PostgreSQL's defaults (fsync on, shared_buffers 128MB). The
# server is restarted before every drain: a fresh worker (cold route and
# catch-all caches, memory counted from its start) with the workers and
# batch size of that run. Starts the test world when it is not running and
# rebuilds and installs the extension when the installed module is older
# than the sources. Every table is interleaved over the domains (a batch
# of 500 rows touches ~500 domains) and watched with the queue just
# TRUNCATEd (the planner's view of a freshly installed queue), autovacuum
# of the queue held off from the TRUNCATE until watch() has returned (see
# prepare()). Every statement has lock_timeout 60 s, statement_timeout 300 s.
# Takes about 4 minutes.
#
# Ends with a table, each line PASS/FAIL against its target (INFO: no
# target). It measures and does not gate: FAIL still exits 0 (a step that
# could not run at all exits 1). Everything printed is also in
# build/bench/run-worker-bench.log; the raw result lines are in
# build/bench/worker_bench.results.
#
# Environment: EV_WORKER_PGPORT (54350), EV_WORKER_RUNS (drain runs per
# figure-2/3 configuration, default 3), EV_WORKER_INFO_RUNS (runs of each
# INFO configuration, default 2), EV_WORKER_PAIRS (pairs of
# the write-back INFO, default 3), EV_WORKER_F1_RUNS (figure-1 pairs,
# default 5), EV_WORKER_PROFILE (1: always profile figure 1, 0: never;
# default: when it fails), EV_WORKER_SMTP_ROWS (20000), EV_WORKER_KEEP=1
# (leave the cluster folder for inspection; the server is still stopped).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=build/bench
mkdir -p "$out"
log=$out/run-worker-bench.log
exec > >(tee "$log") 2>&1

port=${EV_WORKER_PGPORT:-54350}
runs=${EV_WORKER_RUNS:-3}
info_runs=${EV_WORKER_INFO_RUNS:-2}
pairs=${EV_WORKER_PAIRS:-3}
f1_runs=${EV_WORKER_F1_RUNS:-5}
profile=${EV_WORKER_PROFILE:-auto}
smtp_rows=${EV_WORKER_SMTP_ROWS:-20000}
f1_rows=100000
f2_rows=100000
dns_server=127.0.53.1:53
results=$out/worker_bench.results
: >"$results"
started=$(date +%s.%N)
notes=()

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }
die() {
    echo "run-worker-bench: $*" >&2
    exit 1
}
note() {
    echo "NOTE: $*"
    notes+=("$*")
}

echo "machine: $(nproc) cores, $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tree: $(git rev-parse --short HEAD 2>/dev/null) $(git log -1 --format=%s 2>/dev/null | cut -c1-60)"
dirty=$(git status --short -- src extension Makefile 2>/dev/null | tr '\n' ' ')
[ -n "$dirty" ] && echo "uncommitted in src/extension: $dirty"

step "the test world"
if ! testworld/world.sh status >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "the test world is not running and starting it needs root"
    testworld/world.sh start || die "testworld/world.sh start failed"
fi
testworld/world.sh status

step "the extension"
installed="$(pg_config --pkglibdir)/email_verify.so"
if [ ! -f "$installed" ] ||
    [ -n "$(find src extension Makefile email_verify.control \( -name '*.cpp' -o -name '*.h' -o -name '*.sql' -o -name Makefile -o -name '*.control' \) -newer "$installed" -print -quit 2>/dev/null)" ]; then
    echo "the installed module is older than the sources: make -j2 && make install"
    if ! { make -s -j2 && make -s install; } >"$out/worker-make.log" 2>&1; then
        tail -20 "$out/worker-make.log"
        [ -f "$installed" ] || die "make failed and nothing is installed"
        note "make / make install failed (see $out/worker-make.log); measuring the module installed before"
    fi
else
    echo "installed module is up to date: $installed"
fi
echo "installed module: $(stat -c '%y' "$installed" | cut -d. -f1)"

step "the throwaway cluster"
bindir=$(pg_config --bindir)
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pgdir=$(mktemp -d /var/tmp/ev-bench5-XXXX) || die "mktemp failed"
chmod 755 "$pgdir"
[ "$(id -u)" = 0 ] && chown postgres "$pgdir"
data=$pgdir/data
cleanup() {
    exec >>"$log" 2>&1  # the tee may be gone (killed with the script's process group)
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
    fi
    [ -f "$pgdir/server.log" ] && cp "$pgdir/server.log" "$out/worker-bench-server.log" 2>/dev/null
    if [ "${EV_WORKER_KEEP:-0}" = 1 ]; then
        echo "cluster folder kept: $pgdir"
    else
        rm -rf "$pgdir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap '' PIPE
as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -3 "$pgdir/initdb.log")"
cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$pgdir'
shared_preload_libraries = 'email_verify'
email_verify.database = 'bench'
email_verify.dns_servers = '$dns_server'
max_worker_processes = 16
email_verify.workers = 0
CONF
export PGHOST=$pgdir PGPORT=$port PGUSER=postgres PGDATABASE=bench
# No statement may wait for ever: a lock held by a stuck worker, a runaway plan.
export PGOPTIONS="-c client_min_messages=warning -c lock_timeout=60s -c statement_timeout=300s"
pg_start() { as_pg "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -w -t 60 start >/dev/null; }
pg_restart() { as_pg "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -m fast -w -t 60 restart >/dev/null; }
pg_start || die "the cluster did not start: $(tail -5 "$pgdir/server.log")"
echo "cluster: $pgdir (port $port)"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# NOTICE lines WORKER_BENCH ... go to the results (and the screen).
collect() { sed -n 's/^.*NOTICE: *//p; /ERROR/p' | tee -a "$results"; }
sqlrun() {  # psql arguments...; prints the WORKER_BENCH lines
    timeout 300 psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = notice" "$@" 2>&1 | collect
}
psql_q -d postgres -c "CREATE DATABASE bench_template" || die "CREATE DATABASE failed"
psql_q -d bench_template -c "CREATE EXTENSION email_verify" -f bench/worker_bench.sql >/dev/null ||
    die "CREATE EXTENSION / bench/worker_bench.sql failed"
psql_q -d postgres -c "CREATE DATABASE bench TEMPLATE bench_template" || die "CREATE DATABASE bench failed"
psql -X -At -c "SELECT 'server: ' || version()"
psql -X -At -c "SELECT 'extension: email_verify ' || extversion FROM pg_extension WHERE extname = 'email_verify'"
psql -X -At -c "SELECT 'settings: ' || string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
                WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_worker_processes', 'autovacuum',
                               'email_verify.database', 'email_verify.dns_servers', 'email_verify.result_ttl',
                               'email_verify.max_connections_per_host', 'email_verify.worker_naptime')"

# workers batch: restart with these settings; returns when that many
# workers are connected (at most 20 s)
configure() {
    psql_q -d postgres -c "ALTER SYSTEM SET email_verify.workers = $1" \
        -c "ALTER SYSTEM SET email_verify.worker_batch_size = $2" >/dev/null || return 1
    pg_restart || return 1
    wait_workers "$1"
}
wait_workers() {
    local i n
    for ((i = 0; i < 200; i++)); do
        n=$(psql -X -At -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'email_verify worker'" 2>/dev/null)
        [ "$n" = "$1" ] && return 0
        sleep 0.1
    done
    note "expected $1 email_verify workers, found ${n:-none}"
    return 1
}

# ---- figure 1 -------------------------------------------------------------------
step "figure 1: INSERT of $f1_rows rows into a watched (async) vs unwatched table, workers = 0"
echo "(email_verify.workers = 0 for this figure: nothing drains the queue, nothing competes for the 2 cores;"
echo " a fresh table for every INSERT, the queue TRUNCATEd before it (autovacuum of the queue held off), CHECKPOINT"
echo " before it; the time includes COMMIT)"
f1_insert() {  # run variant
    local watch_sql="SELECT 1"
    [ "$2" = watched ] && watch_sql="SELECT email_verify.watch('f1', 'email', level => 'dns', mode => 'async')"
    psql_q -c "TRUNCATE email_verify.queue" -c "SELECT worker_make_table('f1', 0, 100)" -c "$watch_sql" \
        -c "TRUNCATE email_verify.queue" -c "CHECKPOINT" >/dev/null || return 1
    sqlrun -c "CALL worker_insert(1, $1, '$2', 'truncated', 'f1', $f1_rows)"
}
psql_q -c "ALTER TABLE email_verify.queue SET (autovacuum_enabled = off)" >/dev/null
for ((k = 1; k <= f1_runs; k++)); do
    if ((k % 2 == 1)); then f1_insert "$k" unwatched; f1_insert "$k" watched; else f1_insert "$k" watched; f1_insert "$k" unwatched; fi
done
psql_q -c "TRUNCATE email_verify.queue" -c "DROP TABLE f1" -c "ALTER TABLE email_verify.queue RESET (autovacuum_enabled)" >/dev/null
f1_ratio=$(python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if line.startswith("WORKER_BENCH fig=1 ") and " state=truncated " in line:
        d = dict(p.split("=", 1) for p in line.split() if "=" in p)
        runs.setdefault(d["run"], {})[d["variant"]] = float(d["seconds"])
r = [v["unwatched"] / v["watched"] for v in runs.values() if "watched" in v and "unwatched" in v]
print(f"{statistics.median(r):.3f}" if r else "0")
PY
)
echo "median watched/unwatched rows/s ratio: $f1_ratio"

if [ "$profile" = 1 ] || { [ "$profile" = auto ] && awk -v r="$f1_ratio" 'BEGIN { exit !(r < 0.70) }'; }; then
    step "figure 1 profile: the same INSERT under scratch variants of the async path (database bench_scratch)"
    echo "(each variant in a fresh copy of the extension; 3 INSERTs each, median; nothing outside this cluster is changed)"
    # (autovacuum of the scratch queue is off: its states are set by hand)
    scratch() {  # variant: a fresh bench_scratch in that variant, table p empty
        psql_q -d postgres -c "DROP DATABASE IF EXISTS bench_scratch" -c "CREATE DATABASE bench_scratch TEMPLATE bench_template" >/dev/null &&
            psql_q -d bench_scratch -c "ALTER TABLE email_verify.queue SET (autovacuum_enabled = off)" \
                -c "SELECT worker_make_table('p', 0, 100)" -c "SELECT worker_apply_variant('$1', 'p')" >/dev/null
    }
    queue_state() {  # state: the queue TRUNCATEd (reltuples -1), or TRUNCATEd and VACUUMed (reltuples 0)
        psql_q -d bench_scratch -c "TRUNCATE email_verify.queue" >/dev/null || return 1
        [ "$1" = vacuumed ] && psql_q -d bench_scratch -c "VACUUM email_verify.queue"
        psql_q -d bench_scratch -c "CHECKPOINT" >/dev/null
    }
    scratch_insert() {  # variant state rows run
        psql_q -d bench_scratch -c "TRUNCATE p" >/dev/null && queue_state "$2" || return 1
        PGDATABASE=bench_scratch sqlrun -c "CALL worker_insert(11, $4, '$1', '$2', 'p', $3)"
    }
    scratch_update() {  # variant state rows run: UPDATE of every address of p, holding `rows` rows
        psql_q -d bench_scratch -c "TRUNCATE p" -c "CALL worker_insert(0, 0, '-', '-', 'p', $3)" >/dev/null && queue_state "$2" || return 1
        PGDATABASE=bench_scratch sqlrun -c "CALL worker_update_timed(13, $4, '$1', '$2', 'p')"
    }
    scratch_watch() {  # variant state rows run: watch() of a table that holds `rows` rows
        psql_q -d bench_scratch -c "SELECT worker_make_table('w', $3, 100)" >/dev/null && queue_state "$2" || return 1
        PGDATABASE=bench_scratch sqlrun -c "CALL worker_watch_timed(12, $4, '$1', '$2', 'w', 'dns')"
        psql_q -d bench_scratch -c "TRUNCATE email_verify.queue" -c "DROP TABLE w" >/dev/null
    }
    for v in plain columns capture_only wake_only shipped no_fk no_fk_no_row_idx pkey_only; do
        scratch "$v" || { note "scratch variant $v could not be set up"; continue; }
        for k in 1 2 3; do scratch_insert "$v" truncated "$f1_rows" "$k"; done
    done
    step "figure 1 profile: the async path after the queue was drained and vacuumed empty, 20,000 rows"
    echo "(a drained queue that autovacuum has processed has relpages = 0 and reltuples = 0: the planner then takes it"
    echo " for empty, and an anti-join against it becomes a nested loop that scans the growing queue once per row;"
    echo " after TRUNCATE (reltuples = -1) it assumes 10 pages and hashes)"
    psql_q -d postgres -c "DROP DATABASE IF EXISTS bench_scratch" -c "CREATE DATABASE bench_scratch TEMPLATE bench_template" >/dev/null
    psql -X -At -d bench_scratch -c "ALTER TABLE email_verify.queue SET (autovacuum_enabled = off)" -c "TRUNCATE email_verify.queue" -c "SELECT 'queue after TRUNCATE: relpages ' || relpages || ', reltuples ' || reltuples FROM pg_class WHERE oid = 'email_verify.queue'::regclass" \
        -c "VACUUM email_verify.queue" -c "SELECT 'queue after VACUUM of the empty queue: relpages ' || relpages || ', reltuples ' || reltuples FROM pg_class WHERE oid = 'email_verify.queue'::regclass"
    scratch plain
    for k in 1 2 3; do scratch_insert plain truncated 20000 "$k"; scratch_update plain truncated 20000 "$k"; done
    scratch shipped
    for k in 1 2 3; do
        scratch_insert shipped truncated 20000 "$k"; scratch_insert shipped vacuumed 20000 "$k"
        scratch_update shipped truncated 20000 "$k"; scratch_update shipped vacuumed 20000 "$k"
    done
    for k in 1 2 3; do scratch_watch shipped truncated 20000 "$k"; scratch_watch shipped vacuumed 20000 "$k"; done
    scratch seqscan_off
    for k in 1 2 3; do scratch_update seqscan_off truncated 20000 "$k"; scratch_update seqscan_off vacuumed 20000 "$k"; done
    for k in 1 2 3; do scratch_watch seqscan_off truncated 20000 "$k"; scratch_watch seqscan_off vacuumed 20000 "$k"; done
    scratch fresh_watch
    for k in 1 2 3; do scratch_watch fresh_watch vacuumed 20000 "$k"; done
    psql_q -d postgres -c "DROP DATABASE IF EXISTS bench_scratch" >/dev/null
fi

# ---- figures 2 and 4 ------------------------------------------------------------
drain() {  # fig run variant workers batch table rows users level status reason timeout
    configure "$4" "$5" || { note "could not configure workers=$4 batch=$5"; return 1; }
    drain_only "$1" "$2" "$3" "$6" "$9" "${10}" "${11}" "${12}"
}
drain_only() {  # fig run variant table level status reason timeout: watch() and wait (workers as they are)
    local line
    line=$(sqlrun -c "CALL worker_drain($1, $2, '$3', '$4', '$5', '$6', '$7', $8)")
    echo "$line"
    if ! grep -q ' complete=1 ' <<<"$line"; then
        # A worker that did not finish holds its claim's locks: what it is
        # doing goes to the log, and a restart ends it before the next step.
        note "fig $1 $3 run $2 did not complete within $8 s: $(psql -X -At -d postgres -c "SELECT string_agg(format('pid %s %s for %s: %s', pid, state, now() - xact_start, left(query, 120)), '; ') FROM pg_stat_activity WHERE backend_type = 'email_verify worker'")"
        pg_restart || note "restart after the incomplete drain failed"
    fi
}
# The table filled, the queue empty (TRUNCATEd: reltuples -1) and kept so
# until watch(): autovacuum of the queue is held off from here until
# worker_drain() has called watch() (it RESETs autovacuum_enabled), because a
# VACUUM of the empty queue in between (the previous drain's deletes reach
# the statistics late) leaves relpages = reltuples = 0, and watch() then takes
# the quadratic plan (figure 1's profile measures that state on purpose).
prepare() {  # table rows users
    psql_q -c "ALTER TABLE email_verify.queue SET (autovacuum_enabled = off)" -c "TRUNCATE email_verify.queue" \
        -c "SELECT worker_make_table('$1', $2, $3)" -c "CHECKPOINT" >/dev/null
}
step "figure 2: $f2_rows watched rows at level dns, 1,000 domains; workers 1, batch 500 ($runs runs) + INFO variants ($info_runs runs each)"
for ((k = 1; k <= runs; k++)); do
    prepare f2 "$f2_rows" 100 && drain 2 "$k" w1_b500 1 500 f2 "$f2_rows" 100 dns valid domain_ok 120
done
for cfg in w1_b2000:1:2000 w2_b500:2:500 w2_b2000:2:2000; do
    IFS=: read -r name w b <<<"$cfg"
    for ((k = 1; k <= info_runs; k++)); do
        prepare f2 "$f2_rows" 100 && drain 2 "$k" "$name" "$w" "$b" f2 "$f2_rows" 100 dns valid domain_ok 120
    done
done

step "figure 4: two more drains of $f2_rows rows by the same worker (no restart in between): does its memory settle?"
if configure 1 500; then
    for k in 1 2 3; do
        prepare "f4_$k" "$f2_rows" 100 && drain_only 4 "$k" same_worker "f4_$k" dns valid domain_ok 120
    done
    psql_q -c "TRUNCATE email_verify.queue" -c "DROP TABLE f4_1, f4_2, f4_3" >/dev/null
fi

# ---- figure 3 -------------------------------------------------------------------
step "figure 3: $smtp_rows watched rows at level smtp (Postfix) vs one verify_emails() call, workers 1, batch 500 ($runs runs)"
smtp_users=$(((smtp_rows + 999) / 1000))
((smtp_users > 100)) && smtp_users=100
for ((k = 1; k <= runs; k++)); do
    prepare f3 "$smtp_rows" "$smtp_users" || continue
    comparator() { sqlrun -c "SELECT worker_comparator(3, $k, 'f3', 'smtp', 'valid', 'accepted')"; }
    if ((k % 2 == 0)); then
        configure 1 500 && comparator
        drain_only 3 "$k" w1_b500 f3 smtp valid accepted 120
    else
        drain 3 "$k" w1_b500 1 500 f3 "$smtp_rows" "$smtp_users" smtp valid accepted 120
        comparator
    fi
done

step "figure 2 INFO: a scratch change of the write-back path against the released one, alternating ($pairs pairs)"
echo "(applied to this cluster's bench database after every as-released figure, and taken back between drains:"
echo " watch_enqueue()'s UPDATE path returns at once when every row of the statement has a verdict, so the worker's"
echo " write-back no longer runs the enqueue statement, its DELETE and its anti-join against the queue, per batch)"
patch() { psql_q -c "SET worker_bench.patch_ok = on" -c "SELECT worker_patch_update_early_return($1)" >/dev/null; }
if patch true && patch false; then
    for ((k = 1; k <= pairs; k++)); do
        for v in $( ((k % 2 == 1)) && echo "released patched" || echo "patched released"); do
            if [ "$v" = patched ]; then patch true; else patch false; fi
            prepare f2 "$f2_rows" 100 && drain 2 "$k" "w1_b500_$v" 1 500 f2 "$f2_rows" 100 dns valid domain_ok 120
        done
    done
    patch false
else
    note "the early-return patch could not be applied (watch_enqueue() changed?)"
fi

step "after the runs"
# (the restarts' fast shutdowns terminate the workers: that FATAL is expected)
problems() {
    grep -E ' (ERROR|FATAL|PANIC|WARNING): ' "$pgdir/server.log" 2>/dev/null |
        grep -v 'terminating background worker "email_verify worker" due to administrator command'
}
echo "server log: $(problems | wc -l) unexpected ERROR/FATAL/PANIC/WARNING lines (the log is copied to $out/worker-bench-server.log at exit)"
problems | sed 's/^[^]]*] //' | sort | uniq -c | sort -rn | head -5
finished=$(date +%s.%N)

step "summary"
notes_text=$(printf '%s\n' "${notes[@]+"${notes[@]}"}")
python3 - "$results" "$started" "$finished" "$notes_text" "$smtp_rows" <<'PY'
import statistics, sys

path, started, finished, notes, smtp_rows = sys.argv[1:6]

def kv(line):
    return dict(p.split("=", 1) for p in line.split() if "=" in p)

lines = [kv(l) for l in open(path, encoding="utf-8") if l.startswith("WORKER_BENCH ")]
errors = [l.strip() for l in open(path, encoding="utf-8") if "ERROR" in l]

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def sel(**kw):
    return [d for d in lines if all(d.get(k) == str(v) for k, v in kw.items())]

def f0(x, unit=""):
    return "n/a" if x is None else f"{x:,.0f}{unit}"

def verdict(ok):
    return "PASS" if ok else "FAIL"

rows = []

# 1
pairs = {}
for d in sel(fig=1, state="truncated"):
    pairs.setdefault(d["run"], {})[d["variant"]] = float(d["seconds"])
ratios = [p["unwatched"] / p["watched"] for p in pairs.values() if "watched" in p and "unwatched" in p]
n1 = 100000
w_rate = med([n1 / p["watched"] for p in pairs.values() if "watched" in p])
u_rate = med([n1 / p["unwatched"] for p in pairs.values() if "unwatched" in p])
r1 = med(ratios)
if r1 is not None:
    rows.append(("1 INSERT 100k rows, watched (async), rows/s", f0(w_rate, "/s"), f"unwatched {f0(u_rate, '/s')}",
                 f"{r1:.3f}x", ">= 0.70x", verdict(r1 >= 0.70)))
else:
    rows.append(("1 INSERT 100k rows, watched (async), rows/s", "n/a", "", "", ">= 0.70x", "ERROR"))

prof = {}
for d in lines:
    key = {"11": "", "12": "watch:", "13": "update:"}.get(d.get("fig"))
    if key is not None:
        prof.setdefault((key + d["variant"], d["state"], int(d["n"])), []).append(float(d["seconds"]))
def pm(v, s, n):
    return med(prof.get((v, s, n), []))
p100 = pm("plain", "truncated", 100000)
for v, label in (("no_fk", "1 profile: without the queue's FK"),
                 ("no_fk_no_row_idx", "1 profile: without FK and queue_row_idx"),
                 ("wake_only", "1 profile: trigger only wakes (no queue rows)")):
    m = pm(v, "truncated", 100000)
    if p100 and m:
        rows.append((label, f0(100000 / m, "/s"), f"unwatched {f0(100000 / p100, '/s')}", f"{p100 / m:.3f}x", "(scratch)", "INFO"))
# the plan cliff: the same statement with the queue vacuumed empty against TRUNCATEd
for kind, label, target in (("", "1 watched INSERT 20k: queue vacuumed vs truncated", True),
                            ("update:", "1 watched UPDATE of 20k addresses: vacuumed vs truncated", True),
                            ("watch:", "1 watch() of 20k rows: vacuumed vs truncated", True)):
    good, bad = pm(kind + "shipped", "truncated", 20000), pm(kind + "shipped", "vacuumed", 20000)
    if good and bad:
        rows.append((label, f"{bad:.3f} s", f"truncated {good:.3f} s", f"{good / bad:.3f}x", ">= 0.50x (no cliff)",
                     verdict(good / bad >= 0.5)))
    if kind:
        for fix, flabel in (("seqscan_off", "enable_seqscan=off"), ("fresh_watch", "fresh => true for a new watch")):
            m = pm(kind + fix, "vacuumed", 20000)
            if m and bad:
                rows.append((f"1 fix: {label[2:].split(':')[0]}, vacuumed, {flabel}", f"{m:.3f} s",
                             f"shipped {bad:.3f} s" + (f", truncated {good:.3f} s" if good else ""),
                             f"{bad / m:.1f}x faster", "(scratch)", "INFO"))
u20 = pm("update:plain", "truncated", 20000)
if u20:
    rows.append(("1 (the same UPDATE, unwatched table)", f"{u20:.3f} s", "", "", "", "INFO"))
# 2
def drain_rows(fig, variant):
    return [d for d in sel(fig=fig, variant=variant) if "watch_seconds" in d]
def rate(d):
    return int(d["n"]) / float(d["seconds"]) if d["complete"] == "1" else int(d["verdicts"]) / float(d["seconds"])
m2 = drain_rows(2, "w1_b500")
if m2:
    e2 = med([rate(d) for d in m2])
    ok = all(d["complete"] == "1" and d["wrong"] == "0" for d in m2)
    rows.append(("2 dns, 100k rows/1,000 domains, watch->all verdicts", f0(e2, " rows/s"),
                 f"watch() {med([float(d['watch_seconds']) for d in m2]):.2f} s of {med([float(d['seconds']) for d in m2]):.2f} s",
                 "", ">= 3,000/s, 0 wrong", verdict(ok and e2 >= 3000)))
    for name, label in (("w1_b2000", "workers 1, batch 2000"), ("w2_b500", "workers 2, batch 500"),
                        ("w2_b2000", "workers 2, batch 2000")):
        ds = drain_rows(2, name)
        if ds:
            e = med([rate(d) for d in ds])
            rows.append((f"2 the same, {label}", f0(e, " rows/s"), f"batch 500/1 worker {f0(e2, '/s')}",
                         f"{e / e2:.2f}x", "", "INFO"))
    ep, er = drain_rows(2, "w1_b500_patched"), drain_rows(2, "w1_b500_released")
    if ep and er:
        a, b = med([rate(d) for d in ep]), med([rate(d) for d in er])
        pr = {}
        for d in ep + er:
            pr.setdefault(d["run"], {})[d["variant"]] = rate(d)
        pairs2 = [p["w1_b500_patched"] / p["w1_b500_released"] for p in pr.values() if len(p) == 2]
        rows.append(("2 scratch: write-back skips the enqueue (pairs)", f0(a, " rows/s"), f"released, same phase {f0(b, '/s')}",
                     f"{med(pairs2):.2f}x", "", "INFO"))
else:
    rows.append(("2 dns, 100k rows/1,000 domains", "n/a", "", "", ">= 3,000/s", "ERROR"))

alld = [d for d in lines if "watch_seconds" in d]
if alld:
    bad = [f"fig {d['fig']} {d['variant']} run {d['run']}" for d in alld if d["complete"] != "1" or d["wrong"] != "0"]
    rows.append(("2-4 every drain complete within 120 s, 0 wrong", f"{len(alld) - len(bad)} of {len(alld)}",
                 ", ".join(bad)[:60], "", "all", verdict(not bad)))

# 3
m3 = drain_rows(3, "w1_b500")
c3 = sel(fig=3, variant="comparator")
if m3 and c3:
    e3 = med([rate(d) for d in m3])
    c = med([int(d["n"]) / float(d["seconds"]) for d in c3])
    ok = all(d["complete"] == "1" and d["wrong"] == "0" for d in m3) and all(d["wrong"] == "0" for d in c3)
    rows.append((f"3 smtp, {int(smtp_rows):,} rows/1,000 domains, watch->all verdicts", f0(e3, " rows/s"),
                 f"verify_emails {f0(c, '/s')}", f"{e3 / c:.3f}x", ">= 0.50x, 0 wrong", verdict(ok and e3 / c >= 0.5)))
    d3 = med([(int(d["n"])) / (float(d["seconds"]) - float(d["watch_seconds"])) for d in m3 if d["complete"] == "1"])
    if d3:
        rows.append(("3 the same, drain only (after watch() returned)", f0(d3, " rows/s"), f"verify_emails {f0(c, '/s')}",
                     f"{d3 / c:.3f}x", "", "INFO"))
else:
    rows.append(("3 smtp vs verify_emails", "n/a", "", "", ">= 0.50x", "ERROR"))

# 4
if m2:
    rss = max(int(d["max_rss_kb"]) for d in m2 if d["max_rss_kb"] not in ("", "None"))
    hwm = max(int(d["hwm_kb"]) for d in m2 if d["hwm_kb"] not in ("", "None"))
    anon = max(int(d["max_rss_anon_kb"]) for d in m2 if d["max_rss_anon_kb"] not in ("", "None"))
    shm = max(int(d["max_rss_shmem_kb"]) for d in m2 if d["max_rss_shmem_kb"] not in ("", "None"))
    fil = max(int(d["max_rss_file_kb"]) for d in m2 if d["max_rss_file_kb"] not in ("", "None"))
    rows.append(("4 worker VmRSS draining 100k (max of samples)", f"{rss / 1024:.1f} MB", f"VmHWM {hwm / 1024:.1f} MB", "",
                 "< 100 MB", verdict(rss < 100 * 1024 and hwm < 100 * 1024)))
    rows.append(("4 of it: private (RssAnon) / shared buffers (RssShmem) / files", f"{anon / 1024:.1f} MB",
                 f"shmem {shm / 1024:.1f} MB, file {fil / 1024:.1f} MB", "", "(VmRSS = sum)", "INFO"))
    for name in ("w1_b2000", "w2_b500", "w2_b2000"):
        ds = drain_rows(2, name)
        if ds:
            r = max(int(d["max_rss_kb"]) for d in ds)
            a = max(int(d["max_rss_anon_kb"]) for d in ds)
            rows.append((f"4 the same, {name}", f"{r / 1024:.1f} MB", f"private {a / 1024:.1f} MB", "", "", "INFO"))
    same = sorted(drain_rows(4, "same_worker"), key=lambda d: int(d["run"]))
    if same:
        rows.append((f"4 {len(same)} drains in one worker: VmRSS after each",
                     " / ".join(f"{int(d['max_rss_kb']) / 1024:.0f}" for d in same) + " MB",
                     "private " + " / ".join(f"{int(d['max_rss_anon_kb']) / 1024:.1f}" for d in same) + " MB",
                     "", "(settles?)", "INFO"))
else:
    rows.append(("4 worker VmRSS", "n/a", "", "", "< 100 MB", "ERROR"))

head = ("figure", "median", "comparator (median)", "ratio", "target", "result")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
fmt = lambda r: "  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip()
print(fmt(head))
print(fmt(tuple("-" * w for w in widths)))
for r in rows:
    print(fmt(r))

print()
print("figure 1 pairs (seconds, unwatched / watched):")
for run, p in sorted(pairs.items(), key=lambda x: int(x[0])):
    print(f"  run {run}: {p.get('unwatched', float('nan')):.3f} / {p.get('watched', float('nan')):.3f}"
          + (f" -> {p['unwatched'] / p['watched']:.3f}x" if "watched" in p and "unwatched" in p else ""))
if prof:
    print("figure 1 profile (median seconds, one statement each, COMMIT included; us/row over the plain table's INSERT):")
    base = pm("plain", "truncated", 100000)
    labels = {
        "plain": "plain table (no verdict columns): the comparator",
        "columns": "verdict columns + <col>_verified_at index, no triggers",
        "capture_only": "watched, trigger body empty (transition table capture only)",
        "wake_only": "watched, statement trigger without transition table, wake only",
        "shipped": "watched, as released",
        "no_fk": "as released without the queue's FOREIGN KEY to watches",
        "no_fk_no_row_idx": "without the FK and queue_row_idx",
        "pkey_only": "without the FK, queue_row_idx, queue_claimed_idx, queue_pending_idx (floor)",
        "seqscan_off": "as released + SET enable_seqscan = off on watch_enqueue() and watch()",
        "fresh_watch": "as released + watch() queues a new watch with fresh => true",
    }
    order = list(labels)
    def pkey(item):
        (v, s, n), _ = item
        kind, _, name = v.rpartition(":")
        return (n != 100000, ["", "update", "watch"].index(kind), s, order.index(name) if name in order else 99)
    for (v, s, n), xs in sorted(prof.items(), key=pkey):
        m = med(xs)
        kind, _, name = v.rpartition(":")
        extra = ""
        if n == 100000 and base and not kind:
            extra = f"  {(m - base) / n * 1e6:+6.2f} us/row  ratio {base / m:.3f}x"
        what = {"": "INSERT", "watch": "watch()", "update": "UPDATE"}[kind]
        print(f"  {what:<7} {n:>6} rows  queue {s:<9} {m:8.3f} s{extra}  {labels.get(name, name)}  [{', '.join(f'{x:.3f}' for x in xs)}]")
print("drains:")
for d in lines:
    if "watch_seconds" in d:
        print(f"  fig {d['fig']} {d['variant']} run {d['run']}: {rate(d):,.0f} rows/s ({d['seconds']} s, watch() {d['watch_seconds']} s, "
              f"last verdict at {d['last_verdict_seconds']} s), complete={d['complete']}, wrong {d['wrong']}, unverified {d['unverified']}, "
              f"batches {d['batches']}, retries {d['retries']}, p50 {d['p50_ms']} ms, VmRSS max {int(d['max_rss_kb']) / 1024:.1f} MB "
              f"(anon {int(d['max_rss_anon_kb']) / 1024:.1f}, shmem {int(d['max_rss_shmem_kb']) / 1024:.1f}, file {int(d['max_rss_file_kb']) / 1024:.1f}), "
              f"VmHWM {int(d['hwm_kb']) / 1024:.1f} MB, {d['rss_samples']} samples, RssAnon first->last kB {d.get('anon_first_last_kb', '?')}"
              + (f", wrong kinds {d['wrong_kinds']}" if d.get("wrong_kinds", "-") != "-" else ""))
for d in sel(fig=3, variant="comparator"):
    print(f"  fig 3 comparator run {d['run']}: {int(d['n']) / float(d['seconds']):,.0f}/s ({d['seconds']} s), wrong {d['wrong']}, "
          f"sessions {d['sessions']}, rcpts {d['rcpts']}, catch-all probes {d['catch_all_probes']}")
for e in errors:
    print("ERROR line: " + e)
for n in notes.splitlines():
    if n.strip():
        print("NOTE: " + n)
print(f"wall time: {float(finished) - float(started):.0f} s")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
