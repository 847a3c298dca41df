#!/bin/bash
# The worker of two builds compared in one session (issue 11's figures):
# the previous code (EV_CMP_OLD, default 822e861) and the new (EV_CMP_NEW,
# default HEAD), each exported by `git archive` into a scratch folder
# outside the repo and built there once (make -j2); then, in rounds
# old, new, old, new, ... (EV_CMP_ROUNDS, 3), each build is installed in turn
# (make install; the server restarted, since the module is preloaded, and
# the bench database dropped and created again: 0.3.0 and 0.4.0 are the
# builds' default versions) and measured the same way:
#
#   dns    100,000 watched rows over 1,000 lab domains at level dns, watch()
#          of the filled table -> every row verified (worker_drain of
#          bench/worker_bench.sql, path A of run-worker-bench.sh), workers 1,
#          batch 500; target new >= 0.95x old (medians of the rounds).
#   smtp   the same with 20,000 rows at level smtp against the local
#          Postfix; target new >= 0.95x old.
#   insert INSERT of 100,000 rows in one statement into a watched (async)
#          table against the same table unwatched, EV_CMP_INSERT_PAIRS (3)
#          pairs a round, workers 0 (run-worker-bench.sh's figure 1); target
#          new >= 0.70x of unwatched (median of the pair ratios).
#   claim  claim_batch(0, 500) behind 20,000 waiting retries (the first
#          20,000 rows of a watched 100,000-row table claimed and put back by
#          retry_later for an hour, so they fill the front of the
#          <col>_verified_at index; 80,000 rows without an item behind them),
#          7 calls a round, each rolled back, workers 0; target new <= 27 ms.
#   memory the worker's private memory (RssAnon, sampled every 50 ms while it
#          drains dns and smtp), the largest of the rounds; target new < 20 MB.
#   locked one watched table of 250 rows at level dns (250 lab domains), a
#          writer holding 50 of them (id % 5 = 0) FOR UPDATE in a transaction
#          that sleeps EV_CMP_HOLD (60) s: the worker's sweep is held off
#          (the watch's sweep lock, taken by the watching session) until the
#          writer has its rows, then woken; the table is polled every 20 ms
#          and each row's first sight with a verdict recorded. For each of the
#          200 other rows: lag = first seen - <col>_verified_at (the probe's
#          checked_at stamp); target new: the largest lag <= 1 s, all 200
#          seen. New build: once the 200 are seen and the 50 items are back
#          in the queue (or 5 s later) the writer is cancelled; old build:
#          polled until the 200 are seen, at most EV_CMP_HOLD + 40 s.
#   plans  (new build, last round) the claim and the write-back with the
#          planner statistics of an empty queue (TRUNCATE + VACUUM ANALYZE
#          of the empty queue, autovacuum of the queue off, then filled:
#          20,000 waiting retries, 300 ready items) and of the same queue
#          ANALYZEd: one session each (run twice, the second counts) runs
#          claim_batch(0, 500) (300 ready items + 200 swept) and
#          apply_verdicts of what it claimed, in a transaction rolled back,
#          with auto_explain (log_nested_statements, log_analyze,
#          log_min_duration 0 around the two calls); bench/compare_plans.py
#          prints every statement's plan of both cases and whether their
#          shapes are the same.
#
#   bench/run-compare-bench.sh
#
# Works in a throwaway cluster of its own (initdb as the postgres OS user into
# /var/tmp/ev-cmp-XXXX, port EV_CMP_PGPORT (54600), unix socket only; see
# bench/worker_lib.sh), with the local mail world (started when it is not
# running: root). Installing a build replaces the system's email_verify; at
# exit the repository's own build is made and installed again (make -j2 &&
# make install in the repo root; the new build's install if that fails).
# Every statement has lock_timeout 60 s, statement_timeout 300 s; every wait
# is bounded. Takes about 7 minutes.
#
# Ends with a table (median old, median new, ratio, target, PASS/FAIL) and a
# machine line `COMPARE_BENCH ...`. It measures and does not gate: FAIL still
# exits 0 (a step that could not run at all exits 1). Everything printed is
# also in build/bench/run-compare-bench.log, the raw lines in
# build/bench/compare_bench.results.
#
# Environment: EV_CMP_OLD (822e861), EV_CMP_NEW (HEAD), EV_CMP_PGPORT (54600),
# EV_CMP_ROUNDS (3), EV_CMP_INSERT_PAIRS (3), EV_CMP_HOLD (60),
# EV_CMP_KEEP=1 (leave the cluster and the build folders).
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh and worker_lib.sh, next to this script
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/worker_lib.sh"

old_rev=${EV_CMP_OLD:-822e861}
new_rev=${EV_CMP_NEW:-HEAD}
port=${EV_CMP_PGPORT:-54600}
rounds=${EV_CMP_ROUNDS:-3}
insert_pairs=${EV_CMP_INSERT_PAIRS:-3}
hold=${EV_CMP_HOLD:-60}
keep=${EV_CMP_KEEP:-0}
f1_rows=100000
dns_rows=100000
smtp_rows=20000
retries=20000
dns_server=127.0.53.1:53
results=$out/compare_bench.results
: >"$results"
started=$(date +%s.%N)
print_machine

ensure_world

# ---- the two builds ---------------------------------------------------------------
step "the builds: old $old_rev, new $new_rev (git archive into a scratch folder, make -j2)"
declare -A rev sha version
rev[old]=$old_rev
rev[new]=$new_rev
scratch=$(mktemp -d /var/tmp/ev-cmp-build-XXXX) || die "mktemp failed"
# shellcheck disable=SC2317  # run at exit (trap, exit_hooks); ShellCheck 0.9 calls it unreachable as the script ends with exit
restore_repo_build() {
    echo "restoring the repository's build: make -j2 && make install in $repo"
    if ! (cd "$repo" && make -s -j2 && make -s install) >"$out/$bench_name-restore.log" 2>&1; then
        echo "the repository's build failed (see $out/$bench_name-restore.log): installing the new build ($new_rev) instead"
        (cd "$scratch/new" && make -s install) >>"$out/$bench_name-restore.log" 2>&1 || echo "RESTORE FAILED"
    fi
    echo "installed: $(stat -c '%y' "$(pg_config --pkglibdir)/email_verify.so" | cut -d. -f1)"
    if [ "$keep" = 1 ]; then
        echo "build folders kept: $scratch"
    else
        rm -rf "$scratch"
    fi
}
exit_hooks+=(restore_repo_build)
trap 'restore_repo_build' EXIT  # until the cluster's trap (which runs it too) is set
for b in old new; do
    sha[$b]=$(git rev-parse --short "${rev[$b]}") || die "no such revision: ${rev[$b]}"
    mkdir -p "$scratch/$b"
    git archive "${rev[$b]}" | tar -x -C "$scratch/$b" || die "git archive ${rev[$b]} failed"
    t0=$(date +%s)
    (cd "$scratch/$b" && timeout 900 make -s -j2) >"$out/$bench_name-make-$b.log" 2>&1 ||
        die "make of $b (${sha[$b]}) failed: $(tail -5 "$out/$bench_name-make-$b.log")"
    version[$b]=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$scratch/$b/email_verify.control")
    echo "$b: ${sha[$b]} $(git log -1 --format=%s "${rev[$b]}" | cut -c1-70); default_version ${version[$b]}; built in $(($(date +%s) - t0)) s"
done

# Installs build $1 and restarts the server with it (workers 0), with a new
# bench database.
use_build() {
    psql_q -d postgres -c "ALTER SYSTEM SET email_verify.workers = 0" \
        -c "ALTER SYSTEM SET email_verify.worker_batch_size = 500" >/dev/null || die "ALTER SYSTEM failed"
    pg_stop || die "the server did not stop"
    (cd "$scratch/$1" && make -s install) >>"$out/$bench_name-install.log" 2>&1 || die "make install of $1 failed"
    cmp -s "$scratch/$1/email_verify.so" "$(pg_config --pkglibdir)/email_verify.so" || die "the installed module is not the $1 build"
    pg_start || die "the server did not start with the $1 build: $(tail -5 "$pgdir/server.log")"
    bench_database
    psql_q -f bench/compare_bench.sql >/dev/null || die "bench/compare_bench.sql failed"
    local v
    v=$(psql -X -At -c "SELECT extversion FROM pg_extension WHERE extname = 'email_verify'")
    [ "$v" = "${version[$1]}" ] || die "the $1 build's extension is $v, not ${version[$1]}"
    echo "installed $1 (${sha[$1]}), extension $v"
}

step "the throwaway cluster"
worker_cluster ev-cmp compare-bench-server.log "$keep"
psql -X -At -d postgres -c "SELECT 'server: ' || version()"

# ---- the measurements of one build --------------------------------------------------
insert_ratio() {  # round build
    local j run order v
    for ((j = 1; j <= insert_pairs; j++)); do
        run=$((($1 - 1) * insert_pairs + j))
        if ((run % 2 == 1)); then order="unwatched watched"; else order="watched unwatched"; fi
        for v in $order; do f1_load "$run" "$v" insert; done
    done
    psql_q -c "TRUNCATE email_verify.queue" -c "DROP TABLE f1" >/dev/null
}
claim_time() {  # round
    psql_q -c "ALTER TABLE email_verify.queue RESET (autovacuum_enabled)" -c "TRUNCATE email_verify.queue" \
        -c "SELECT cmp_retry_table('cr', $dns_rows, $retries, '1 hour')" \
        -c "VACUUM ANALYZE email_verify.queue" -c "VACUUM ANALYZE cr" >/dev/null ||
        { note "round $1: the claim's table could not be set up"; return 1; }
    # jit off, as in the worker (the sweep's disabled scans cross jit_above_cost)
    sqlrun -c "SET jit = off" -c "SELECT cmp_claim_time($1, 7, 500, $retries)"
    psql_q -c "DROP TABLE cr" -c "TRUNCATE email_verify.queue" >/dev/null
}
locked() {  # round build
    local cut=false tmo=$((hold + 40)) i hpid wpid
    [ "$2" = new ] && cut=true && tmo=30
    configure 1 500 || { note "round $1 $2: could not start the worker"; return 1; }
    psql_q -c "ALTER TABLE email_verify.queue RESET (autovacuum_enabled)" -c "TRUNCATE email_verify.queue" \
        -c "SELECT worker_make_table('lk', 250, 1)" >/dev/null || return 1
    # the watching session: watch() and the watch's sweep lock in one
    # transaction, then cmp_locked_run (which frees the lock and wakes the worker)
    timeout $((tmo + 60)) psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = notice" \
        -c "SELECT email_verify.watch('lk', 'email', level => 'dns', mode => 'async');
            SELECT pg_advisory_lock('email_verify.watches'::regclass::oid::int, id) FROM email_verify.watches WHERE relid = 'lk'::regclass" \
        -c "CALL cmp_locked_run($1, '$2', 'lk', $tmo, $cut)" 2>&1 | collect &
    hpid=$!
    for ((i = 0; i < 300; i++)); do
        [ "$(psql -X -At -c "SELECT count(*) FROM pg_locks l JOIN email_verify.watches w ON l.objid = w.id
                             WHERE l.locktype = 'advisory' AND l.granted AND w.relid = 'lk'::regclass" 2>/dev/null)" = 1 ] && break
        sleep 0.1
    done
    ((i == 300)) && note "round $1 $2: the watching session did not take the sweep lock within 30 s"
    PGAPPNAME=ev_cmp_writer timeout $((hold + 30)) psql -X -q -v ON_ERROR_STOP=1 -c "BEGIN" \
        -c "SELECT count(*) FROM (SELECT 1 FROM lk WHERE id % 5 = 0 FOR UPDATE) s" \
        -c "SELECT pg_sleep($hold)" -c "COMMIT" >/dev/null 2>&1 &
    wpid=$!
    wait "$hpid"
    wait "$wpid"
    psql_q -c "DROP TABLE lk" >/dev/null
}
plans() {
    local offset
    psql_q -c "ALTER TABLE email_verify.queue SET (autovacuum_enabled = off)" -c "TRUNCATE email_verify.queue" \
        -c "VACUUM ANALYZE email_verify.queue" \
        -c "SELECT cmp_retry_table('pl', $dns_rows, $retries, '1 hour')" -c "SELECT cmp_put_back(300, '0 s')" \
        -c "VACUUM ANALYZE pl" >/dev/null || { note "plans: the queue could not be set up"; return 1; }
    psql -X -At -c "SELECT 'queue: ' || string_agg(format('%s %s', state, n), ', ') FROM (SELECT state || CASE WHEN state = 'pending' AND not_before > now() THEN ' (waiting)' ELSE '' END AS state, count(*) n FROM email_verify.queue GROUP BY 1) s"
    cat >"$pgdir/plans.sql" <<'SQL'
SET jit = off;
-- The worker's functions: in email_verify_internal, or in email_verify (old build).
SET search_path = public, email_verify_internal, email_verify;
LOAD 'auto_explain';
SET auto_explain.log_format = json;
SET auto_explain.log_analyze = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_nested_statements = on;
SELECT set_config('ev.case', :'case', false) \gset
BEGIN;
DO $$BEGIN RAISE LOG 'EV_CMP_PLANS case=% section=claim pid=%', current_setting('ev.case'), pg_backend_pid(); END$$;
SET LOCAL auto_explain.log_min_duration = 0;
CREATE TEMP TABLE claimed ON COMMIT DROP AS SELECT * FROM claim_batch(0, 500);
SET LOCAL auto_explain.log_min_duration = -1;
CREATE TEMP TABLE verdicts ON COMMIT DROP AS SELECT cmp_verdicts_of('claimed') AS v;
DO $$BEGIN RAISE LOG 'EV_CMP_PLANS case=% section=apply pid=%', current_setting('ev.case'), pg_backend_pid(); END$$;
SET LOCAL auto_explain.log_min_duration = 0;
SELECT apply_verdicts(v) AS written FROM verdicts \gset
SET LOCAL auto_explain.log_min_duration = -1;
DO $$BEGIN RAISE LOG 'EV_CMP_PLANS case=% section=end pid=%', current_setting('ev.case'), pg_backend_pid(); END$$;
SELECT format('case %s: claimed %s (%s swept), written %s', current_setting('ev.case'), count(*),
              count(*) FILTER (WHERE attempts = 0), :'written') FROM claimed;
ROLLBACK;
SQL
    offset=$(stat -c %s "$pgdir/server.log")
    for c in empty empty full full; do
        [ "$c" = full ] && psql_q -c "ANALYZE email_verify.queue" >/dev/null
        timeout 120 psql -X -At -v ON_ERROR_STOP=1 -v case="$c" -f "$pgdir/plans.sql" || note "plans: the $c session failed"
    done
    psql -X -At -c "SELECT 'queue statistics now: reltuples ' || reltuples || ', relpages ' || relpages FROM pg_class WHERE oid = 'email_verify.queue'::regclass"
    python3 bench/compare_plans.py "$pgdir/server.log" "$offset" "$results" || note "bench/compare_plans.py failed"
    psql_q -c "DROP TABLE pl" -c "TRUNCATE email_verify.queue" -c "ALTER TABLE email_verify.queue RESET (autovacuum_enabled)" >/dev/null
}

# ---- the rounds -----------------------------------------------------------------------
for ((k = 1; k <= rounds; k++)); do
    for b in old new; do
        step "round $k of $rounds: $b (${sha[$b]})"
        echo "WORKER_BENCH fig=round run=$k build=$b" >>"$results"
        use_build "$b"
        echo "-- INSERT of $f1_rows rows, watched (async) vs unwatched, workers 0: $insert_pairs pairs"
        insert_ratio "$k" "$b"
        echo "-- claim_batch(0, 500) behind $retries waiting retries, workers 0: 7 calls"
        claim_time "$k"
        if [ "$b" = new ] && ((k == rounds)); then
            echo "-- the plans of claim_batch and apply_verdicts: statistics of an empty queue vs of a full one"
            plans
        fi
        echo "-- dns: $dns_rows rows, watch() -> all verified, workers 1, batch 500"
        prepare f2 "$dns_rows" 100 && drain 2 "$k" "$b" 1 500 f2 "$dns_rows" 100 dns valid domain_ok 120
        psql_q -c "DROP TABLE IF EXISTS f2" >/dev/null
        echo "-- smtp: $smtp_rows rows, watch() -> all verified, workers 1, batch 500"
        prepare f3 "$smtp_rows" 20 && drain 3 "$k" "$b" 1 500 f3 "$smtp_rows" 20 smtp valid accepted 120
        psql_q -c "DROP TABLE IF EXISTS f3" >/dev/null
        echo "-- locked: 250 rows at level dns, 50 held FOR UPDATE by a writer for $hold s"
        locked "$k" "$b"
    done
done

step "after the runs"
problems() {
    grep -E ' (ERROR|FATAL|PANIC|WARNING): ' "$pgdir/server.log" 2>/dev/null |
        grep -v -e 'terminating background worker "email_verify worker" due to administrator command' \
            -e 'WARNING: *no email_verify worker serves database' -e 'canceling statement due to user request' \
            -e 'terminating connection due to administrator command'
}
echo "server log: $(problems | wc -l) unexpected ERROR/FATAL/PANIC/WARNING lines (copied to $out/compare-bench-server.log at exit)"
problems | sed 's/^[^]]*] //' | sort | uniq -c | sort -rn | head -8
finished=$(date +%s.%N)

step "summary"
notes_text=$(printf '%s\n' "${notes[@]+"${notes[@]}"}")
python3 - "$results" "$started" "$finished" "$notes_text" "${sha[old]}" "${sha[new]}" "$hold" <<'PY'
import statistics, sys

path, started, finished, notes, sha_old, sha_new, hold = sys.argv[1:8]
lines, build = [], None
for raw in open(path, encoding="utf-8"):
    if not raw.startswith("WORKER_BENCH "):
        continue
    d = dict(p.split("=", 1) for p in raw.split() if "=" in p)
    if d.get("fig") == "round":
        build = d["build"]
        continue
    d.setdefault("build", d.get("variant") if d.get("fig") in ("2", "3") else build)
    lines.append(d)

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def sel(**kw):
    return [d for d in lines if all(d.get(k) == str(v) for k, v in kw.items())]

def verdict(ok):
    return "PASS" if ok else "FAIL"

def num(x, fmt="{:,.0f}"):
    return "n/a" if x is None else fmt.format(x)

rows, machine, fails = [], {}, []
def add(name, old, new, ratio, target, result, key=None, value=None):
    rows.append((name, old, new, ratio, target, result))
    if result.startswith("FAIL") or result == "ERROR":
        fails.append(name)
    if key:
        machine[key] = value

# drains
def rate(d):
    return int(d["verdicts"]) / float(d["seconds"])
for fig, name, key in (("2", "dns drain 100k rows (rows/s)", "dns"), ("3", "smtp drain 20k rows (rows/s)", "smtp")):
    o = [d for d in sel(fig=fig, build="old") if "complete" in d]
    n = [d for d in sel(fig=fig, build="new") if "complete" in d]
    mo, mn = med([rate(d) for d in o]), med([rate(d) for d in n])
    ok = bool(o) and bool(n) and all(d["complete"] == "1" and d["wrong"] == "0" for d in o + n)
    if mo and mn:
        r = mn / mo
        add(name, num(mo), num(mn), f"{r:.3f}x", ">= 0.95x, all complete, 0 wrong", verdict(ok and r >= 0.95),
            key + "_ratio", f"{r:.3f}")
        rows.append(("  runs old / new", " ".join(num(rate(d)) for d in o), " ".join(num(rate(d)) for d in n), "", "", ""))
    else:
        add(name, num(mo), num(mn), "", ">= 0.95x", "ERROR", key + "_ratio", "n/a")

# INSERT watched vs unwatched
def insert_ratios(b):
    runs = {}
    for d in sel(fig=1, build=b):
        runs.setdefault(d["run"], {})[d["variant"]] = float(d["seconds"])
    return [v["unwatched"] / v["watched"] for v in runs.values() if "watched" in v and "unwatched" in v]
io, inn = insert_ratios("old"), insert_ratios("new")
if inn:
    r = med(inn)
    add(f"watched INSERT 100k / unwatched ({len(inn)} pairs)", num(med(io), "{:.3f}x"), f"{r:.3f}x", "",
        ">= 0.70x (new)", verdict(r >= 0.70), "insert_ratio", f"{r:.3f}")
    rows.append(("  pairs new (min-max)", "", f"{min(inn):.3f}-{max(inn):.3f}x", "", "", ""))
else:
    add("watched INSERT / unwatched", "n/a", "n/a", "", ">= 0.70x", "ERROR", "insert_ratio", "n/a")

# claim behind retries
co = [float(d["p50_ms"]) for d in sel(fig="claim", build="old")]
cn = [float(d["p50_ms"]) for d in sel(fig="claim", build="new")]
if cn:
    mc = med(cn)
    claimed = sorted({d["claimed"] for d in sel(fig="claim")})
    add(f"claim of 500 behind 20,000 retries (ms; claimed {'/'.join(claimed)})", num(med(co), "{:.1f}"),
        f"{mc:.1f}", f"{mc / med(co):.2f}x" if co else "", "<= 27 ms (new)", verdict(mc <= 27), "claim_ms", f"{mc:.1f}")
    rows.append(("  rounds old / new (p50 of 7 calls)", " ".join(f"{x:.1f}" for x in co), " ".join(f"{x:.1f}" for x in cn), "", "", ""))
else:
    add("claim behind 20,000 retries", "n/a", "n/a", "", "<= 27 ms", "ERROR", "claim_ms", "n/a")

# memory
def anon(b, figs=("2", "3")):
    xs = [int(d["max_rss_anon_kb"]) for d in lines
          if d.get("fig") in figs and d.get("build") == b and d.get("max_rss_anon_kb", "None") not in ("", "None")]
    return max(xs) / 1024 if xs else None
ao, an = anon("old"), anon("new")
if an is not None:
    add("worker RssAnon, max over drains (MB)", num(ao, "{:.1f}"), f"{an:.1f}", "", "< 20 MB (new)", verdict(an < 20),
        "rss_anon_mb", f"{an:.1f}")
    rows.append(("  of it: dns / smtp drains", f"{num(anon('old', ('2',)), '{:.1f}')} / {num(anon('old', ('3',)), '{:.1f}')}",
                 f"{num(anon('new', ('2',)), '{:.1f}')} / {num(anon('new', ('3',)), '{:.1f}')}", "", "", ""))
else:
    add("worker RssAnon", "n/a", "n/a", "", "< 20 MB", "ERROR", "rss_anon_mb", "n/a")

# locked rows
lo, ln = sel(fig="locked", build="old"), sel(fig="locked", build="new")
def fl(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None
if ln:
    p50 = med([fl(d, "lag_p50_ms") for d in ln])
    mx = max((fl(d, "lag_max_ms") or 1e9) for d in ln)
    allseen = all(d["seen_others"] == "200" for d in ln)
    o50 = med([fl(d, "lag_p50_ms") for d in lo]) if lo else None
    omx = max((fl(d, "lag_max_ms") or 1e9) for d in lo) if lo else None
    add("200 of 250 rows, 50 held FOR UPDATE: lag median (ms)", num(o50, "{:,.0f}"), num(p50, "{:,.0f}"), "", "(info)", "INFO",
        "locked_lag_p50_ms", num(p50, "{:.0f}"))
    add("  lag max (ms; verdict stamp -> row seen written)", num(omx, "{:,.0f}"), num(mx, "{:,.0f}"), "",
        "<= 1,000 ms, all 200 (new)", verdict(allseen and mx <= 1000), "locked_lag_max_ms", num(mx, "{:.0f}"))
    rows.append(("  wake -> row seen, median / max (ms)",
                 " ".join(f"{num(fl(d, 'wake_p50_ms'))}/{num(fl(d, 'wake_max_ms'))}" for d in lo),
                 " ".join(f"{num(fl(d, 'wake_p50_ms'))}/{num(fl(d, 'wake_max_ms'))}" for d in ln), "", "", ""))
    rows.append(("  others seen; locked rows' items re-queued",
                 " ".join(f"{d['seen_others']};{d['locked_requeued']}" for d in lo),
                 " ".join(f"{d['seen_others']};{d['locked_requeued']}" for d in ln), "", "", ""))
else:
    add("locked rows", "n/a", "n/a", "", "<= 1 s", "ERROR", "locked_lag_max_ms", "n/a")

# plans
pl = sel(fig="plans")
if pl:
    v = pl[-1]["verdict"]
    add("plans of claim / apply, empty vs full queue statistics", "", v, "", "same shapes (new)",
        "PASS" if v == "same" else "FAIL (access paths same)" if v == "same_access_paths" else "FAIL", "plans", v)
    rows.append(("  statements; the call (ms) empty/full", "",
                 f"claim {pl[-1].get('claim_statements')}; {pl[-1].get('claim_ms')}, apply {pl[-1].get('apply_statements')}; {pl[-1].get('apply_ms')}",
                 "", "", ""))
else:
    add("plans", "", "n/a", "", "same shapes", "ERROR", "plans", "n/a")

head = ("figure", f"old {sha_old} (median)", f"new {sha_new} (median)", "new/old", "target", "result")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
fmt = lambda r: "  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip()
print(fmt(head))
print(fmt(tuple("-" * w for w in widths)))
for r in rows:
    print(fmt(r))
print()
print("locked runs:")
for d in lo + ln:
    print(f"  {d['build']} round {d['run']}: others seen {d['seen_others']}/200 (lag p50 {d['lag_p50_ms']} ms, max {d['lag_max_ms']} ms; "
          f"wake->seen p50 {d['wake_p50_ms']}, max {d['wake_max_ms']} ms; stamps {d['first_stamp_ms']}..{d['last_stamp_ms']} ms after the wake), "
          f"locked seen {d['seen_locked']}, polled {d['polled_s']} s, queue pending/claimed/failed {d['queue_pending']}/{d['queue_claimed']}/{d['queue_failed']}, "
          f"verdicts {d['verdicts']}, batches {d['batches']}, reasons {d['reasons']}")
for n in notes.splitlines():
    if n.strip():
        print("NOTE: " + n)
print(f"wall time: {float(finished) - float(started):.0f} s")
machine["result"] = "FAIL" if fails else "PASS"
print("COMPARE_BENCH old=" + sha_old + " new=" + sha_new + " " + " ".join(f"{k}={v}" for k, v in machine.items()))
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
