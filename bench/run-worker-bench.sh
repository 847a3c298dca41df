#!/bin/bash
# The in-place flow's benchmarks (watch() in async mode and the background
# worker), each with its comparator measured in the same run. The watched
# table is its own queue: an INSERT into it only wakes the workers at COMMIT
# (a statement trigger), and the worker's claim sweeps the rows without a
# verdict into email_verify.queue itself, as items it has claimed (through the
# partial index on <col>_verified_at); watch() of a filled table leaves its
# rows without a verdict to that sweep too.
#
#   1. INSERT of 100,000 rows in one statement into a watched table (async)
#      against the same INSERT into the same table unwatched (as the user had
#      it: no verdict columns): EV_WORKER_F1_RUNS alternating pairs, a fresh
#      table each, the median of the pair ratios; target watched >= 0.70x the
#      unwatched rows/s. INFO in the same runs: "columns", the table with the
#      verdict columns and their partial index but no watch (watch() then
#      unwatch() of the fresh empty table), which splits the cost into the
#      columns + index and the wake trigger; and the same three loads by one
#      COPY FROM a server-side file. The workers are off for this figure
#      (email_verify.workers = 0) so that they do not compete.
#   2. 100,000 watched rows over l0000..l0999.test (users u0..u99) at level
#      dns, until the queue holds nothing of the watch and every row has a
#      verdict; target >= 3,000 rows/s and no wrong verdict, workers 1, batch
#      500 (the defaults), median of EV_WORKER_RUNS, on two paths:
#        A. watch() of the filled table (its rows wait there), timed from
#           the watch() call;
#        B. watch() of the EMPTY table, then one INSERT of the 100,000 rows,
#           timed from the INSERT: its COMMIT wakes the worker, which sweeps
#           the rows into the queue as it claims.
#      INFO (path A): workers 1 batch 2000, workers 2 batch 500.
#   3. The same at level smtp against the local Postfix, 20,000 rows (users
#      u0..u19 on the 1,000 domains; 100,000 would take about a minute a
#      run with its comparator), path A, against one verify_emails(the same
#      addresses, 'smtp') call in the same run (clear_cache(), result_ttl =
#      0), alternating which goes first; target >= 0.50x its rate.
#   4. The worker's memory while it drains figure 2 (A and B): /proc/<pid>/status
#      (and PSS from /proc/<pid>/smaps_rollup) sampled at every poll (50 ms):
#      the largest VmRSS (target < 100 MB),
#      with RssAnon (private) / RssShmem (shared buffers touched) / RssFile,
#      and VmHWM at the end; INFO: three path-A drains of 100,000 rows in a
#      row by the same worker (no restart), to see what keeps growing; and,
#      after the first drain of each path, the shared memory the worker has
#      mapped by relation (bench/shared_pages.py, in the log only).
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
# of 500 rows touches ~500 domains). Path A watches with the queue just
# TRUNCATEd, autovacuum of the queue held off from the TRUNCATE until watch()
# has returned (see prepare()); path B watches the empty table right after
# the restart, with the queue TRUNCATEd and autovacuum as usual. Every
# statement has lock_timeout 60 s, statement_timeout 300 s.
# Takes about 2 minutes.
#
# Ends with a table, each line PASS/FAIL against its target (INFO: no
# target). It measures and does not gate: FAIL still exits 0 (a step that
# could not run at all exits 1). Everything printed is also in
# build/bench/run-worker-bench.log; the raw result lines are in
# build/bench/worker_bench.results.
#
# Environment: EV_WORKER_PGPORT (54350), EV_WORKER_RUNS (drain runs per
# figure-2/3 path, default 3), EV_WORKER_INFO_RUNS (runs of each INFO
# configuration, default 2), EV_WORKER_F1_RUNS (figure-1 runs, default 9),
# EV_WORKER_SAME_WORKER (0: skip figure 4's three drains in one worker;
# default 1), EV_WORKER_SMTP_ROWS (20000), EV_WORKER_KEEP=1 (leave the
# cluster folder for inspection; the server is still stopped).
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh and worker_lib.sh, next to this script
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/worker_lib.sh"

port=${EV_WORKER_PGPORT:-54350}
runs=${EV_WORKER_RUNS:-3}
info_runs=${EV_WORKER_INFO_RUNS:-2}
f1_runs=${EV_WORKER_F1_RUNS:-9}
same_worker=${EV_WORKER_SAME_WORKER:-1}
smtp_rows=${EV_WORKER_SMTP_ROWS:-20000}
f1_rows=100000
f2_rows=100000
dns_server=127.0.53.1:53
results=$out/worker_bench.results
: >"$results"
started=$(date +%s.%N)
print_machine

ensure_world

ensure_extension

step "the throwaway cluster"
worker_cluster ev-bench5 worker-bench-server.log "${EV_WORKER_KEEP:-0}"
bench_database
psql -X -At -c "SELECT 'server: ' || version()"
psql -X -At -c "SELECT 'extension: email_verify ' || extversion FROM pg_extension WHERE extname = 'email_verify'"
psql -X -At -c "SELECT 'settings: ' || string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings
                WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_worker_processes', 'autovacuum',
                               'email_verify.database', 'email_verify.dns_servers', 'email_verify.result_ttl',
                               'email_verify.max_connections_per_host', 'email_verify.worker_naptime')"

# ---- figure 1 -------------------------------------------------------------------
step "figure 1: INSERT of $f1_rows rows into a watched (async) vs unwatched table, workers = 0 ($f1_runs runs)"
echo "(email_verify.workers = 0 for this figure: nothing sweeps the table, nothing competes for the 2 cores;"
echo " a fresh table for every load, CHECKPOINT before it; the time includes COMMIT. Variants: unwatched = the"
echo " table as the user had it; columns = watch() then unwatch() of the empty table (verdict columns and the"
echo " partial <col>_verified_at index, no trigger); watched = watch(level dns, async). INFO: the same by COPY)"
copy_file=$pgdir/f1.copy
psql_q -c "SELECT worker_copy_file('$copy_file', $f1_rows)" >/dev/null || note "the COPY file could not be written"
for ((k = 1; k <= f1_runs; k++)); do
    # watched in the middle, unwatched and columns alternating first and last
    if ((k % 2 == 1)); then order="unwatched watched columns"; else order="columns watched unwatched"; fi
    for v in $order; do f1_load "$k" "$v" insert; done
    [ -f "$copy_file" ] && for v in $order; do f1_load "$k" "$v" copy; done
done
psql_q -c "TRUNCATE email_verify.queue" -c "DROP TABLE f1" >/dev/null
f1_ratio=$(python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if line.startswith("WORKER_BENCH fig=1 ") and " how=insert " in line:
        d = dict(p.split("=", 1) for p in line.split() if "=" in p)
        runs.setdefault(d["run"], {})[d["variant"]] = float(d["seconds"])
r = [v["unwatched"] / v["watched"] for v in runs.values() if "watched" in v and "unwatched" in v]
print(f"{statistics.median(r):.3f}" if r else "0")
PY
)
echo "median watched/unwatched rows/s ratio (INSERT): $f1_ratio"

# ---- figures 2 and 4 ------------------------------------------------------------
# Path B: restart with the configuration, then the table created empty and
# watched (the workers are up: watch() of an empty table queues nothing),
# then worker_drain(how => 'insert') INSERTs the rows.
drain_insert() {  # fig run variant workers batch table rows users level status reason timeout
    configure "$4" "$5" || { note "could not configure workers=$4 batch=$5"; return 1; }
    psql_q -c "ALTER TABLE email_verify.queue RESET (autovacuum_enabled)" -c "TRUNCATE email_verify.queue" \
        -c "SELECT worker_make_table('$6', 0, $8)" \
        -c "SELECT email_verify.watch('$6', 'email', level => '$9', mode => 'async')" -c "CHECKPOINT" >/dev/null ||
        { note "fig $1 $3 run $2: the empty table could not be watched"; return 1; }
    drain_only "$1" "$2" "$3" "$6" "$9" "${10}" "${11}" "${12}" insert "$7" "$8"
}
step "figure 2: $f2_rows watched rows at level dns, 1,000 domains; workers 1, batch 500, paths A and B alternating ($runs runs each)"
echo "(A: watch() of the filled table, whose COMMIT wakes the worker; B: watch() of the empty table, then one INSERT"
echo " of the rows, whose COMMIT wakes the worker; either way the worker sweeps the rows into the queue as it claims)"
for ((k = 1; k <= runs; k++)); do
    for path in $( ((k % 2 == 1)) && echo "A B" || echo "B A"); do
        if [ "$path" = A ]; then
            prepare f2 "$f2_rows" 100 && drain 2 "$k" w1_b500 1 500 f2 "$f2_rows" 100 dns valid domain_ok 120
        else
            drain_insert 2 "$k" insert_w1_b500 1 500 f2 "$f2_rows" 100 dns valid domain_ok 120
        fi
        # What the worker's RssShmem is made of, after the first drain of each path.
        if ((k == 1)); then
            echo "path $path, run 1: the shared memory the worker has mapped, by relation (bench/shared_pages.py)"
            bench/shared_pages.py "$(psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'email_verify worker' LIMIT 1")" 8 ||
                note "bench/shared_pages.py failed"
        fi
    done
done
step "figure 2 INFO: path A with workers 1, batch 2000 and workers 2, batch 500 ($info_runs runs each)"
for cfg in w1_b2000:1:2000 w2_b500:2:500; do
    IFS=: read -r name w b <<<"$cfg"
    for ((k = 1; k <= info_runs; k++)); do
        prepare f2 "$f2_rows" 100 && drain 2 "$k" "$name" "$w" "$b" f2 "$f2_rows" 100 dns valid domain_ok 120
    done
done

if [ "$same_worker" = 1 ]; then
    step "figure 4: three path-A drains of $f2_rows rows by the same worker (no restart in between): does its memory settle?"
    if configure 1 500; then
        for k in 1 2 3; do
            prepare "f4_$k" "$f2_rows" 100 && drain_only 4 "$k" same_worker "f4_$k" dns valid domain_ok 120
        done
        psql_q -c "TRUNCATE email_verify.queue" -c "DROP TABLE f4_1, f4_2, f4_3" >/dev/null
    fi
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

step "after the runs"
# (the restarts' fast shutdowns terminate the workers: that FATAL is expected;
# so is watch()'s warning that no worker serves the database in figure 1)
problems() {
    grep -E ' (ERROR|FATAL|PANIC|WARNING): ' "$pgdir/server.log" 2>/dev/null |
        grep -v -e 'terminating background worker "email_verify worker" due to administrator command' \
            -e 'WARNING: *no email_verify worker serves database'
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

# 1: per run and method, the seconds of each variant
f1 = {}
for d in sel(fig=1):
    f1.setdefault((d["how"], d["run"]), {})[d["variant"]] = (float(d["seconds"]), int(d["n"]), int(d["queued"]))
def f1_stats(how, a, b):
    """median rows/s of a and b, and the median of the per-run ratios a/b (rates)"""
    runs = [v for (h, _), v in f1.items() if h == how]
    ra = med([v[a][1] / v[a][0] for v in runs if a in v])
    rb = med([v[b][1] / v[b][0] for v in runs if b in v])
    ratio = med([v[b][0] / v[a][0] for v in runs if a in v and b in v])
    return ra, rb, ratio
w_rate, u_rate, r1 = f1_stats("insert", "watched", "unwatched")
if r1 is not None:
    rows.append(("1 INSERT 100k rows, watched (async)", f0(w_rate, " rows/s"), f"unwatched {f0(u_rate, '/s')}",
                 f"{r1:.3f}x", ">= 0.70x", verdict(r1 >= 0.70)))
else:
    rows.append(("1 INSERT 100k rows, watched (async)", "n/a", "", "", ">= 0.70x", "ERROR"))
c_rate, u2, rc = f1_stats("insert", "columns", "unwatched")
if rc is not None:
    rows.append(("1 the same, verdict columns + index, no watch", f0(c_rate, " rows/s"), f"unwatched {f0(u2, '/s')}",
                 f"{rc:.3f}x", "", "INFO"))
w2, c2, rwc = f1_stats("insert", "watched", "columns")
if rwc is not None:
    rows.append(("1 of it, the wake trigger: watched vs columns", f0(w2, " rows/s"), f"columns {f0(c2, '/s')}",
                 f"{rwc:.3f}x", "", "INFO"))
wq = [v["watched"][2] for (h, _), v in f1.items() if "watched" in v]
if wq and max(wq) > 0:
    rows.append(("1 queue items after a watched load", f"max {max(wq)}", "", "", "0 (sweep)", "INFO"))
for v, label in (("watched", "1 COPY 100k rows, watched (async)"), ("columns", "1 COPY 100k rows, columns + index, no watch")):
    a, b, r = f1_stats("copy", v, "unwatched")
    if r is not None:
        rows.append((label, f0(a, " rows/s"), f"unwatched COPY {f0(b, '/s')}", f"{r:.3f}x", "", "INFO"))

# 2
def is_drain(d):
    return "complete" in d
def drain_rows(fig, variant):
    return [d for d in sel(fig=fig, variant=variant) if is_drain(d)]
def rate(d):
    return int(d["n"]) / float(d["seconds"]) if d["complete"] == "1" else int(d["verdicts"]) / float(d["seconds"])
def start_s(d):
    x = d["watch_seconds"] if d.get("how", "watch") == "watch" else d["insert_seconds"]
    return float(x)
paths = (("w1_b500", "2A dns, 100k rows: watch() of the filled table", "watch()"),
         ("insert_w1_b500", "2B dns, 100k rows: INSERT into the watched table", "INSERT"))
main = {}
for variant, label, what in paths:
    ds = drain_rows(2, variant)
    main[variant] = ds
    if ds:
        e = med([rate(d) for d in ds])
        ok = all(d["complete"] == "1" and d["wrong"] == "0" for d in ds)
        rows.append((label + " -> all verdicts", f0(e, " rows/s"),
                     f"{what} {med([start_s(d) for d in ds]):.2f} s of {med([float(d['seconds']) for d in ds]):.2f} s",
                     "", ">= 3,000/s, 0 wrong", verdict(ok and e >= 3000)))
    else:
        rows.append((label, "n/a", "", "", ">= 3,000/s", "ERROR"))
ea, eb = main["w1_b500"], main["insert_w1_b500"]
if ea and eb:
    ra, rb = med([rate(d) for d in ea]), med([rate(d) for d in eb])
    rows.append(("2 B (INSERT) against A (watch())", f0(rb, " rows/s"), f"A {f0(ra, '/s')}", f"{rb / ra:.2f}x", "", "INFO"))
if ea:
    e2 = med([rate(d) for d in ea])
    for name, label in (("w1_b2000", "workers 1, batch 2000"), ("w2_b500", "workers 2, batch 500")):
        ds = drain_rows(2, name)
        if ds:
            e = med([rate(d) for d in ds])
            rows.append((f"2A the same, {label}", f0(e, " rows/s"), f"batch 500/1 worker {f0(e2, '/s')}",
                         f"{e / e2:.2f}x", "", "INFO"))

alld = [d for d in lines if is_drain(d)]
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
def kb(ds, field):
    xs = [int(d[field]) for d in ds if d.get(field, "") not in ("", "None")]
    return max(xs) if xs else None
for variant, tag in (("w1_b500", "4A"), ("insert_w1_b500", "4B")):
    ds = main[variant]
    rss, hwm = kb(ds, "max_rss_kb"), kb(ds, "hwm_kb")
    if rss is None:
        rows.append((f"{tag} worker VmRSS draining 100k", "n/a", "", "", "< 100 MB", "ERROR"))
        continue
    anon, shm, fil = kb(ds, "max_rss_anon_kb"), kb(ds, "max_rss_shmem_kb"), kb(ds, "max_rss_file_kb")
    rows.append((f"{tag} worker VmRSS draining 100k (max of samples)", f"{rss / 1024:.1f} MB",
                 f"VmHWM {hwm / 1024:.1f} MB" if hwm else "", "", "< 100 MB",
                 verdict(rss < 100 * 1024 and (hwm or 0) < 100 * 1024)))
    rows.append((f"{tag} of it: private (RssAnon) / shared buffers (RssShmem) / files", f"{anon / 1024:.1f} MB",
                 f"shmem {shm / 1024:.1f} MB, file {fil / 1024:.1f} MB", "", "(VmRSS = sum)", "INFO"))
    pss = kb(ds, "max_pss_kb")
    if pss:
        rows.append((f"{tag} worker PSS (shared pages divided among their processes)", f"{pss / 1024:.1f} MB",
                     f"VmRSS {rss / 1024:.1f} MB", "", "(INFO)", "INFO"))
for name in ("w1_b2000", "w2_b500"):
    ds = drain_rows(2, name)
    if ds and kb(ds, "max_rss_kb"):
        rows.append((f"4A the same, {name}", f"{kb(ds, 'max_rss_kb') / 1024:.1f} MB",
                     f"private {kb(ds, 'max_rss_anon_kb') / 1024:.1f} MB", "", "", "INFO"))
same = sorted(drain_rows(4, "same_worker"), key=lambda d: int(d["run"]))
if same:
    rows.append((f"4A {len(same)} drains in one worker: VmRSS after each",
                 " / ".join(f"{int(d['max_rss_kb']) / 1024:.0f}" for d in same) + " MB",
                 "private " + " / ".join(f"{int(d['max_rss_anon_kb']) / 1024:.1f}" for d in same) + " MB",
                 "", "(settles?)", "INFO"))

head = ("figure", "median", "comparator (median)", "ratio", "target", "result")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
fmt = lambda r: "  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip()
print(fmt(head))
print(fmt(tuple("-" * w for w in widths)))
for r in rows:
    print(fmt(r))

print()
print("figure 1 runs (seconds, COMMIT included: unwatched / columns / watched -> watched ratio):")
for (how, run), v in sorted(f1.items(), key=lambda x: (x[0][0] != "insert", int(x[0][1]))):
    sec = lambda k: f"{v[k][0]:.3f}" if k in v else "  n/a"
    print(f"  {how:<6} run {run}: {sec('unwatched')} / {sec('columns')} / {sec('watched')}"
          + (f" -> {v['unwatched'][0] / v['watched'][0]:.3f}x" if "watched" in v and "unwatched" in v else "")
          + (f"  (queue items after the watched load: {v['watched'][2]})" if "watched" in v and v["watched"][2] else ""))
print("drains:")
for d in alld:
    print(f"  fig {d['fig']} {d['variant']} run {d['run']}: {rate(d):,.0f} rows/s ({d['seconds']} s, "
          f"{'watch()' if d.get('how', 'watch') == 'watch' else 'INSERT'} {start_s(d)} s, "
          f"last verdict at {d['last_verdict_seconds']} s), complete={d['complete']}, wrong {d['wrong']}, unverified {d['unverified']}, "
          f"left in queue {d['left_in_queue']}, verdicts {d['verdicts']}, "
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
