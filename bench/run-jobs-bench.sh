#!/bin/bash
# Bulk jobs and their webhooks (issue 13), each figure with its target and
# the comparator measured in the same run:
#
#   1. a 100,000-address job at level dns over l0000..l0999.test (MX ->
#      the world's Postfix), submit to finished_at, against one
#      verify_emails call over the same list; both cold (clear_cache(),
#      result_ttl = 0); target <= 1.5x; email_verify.workers = 1 and 2;
#      medians over EV_JB_ROUNDS rounds (the order alternates)
#   2. submit_job_from_query over a table of 1,000,000 addresses: the call
#      (client side, connection included) < 10 s; then the worker drains it
#      (level syntax) while its private memory (Private_Clean +
#      Private_Dirty of /proc/PID/smaps_rollup, every 100 ms) stays < 64 MB
#   3. bulk.completed at the receiver (test/webhook-receiver/receiver.js,
#      its log's received_at) within 1 s of the job's last verdict
#      (max(checked_at) of its results; finished_at reported too), p95 over
#      20 jobs of 50 addresses (dns) submitted one after another; and 1,000
#      one-address jobs (syntax, one autocommit submit_job each): every
#      completion webhook delivered within 15 s of the first submission,
#      each event id exactly once, every signature accepted
#   4. 10,000 queued events (inserted into email_verify_internal.webhook_events
#      as superuser, in one transaction, for 10,000 one-address jobs marked
#      completed: the delivery alone is measured) reach a keep-alive receiver
#      (receiver.js --fast) at >= 1,000/s, first to last request as the
#      receiver counts them; against the receiver's own ceiling, wrk (POST,
#      the same body, 16 connections: curl's per-host limit) in the same run
#   5. while a 100,000-address dns job drains (100,000 distinct unknown
#      domains, so that it drains for seconds), 50 rows inserted into a
#      watched table (level dns), one every 20 ms: insert to verdict written
#      (a trigger of ours stamps the write-back) p95 over the rows inserted
#      while the job still ran < 2 s, against < 0.5 s with no job running
#
#   bench/run-jobs-bench.sh          (as root; about 15 minutes)
#
# The PostgreSQL installation is the pg_config on PATH (PATH=$(dirname
# $PG_CONFIG):$PATH for another one); the extension is built and installed
# into it when older than the sources. Runs a throwaway cluster of its own
# (port 54380, shared_preload_libraries, result_ttl 0, webhook_allow_private
# on) against the running test world, and receivers on loopback. It measures
# and does not gate: a FAIL still exits 0 (a step that could not run at all
# exits 1). Everything printed is also in build/bench/run-jobs-bench.log; the
# raw lines in build/bench/jobs_bench.results.
#
# Environment: EV_JB_ROUNDS (default 3), EV_JB_PGPORT, EV_JB_FIG2_ROWS
# (default 1000000), EV_JB_FIGS (default "1 5 3 4 2": which figures, in that
# order), EV_JB_BATCH (email_verify.worker_batch_size, default 500, the
# product's default), EV_JB_DIAG=1 (pg_stat_statements loaded, track = all: the top
# statements of each job of figure 1 and each delivery of figure 4 printed;
# auto_explain logs the plans of statements over 5 ms, the workers' too, in
# build/bench/jobs-bench-server.log; it costs time, so its figures are not
# the plain ones).
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh and worker_lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

port=${EV_JB_PGPORT:-54380}
rounds=${EV_JB_ROUNDS:-3}
fig2_rows=${EV_JB_FIG2_ROWS:-1000000}
figs=${EV_JB_FIGS:-1 5 3 4 2}
diag=${EV_JB_DIAG:-0}
batch=${EV_JB_BATCH:-500}
results=$out/jobs_bench.results
: >"$results"
dns_server=127.0.53.1:53
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/worker_lib.sh"
started=$(date +%s.%N)
print_machine

command -v node >/dev/null || die "node is needed for the webhook receiver"
command -v wrk >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } || die "wrk is needed for figure 4's receiver ceiling (apt-get install wrk)"
receiver_dir=test/webhook-receiver
if [ ! -d "$receiver_dir/node_modules" ]; then
    npm ci --prefix "$receiver_dir" --no-audit --no-fund >/dev/null 2>&1 || die "npm ci in $receiver_dir failed"
fi

ensure_world
eval "$(testworld/world.sh env)"
dns_server=$EV_WORLD_DNS
ensure_extension

step "the cluster (port $port)"
worker_cluster ev-jobs-bench jobs-bench-server.log
cat >>"$data/postgresql.conf" <<CONF
email_verify.result_ttl = 0
email_verify.webhook_allow_private = on
CONF
if [ "$diag" = 1 ]; then
    cat >>"$data/postgresql.conf" <<CONF
shared_preload_libraries = 'email_verify,pg_stat_statements,auto_explain'
pg_stat_statements.track = all
pg_stat_statements.max = 2000
auto_explain.log_min_duration = '5ms'
auto_explain.log_analyze = on
auto_explain.log_buffers = on
auto_explain.log_nested_statements = on
CONF
fi
pg_restart || die "restart failed: $(tail -5 "$pgdir/server.log")"
psql_q -d postgres -c "CREATE DATABASE bench" >/dev/null || die "CREATE DATABASE failed"
psql_q -d bench -c "CREATE EXTENSION email_verify" -f bench/jobs_bench.sql >/dev/null ||
    die "CREATE EXTENSION / bench/jobs_bench.sql failed"
psql -X -At -c "SELECT 'server: ' || version()"
if [ "$diag" = 1 ]; then
    psql_q -c "CREATE EXTENSION pg_stat_statements" >/dev/null || die "CREATE EXTENSION pg_stat_statements failed"
fi
secret=$(psql -X -At -c "SELECT email_verify.new_webhook_secret()")

receiver_pids=()
# shellcheck disable=SC2317  # run by worker_lib.sh's EXIT trap
stop_receivers() {
    local p
    for p in "${receiver_pids[@]+"${receiver_pids[@]}"}"; do kill "$p" 2>/dev/null; done
}
exit_hooks+=(stop_receivers)
# start_receiver name [--fast]: a receiver on a free loopback port; sets
# receiver_port; its log (unless --fast) is $out/jobs_bench_<name>.receiver.
start_receiver() {
    local name=$1 info i
    shift
    local logf=$out/jobs_bench_$name.receiver
    rm -f "$logf" "$logf.out"
    node "$receiver_dir/receiver.js" --port 0 --secret "$secret" --log "$logf" --max-seconds 3000 "$@" \
        >"$logf.out" 2>&1 &
    receiver_pids+=($!)
    for ((i = 0; i < 100; i++)); do
        info=$(head -1 "$logf.out" 2>/dev/null)
        [ -n "$info" ] && break
        sleep 0.1
    done
    receiver_port=$(jq -r .port <<<"$info" 2>/dev/null)
    [[ "$receiver_port" =~ ^[0-9]+$ ]] || die "the receiver $name did not start: $(cat "$logf.out")"
    echo "receiver $name: http://127.0.0.1:$receiver_port ($*)"
}
receiver_stats() { curl -s --max-time 5 "http://127.0.0.1:$1/_stats"; }
worker_pids() { psql -X -At -c "SELECT string_agg(pid::text, ' ' ORDER BY pid) FROM pg_stat_activity WHERE backend_type = 'email_verify worker'"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }
record() { echo "$*" | tee -a "$results"; }
# EV_JB_DIAG=1: the statements that took the most time since diag_reset.
diag_reset() { [ "$diag" = 1 ] && psql_q -c "SELECT pg_stat_statements_reset()" >/dev/null; }
diag_top() {  # label
    [ "$diag" = 1 ] || return 0
    echo "--- pg_stat_statements, top 12 by total time: $1"
    psql -X -P pager=off -c "SELECT round(total_exec_time::numeric, 0) AS total_ms, calls,
                                    round((total_exec_time / calls)::numeric, 2) AS ms_per_call, rows,
                                    left(regexp_replace(query, '\s+', ' ', 'g'), 150) AS query
                             FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12"
}

psql_q -c "SELECT jb_make_list('jb_list', 100000, 'j')" >/dev/null || die "the list failed"

# --- figure 1 ---------------------------------------------------------------------
fig1() {
    local workers k job
    for workers in 1 2; do
        step "figure 1: 100,000 addresses at level dns, job vs verify_emails, workers = $workers, batch $batch"
        configure "$workers" "$batch" || die "could not start $workers workers"
        for ((k = 1; k <= rounds; k++)); do
            if ((k % 2 == 1)); then
                sqlrun -c "CALL jb_verify_emails(1, $k, $workers, 'jb_list', 'dns')"
            fi
            diag_reset
            job=$(psql -X -At -c "SELECT jb_submit(1, $k, 'jb_list', 'dns')" 2>/dev/null)
            [ -n "$job" ] || die "submit_job failed"
            sqlrun -c "CALL jb_wait_job(1, $k, $workers, $job, 600)"
            diag_top "figure 1, the job, workers = $workers, run $k"
            if ((k % 2 == 0)); then
                sqlrun -c "CALL jb_verify_emails(1, $k, $workers, 'jb_list', 'dns')"
            fi
        done
    done
}

# --- figure 5 ---------------------------------------------------------------------
fig5() {
    local k job state
    step "figure 5: watched rows (level dns), one every 20 ms, with and without a 100,000-address job draining"
    configure 1 "$batch" || die "could not start the worker"
    # The job: 100,000 distinct unknown domains (a DNS query each), so that
    # it drains for longer than the 50 inserts take; only rows inserted while
    # it still ran count (during_job).
    psql_q -c "SELECT jb_make_nx_list('jb_nx', 100000)" >/dev/null || die "the list of figure 5 failed"
    for ((k = 1; k <= rounds; k++)); do
        psql_q -c "SELECT jb_cold()" -c "SELECT jb_watched_table('jb_w5')" >/dev/null || die "the watched table failed"
        timeout 120 psql -X -q -c "CALL jb_trickle('jb_w5', 50, 0.02, 'idle$k-')" || note "fig 5 trickle (idle) failed"
        sqlrun -c "CALL jb_watched_report(5, $k, 'no_job', 'jb_w5', 60)"
        job=$(psql -X -At -c "SELECT jb_submit(5, $k, 'jb_nx', 'dns')" 2>/dev/null)
        [ -n "$job" ] || die "submit_job failed"
        psql_q -c "SELECT jb_watched_table('jb_w5')" >/dev/null || die "the watched table failed"
        # the job under way first: its first batch claimed
        for ((i = 0; i < 100; i++)); do
            state=$(psql -X -At -c "SELECT state FROM email_verify.job_status($job)")
            [ "$state" = running ] && break
            sleep 0.02
        done
        timeout 120 psql -X -q -c "CALL jb_trickle('jb_w5', 50, 0.02, 'busy$k-', $job)" || note "fig 5 trickle (busy) failed"
        state=$(psql -X -At -c "SELECT format('%s %s of %s', state, processed, total) FROM email_verify.job_status($job)")
        sqlrun -c "CALL jb_watched_report(5, $k, 'job_draining', 'jb_w5', 60)"
        record "JOBS_BENCH fig=5 run=$k kind=job_state_after_inserts job=$job state=${state// /_}"
        psql_q -c "SELECT email_verify.cancel_job($job)" >/dev/null 2>&1
    done
}

# --- figure 3 ---------------------------------------------------------------------
fig3() {
    local k job i n t0 sql
    step "figure 3a: bulk.completed of 20 jobs (50 addresses, dns) at the receiver, from the job's last verdict"
    configure 1 "$batch" || die "could not start the worker"
    start_receiver fig3
    local port3=$receiver_port
    psql_q -c "SELECT jb_make_list('jb_small', 50, 'w')" >/dev/null
    for ((k = 1; k <= 20; k++)); do
        job=$(psql -X -At -c "SELECT jb_submit(3, $k, 'jb_small', 'dns', 'http://127.0.0.1:$port3/ok/fig3a', '$secret')" 2>/dev/null)
        [ -n "$job" ] || die "submit_job failed"
        for ((i = 0; i < 300; i++)); do
            n=$(psql -X -At -c "SELECT count(*) FROM email_verify_internal.webhook_events
                                WHERE job_id = $job AND event_type = 'bulk.completed' AND state = 'delivered'")
            [ "$n" = 1 ] && break
            sleep 0.1
        done
        [ "$n" = 1 ] || note "fig 3a: job $job's bulk.completed not delivered within 30 s"
    done
    psql -X -At -F ' ' -c "SELECT j.id, extract(epoch FROM max(r.checked_at)), extract(epoch FROM j.finished_at)
                           FROM email_verify_internal.jobs j CROSS JOIN LATERAL email_verify.job_results(j.id) r
                           WHERE j.webhook_url LIKE '%/ok/fig3a' GROUP BY j.id" >"$out/jobs_bench_fig3a.jobs"
    python3 bench/jobs_bench_report.py completion-latency "$out/jobs_bench_fig3.receiver" /ok/fig3a \
        "$out/jobs_bench_fig3a.jobs" | tee -a "$results"

    step "figure 3b: 1,000 one-address jobs (syntax), every completion webhook delivered, each event id once"
    sql=$out/jobs_bench_fig3b.sql
    for ((i = 1; i <= 1000; i++)); do
        echo "SELECT email_verify.submit_job(ARRAY['one$i@l$(printf %04d $((i % 1000))).test'], 'http://127.0.0.1:$port3/ok/fig3b', '$secret', 'syntax');"
    done >"$sql"
    diag_reset
    t0=$(date +%s.%N)
    timeout 120 psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -f "$sql" || note "fig 3b: submitting failed"
    local submitted
    submitted=$(since "$t0")
    for ((i = 0; i < 600; i++)); do
        n=$(receiver_stats "$port3" | jq -r '.per_path["/ok/fig3b"] // 0')
        [ "${n:-0}" -ge 1000 ] && break
        sleep 0.1
    done
    sleep 2  # a duplicate would come now
    psql -X -At -c "SELECT count(*) FILTER (WHERE state = 'delivered'), count(*)
                    FROM email_verify_internal.webhook_events WHERE url LIKE '%/ok/fig3b'" |
        sed 's/^\(.*\)|\(.*\)$/JOBS_BENCH fig=3 kind=outbox delivered=\1 events=\2/' | tee -a "$results"
    diag_top "figure 3b"
    psql -X -At -c "SELECT 'fig 3b attempts by cause: ' || string_agg(format('%s %s', cause, n), ', ')
                    FROM (SELECT a.cause, count(*) AS n FROM email_verify_internal.webhook_attempts a
                          JOIN email_verify_internal.webhook_events e ON e.id = a.event_row
                          WHERE e.url LIKE '%/ok/fig3b' GROUP BY 1) c"
    python3 bench/jobs_bench_report.py exactly-once "$out/jobs_bench_fig3.receiver" /ok/fig3b "$t0" "$submitted" 1000 |
        tee -a "$results"
}

# --- figure 4 ---------------------------------------------------------------------
fig4() {
    local k first first_n last body_file before from_row stats
    step "figure 4: 10,000 queued events to a keep-alive receiver, against the receiver's own ceiling (wrk)"
    configure 1 "$batch" || die "could not start the worker"
    start_receiver fig4 --fast
    local port4=$receiver_port
    # 10,000 one-address jobs, marked completed in the transaction that
    # submits them (no worker claims them): only the events inserted below
    # are sent.
    psql_q -1 -c "DO \$\$ BEGIN FOR i IN 1..10000 LOOP
                   PERFORM email_verify.submit_job(ARRAY['four' || i || '@l0004.test'], 'http://127.0.0.1:$port4/ok/fig4',
                                                   '$secret', 'syntax');
               END LOOP; END \$\$" \
        -c "UPDATE email_verify_internal.jobs SET state = 'completed', started_at = now(), finished_at = now(), processed = total
            WHERE webhook_url LIKE '%/ok/fig4'" >/dev/null || die "the jobs of figure 4 failed"
    body_file=$out/jobs_bench_fig4.body
    for ((k = 1; k <= rounds; k++)); do
        before=$(receiver_stats "$port4" | jq -r '.per_path["/ok/fig4"] // 0')
        from_row=$(psql -X -At -c "SELECT coalesce(max(id), 0) FROM email_verify_internal.webhook_events")
        psql_q -c "WITH e AS (SELECT id, gen_random_uuid() AS event_id FROM email_verify_internal.jobs
                               WHERE webhook_url LIKE '%/ok/fig4')
                    INSERT INTO email_verify_internal.webhook_events (event_id, job_id, event_type, body, url)
                    SELECT e.event_id, e.id, 'bulk.completed',
                           email_verify_internal.event_body(e.id, 'bulk.completed', e.event_id),
                           'http://127.0.0.1:$port4/ok/fig4'
                    FROM e ORDER BY e.id" >/dev/null || die "queueing the events failed"
        psql -X -At -c "SELECT body FROM email_verify_internal.webhook_events WHERE url LIKE '%/ok/fig4' LIMIT 1" >"$body_file"
        diag_reset
        # The receiver's count, every 20 ms: the first and the last request.
        python3 bench/jobs_bench_report.py poll-count "$port4" /ok/fig4 "$before" 10000 60 >"$out/jobs_bench_fig4.poll"
        read -r first first_n last <"$out/jobs_bench_fig4.poll"
        stats=$(receiver_stats "$port4")
        psql -X -At -c "SELECT format('JOBS_BENCH fig=4 run=$k kind=delivery n=%s delivered=%s first_n=${first_n:-0} seconds=%s db_seconds=%s connections=%s requests=%s distinct=%s',
                                      count(*), count(*) FILTER (WHERE state = 'delivered'),
                                      $(awk -v a="$first" -v b="$last" 'BEGIN { if (b > 0) printf "%.3f", b - a; else print "NULL" }'),
                                      round(extract(epoch FROM max(delivered_at) - min(delivered_at))::numeric, 3),
                                      $(jq .connections <<<"$stats"), $(jq .requests <<<"$stats"), $(jq .distinct_event_ids <<<"$stats"))
                        FROM email_verify_internal.webhook_events
                        WHERE url LIKE '%/ok/fig4' AND id > $from_row" | tee -a "$results"
        diag_top "figure 4, run $k"
        # the receiver's ceiling with the same body, 16 keep-alive connections
        JB_BODY_FILE=$body_file wrk -t1 -c16 -d5s -s bench/webhook_post.lua "http://127.0.0.1:$port4/ok/fig4wrk" 2>&1 |
            tee "$out/jobs_bench_fig4_wrk$k.out" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/JOBS_BENCH fig=4 run='"$k"' kind=ceiling per_s=\1 conns=16/p' |
            tee -a "$results"
    done
}

# --- figure 2 ---------------------------------------------------------------------
fig2() {
    local t0 job submitted stop_file pids i state
    step "figure 2: submit_job_from_query of $fig2_rows addresses, the worker's private memory while it drains (syntax)"
    configure 1 "$batch" || die "could not start the worker"
    psql_q -c "SELECT jb_make_list('jb_big', $fig2_rows, 'm')" -c "CHECKPOINT" >/dev/null || die "the big table failed"
    pids=$(worker_pids)
    stop_file=$out/jobs_bench_fig2.stop
    rm -f "$stop_file"
    # shellcheck disable=SC2086  # one argument per pid
    python3 bench/jobs_bench_report.py smaps --interval-ms 100 --seconds 1800 --stop-file "$stop_file" $pids \
        >"$out/jobs_bench_fig2.smaps" 2>&1 &
    local sampler=$!
    sleep 1  # a baseline before the job
    diag_reset
    t0=$(date +%s.%N)
    job=$(psql -X -At -c "SELECT email_verify.submit_job_from_query('SELECT email FROM jb_big ORDER BY id', level => 'syntax')")
    submitted=$(since "$t0")
    [ -n "$job" ] || die "submit_job_from_query failed"
    record "JOBS_BENCH fig=2 kind=submit_from_query n=$fig2_rows job=$job seconds=$submitted"
    diag_top "figure 2, the submission"
    diag_reset
    t0=$(date +%s.%N)
    for ((i = 0; i < 9000; i++)); do
        state=$(psql -X -At -c "SELECT state FROM email_verify.job_status($job)")
        [ "$state" = running ] || [ "$state" = queued ] || break
        sleep 0.2
    done
    touch "$stop_file"
    wait "$sampler"
    sqlrun -c "CALL jb_wait_job(2, 1, 1, $job, 1)"
    diag_top "figure 2, the drain"
    sed 's/^/JOBS_BENCH fig=2 kind=smaps /' "$out/jobs_bench_fig2.smaps" | tee -a "$results"
}

for f in $figs; do
    case "$f" in
    1) fig1 ;;
    2) fig2 ;;
    3) fig3 ;;
    4) fig4 ;;
    5) fig5 ;;
    *) die "unknown figure $f" ;;
    esac
done

step "summary"
python3 bench/jobs_bench_report.py table "$results"
for n in "${notes[@]+"${notes[@]}"}"; do echo "NOTE: $n"; done
echo "wall time: $(since "$started") s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
