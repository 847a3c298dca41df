#!/bin/bash
# The prober's politeness, caches and health for the whole server (shared
# memory), each figure with its limit or comparator measured in the same run:
#
#   1. 16 sessions (verify_emails) and 2 workers probing one MX host
#      (slowrcpt.test: every RCPT answered after 200 ms, so sessions
#      overlap): the connections the host has open never exceed
#      email_verify.max_connections_per_host (default 2), sampled every
#      20 ms both as the server counts them (STATS current) and as the kernel
#      does (ESTABLISHED sockets to the host's address); every verdict right
#   2. host_rcpt_rate = 600/min shared by 4 backends at one site for > 60 s
#      (host_session_rate 0): RCPTs in the 60 s from the first within
#      +-10% of 600, and at most
#      rate x 1 s + bucket (10 + 10 = 20) in any 1 s window, the bound of
#      the rate cell (host_permits.h: over any window, rate x window + burst;
#      the burst, one second's worth, is 10), and at most 11 in any 0.1 s
#      window (the bucket, plus the one token 0.1 s refills); for the
#      record, each backend's RCPTs and when they went (the site's two
#      session slots go to two backends, the others wait for one)
#   3. a verdict reached in backend A read in backend B: the median
#      verify_email(addr, 'smtp') call, each address once in B, all
#      from_cache (target < 0.1 ms), against verify_email(addr, 'syntax')
#      in the same loop; no RCPT reaches the host meanwhile
#   4. rates 0: verify_emails() of 10,000 addresses on Postfix (run-probe-
#      bench.sh's figure 1: bench/probe_bench.sql, bench/wire_limit.cpp)
#      against the wire limit of the same Postfix; target >= 0.8x; for the
#      record, in one more batch, the connections open to Postfix's address
#   5. port 25 unreachable (email_verify.smtp_port aimed at a dead port): a
#      dozen scripted domains' rows watched; time to prober_health 'blocked'
#      (target < 30 s from the rows' INSERT), max(attempts) 0 and no verdict;
#      then the port reachable again: time to 'ok' (target within one check
#      period, email_verify.health_check_interval, + 2 s for the worker's
#      1 s naptime and the test probe), and every row verified
#
#   bench/run-prober-bench.sh          (as root; about 2 minutes)
#
# Runs a throwaway cluster of its own (port 54370; shared_preload_libraries,
# 2 workers, worker_batch_size 8, permit_wait 120 s so that a backend
# waiting its turn for the site's session slots is not deferred) and, next to the shared test world, a private instance of its
# scripted SMTP server (bench/private_scripted.py: the same addresses, port
# 2625, control 127.0.2.1:8125), which the cluster probes through
# email_verify.smtp_port (figure 4 sets 25 for Postfix): its counters and
# connections are the bench's alone, whatever test suites run meanwhile, and
# it timestamps every RCPT as it reads it. Figure 4's Postfix is the shared
# world's: suites running at the same time slow it (the wire limit too).
# Ends with a table, each line PASS/FAIL against its target (INFO: none).
# It measures and does not gate: FAIL still exits 0 (a step that could not
# run at all exits 1). Everything printed is also in
# build/bench/run-prober-bench.log; the raw lines in
# build/bench/prober_bench.results, the RCPT stamps in prober_bench.rcpts.
#
# Environment: EV_PB_FIG4_RUNS (default 5), EV_PB_HEALTH_INTERVAL (seconds,
# default 10), EV_PB_RCPT_RATE (per minute, default 600), EV_PB_PERMIT_WAIT
# (default 120s), EV_PB_PGPORT, EV_PB_SMTP_PORT, EV_PB_DEAD_PORT (default
# 2598), EV_PB_CONTROL.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh and worker_lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

port=${EV_PB_PGPORT:-54370}
smtp_port=${EV_PB_SMTP_PORT:-2625}
dead_port=${EV_PB_DEAD_PORT:-2598}
control=${EV_PB_CONTROL:-127.0.2.1:8125}
fig4_runs=${EV_PB_FIG4_RUNS:-5}
health_interval=${EV_PB_HEALTH_INTERVAL:-10}
rate=${EV_PB_RCPT_RATE:-600}
permit_wait=${EV_PB_PERMIT_WAIT:-120s}
dns_server=127.0.53.1:53
results=$out/prober_bench.results
rcpt_log=$out/prober_bench.rcpts
: >"$results"
: >"$rcpt_log"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/worker_lib.sh"
started=$(date +%s.%N)
print_machine

step "build the wire-limit load generator (g++ -O2)"
if [ ! -x "$out/wire_limit" ] || [ bench/wire_limit.cpp -nt "$out/wire_limit" ]; then
    g++ -O2 -std=c++17 -Wall -Wextra -o "$out/wire_limit" bench/wire_limit.cpp || die "building wire_limit failed"
fi

ensure_world
eval "$(testworld/world.sh env)"
dns_server=$EV_WORLD_DNS
ensure_extension

# Nothing may listen where the private server goes, nor on the dead port.
ports_free() {
    python3 - "$control" "127.0.2.11:$smtp_port" "127.0.2.11:$dead_port" <<'EOF'
import socket, sys
for hp in sys.argv[1:]:
    host, _, port = hp.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as e:
            sys.exit(f"{hp} is taken: {e.strerror}")
EOF
}
ports_free || die "pick other ports (EV_PB_SMTP_PORT, EV_PB_DEAD_PORT, EV_PB_CONTROL)"

step "the cluster (port $port)"
worker_cluster ev-prober-bench prober-bench-server.log
psql_q -d postgres -c "CREATE DATABASE bench" >/dev/null || die "CREATE DATABASE failed"
psql_q -d bench -c "CREATE EXTENSION email_verify" -f bench/prober_bench.sql -f bench/probe_bench.sql >/dev/null ||
    die "CREATE EXTENSION / the bench's SQL failed"
psql_q -d postgres -c "ALTER SYSTEM SET email_verify.workers = 2" -c "ALTER SYSTEM SET email_verify.worker_batch_size = 8" \
    -c "ALTER SYSTEM SET email_verify.worker_naptime = '1s'" -c "ALTER SYSTEM SET email_verify.retry_delay = '1s'" \
    -c "ALTER SYSTEM SET email_verify.smtp_port = $smtp_port" -c "ALTER SYSTEM SET email_verify.permit_wait = '$permit_wait'" \
    -c "ALTER SYSTEM SET email_verify.health_check_interval = $health_interval" >/dev/null || die "ALTER SYSTEM failed"
pg_restart || die "restart failed: $(tail -5 "$pgdir/server.log")"
wait_workers 2 || die "the workers did not start"
psql -X -At -c "SELECT 'server: ' || version()"
psql -X -At -c "SELECT 'settings: ' || string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
                WHERE name IN ('email_verify.max_connections_per_host', 'email_verify.max_connections',
                               'email_verify.shared_cache_size', 'email_verify.permit_wait', 'email_verify.smtp_port',
                               'email_verify.health_check_interval', 'email_verify.workers')"

step "the private scripted SMTP server (127.0.2.11-35:$smtp_port, control $control)"
python3 bench/private_scripted.py --port "$smtp_port" --rcpt-log "$rcpt_log" --control "$control" \
    --behaviours testworld/behaviours.txt --cert "$EV_WORLD_DIR/smtp/cert.pem" --key "$EV_WORLD_DIR/smtp/key.pem" \
    >"$out/prober_bench_scripted.log" 2>&1 &
scripted_pid=$!
sampler_pid=
# shellcheck disable=SC2317  # run by worker_lib.sh's EXIT trap
stop_helpers() {
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
    kill "$scripted_pid" 2>/dev/null
    wait "$scripted_pid" 2>/dev/null
}
exit_hooks+=(stop_helpers)
ctl() (  # command: the private server's one-line answer (a subshell: its descriptor stays there)
    line=
    exec 3<>"/dev/tcp/${control%:*}/${control##*:}" || exit 1
    printf '%s\n' "$1" >&3
    IFS= read -r -t 5 line <&3
    [ -n "$line" ] && printf '%s\n' "$line"
)
stat_of() {  # behaviour field
    ctl "STATS $1" | jq -r ".$1.$2"
}
for ((i = 0; i < 50; i++)); do
    ctl "STATS full" >/dev/null 2>&1 && break
    sleep 0.2
done
ctl "STATS full" >/dev/null 2>&1 || die "the private scripted server did not start: $(tail -3 "$out/prober_bench_scripted.log")"
check=$(psql -X -At -c "SELECT reason FROM verify_email('alice@multiline.test', 'smtp')")
if [ "$check" != accepted ] || [ "$(stat_of multiline rcpt)" -lt 1 ]; then
    die "a probe through the private server failed (alice@multiline.test: $check)"
fi
echo "alice@multiline.test: $check, through port $smtp_port"

sessions_out() {  # fig: the PROBER_BENCH lines of that figure's background sessions
    cat "$out"/prober_bench_f"$1"_*.out 2>/dev/null | sed -n 's/^.*NOTICE: *//p; /ERROR/p' | tee -a "$results"
    rm -f "$out"/prober_bench_f"$1"_*.out
}
since() {  # unix time: seconds from then to now
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}
sampler_started() {  # samples file: wait (at most 5 s) for the sampler's first sample
    local i
    for ((i = 0; i < 100; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    note "the sampler writing $1 did not start within 5 s"
}
wait_all() {  # pids...: every one, whatever its status
    local p
    for p in "$@"; do wait "$p"; done
}

step "figure 1: 16 sessions and 2 workers at one MX host (slowrcpt.test), its connections every 20 ms"
cap=$(psql -X -At -c "SHOW email_verify.max_connections_per_host")
ctl RESET >/dev/null
stop_file=$out/prober_bench.stop
rm -f "$stop_file" "$out"/prober_bench_fig[14].samples
python3 bench/stats_sampler.py --control "$control" --behaviour slowrcpt --host "127.0.2.28:$smtp_port" \
    --interval-ms 20 --seconds 150 --stop-file "$stop_file" --out "$out/prober_bench_fig1.samples" \
    >"$out/prober_bench_fig1.sampler" 2>&1 &
sampler_pid=$!
sampler_started "$out/prober_bench_fig1.samples"
psql_q -c "CREATE TABLE f1 (id int PRIMARY KEY, email text)" \
    -c "SELECT email_verify.watch('f1', 'email', level => 'smtp')" \
    -c "INSERT INTO f1 SELECT i, CASE i % 4 WHEN 0 THEN 'alice' WHEN 1 THEN 'bob' ELSE 'w' || i END || '@slowrcpt.test'
        FROM generate_series(1, 32) i" >/dev/null || die "the watched table failed"
pids=()
for ((i = 1; i <= 16; i++)); do
    timeout 180 psql -X -q -c "SET client_min_messages = notice" -c "SELECT pb_session(1, $i, 'slowrcpt.test', 6)" \
        >"$out/prober_bench_f1_$i.out" 2>&1 &
    pids+=($!)
done
wait_all "${pids[@]}"
for ((i = 0; i < 600; i++)); do
    [ "$(psql -X -At -c "SELECT count(*) FROM f1 WHERE email_status IS NULL")" = 0 ] && break
    sleep 0.2
done
touch "$stop_file"
wait "$sampler_pid"
sampler_pid=
sessions_out 1 | awk '{ print "  " $0 }' | head -3
echo "  ..."
sed "s/^SAMPLER /FIG1_SAMPLER cap=$cap /" "$out/prober_bench_fig1.sampler" | tee -a "$results"
psql -X -At -c "SELECT format('FIG1_WORKER rows=%s right=%s', count(*), count(*) FILTER (WHERE email_reason = pb_expected(email))) FROM f1" |
    tee -a "$results"
psql -X -At -c "SELECT 'FIG1_SLOTS open_after=' || coalesce(sum(sessions_open), 0) FROM email_verify.prober_sites" | tee -a "$results"

step "figure 2: host_rcpt_rate = $rate/min, 4 backends at one site (nolimits.test), every RCPT stamped by the host"
# Enough for the rate to hold the backends back for 70 s: the 60 s window
# from the first RCPT ends before the last.
per_backend=$(((rate * 70 / 60 + 3) / 4))
t_start=$(date +%s.%N)
pids=()
for ((i = 1; i <= 4; i++)); do
    timeout 300 psql -X -q -c "SET client_min_messages = notice" -c "SET email_verify.host_rcpt_rate = $rate" \
        -c "SET email_verify.host_session_rate = 0" -c "SELECT pb_session(2, $i, 'nolimits.test', $per_backend)" \
        >"$out/prober_bench_f2_$i.out" 2>&1 &
    pids+=($!)
done
wait_all "${pids[@]}"
t_end=$(date +%s.%N)
sessions_out 2
python3 bench/prober_bench_report.py rcpt-rate "$rcpt_log" nolimits "$t_start" "$t_end" "$rate" | tee -a "$results"

step "figure 3: a verdict of backend A read in backend B (shared cache), per-call clock_timestamp()"
timeout 120 psql -X -q -c "SET client_min_messages = notice" -c "SELECT pb_cache_prime('full.test', 500)" 2>&1 | collect
rcpt_before=$(stat_of full rcpt)
timeout 120 psql -X -q -c "SET client_min_messages = notice" -c "SELECT pb_cache_read('full.test', 500)" 2>&1 | collect
echo "FIG3_SERVER rcpt_during_read=$(($(stat_of full rcpt) - rcpt_before))" | tee -a "$results"

step "figure 4: rates 0, verify_emails of 10,000 addresses on Postfix vs its wire limit"
python3 bench/make_probe_lists.py "$out" || die "make_probe_lists.py failed"
psql_q -c "\\copy bench_list FROM '$out/probe_lists.tsv'" -c "DELETE FROM bench_list WHERE fig <> 1" >/dev/null ||
    die "loading the list failed"
wire() {  # run
    "$out/wire_limit" --host "$EV_WORLD_POSTFIX" --list "$out/probe_fig1.txt" --conns 4 --deadline 120 |
        sed -n "s/^WIRE_LIMIT /WIRE_LIMIT run=$1 /p" | tee -a "$results"
}
engine() {  # run
    timeout 300 psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = notice" -c "SET email_verify.smtp_port = 25" \
        -c "SET email_verify.host_rcpt_rate = 0" -c "SET email_verify.host_session_rate = 0" \
        -c "SET statement_timeout = '300s'" -c "SELECT bench_batch(1, 'smtp', $1)" 2>&1 | collect
}
for ((k = 1; k <= fig4_runs; k++)); do
    if ((k % 2 == 1)); then wire "$k"; engine "$k"; else engine "$k"; wire "$k"; fi
done
# For the record, in a run of its own (run=0, not in the median: sampling
# takes CPU from Postfix): the batch's connections to the Postfix address as
# the kernel counts them. The politeness limits are per MX site, and the 100
# domains are 100 sites at one address. Other suites' probes count too.
rm -f "$stop_file" "$out"/prober_bench_fig[14].samples
python3 bench/stats_sampler.py --host "$EV_WORLD_POSTFIX:25" --interval-ms 10 --seconds 120 \
    --stop-file "$stop_file" --out "$out/prober_bench_fig4.samples" >"$out/prober_bench_fig4.sampler" 2>&1 &
sampler_pid=$!
sampler_started "$out/prober_bench_fig4.samples"
engine 0 >/dev/null
touch "$stop_file"
wait "$sampler_pid"
sampler_pid=
sed "s/^SAMPLER /FIG4_SAMPLER /" "$out/prober_bench_fig4.sampler" | tee -a "$results"

step "figure 5: port $dead_port (nothing listens) for SMTP: prober_health, then reachable again"
psql_q -d postgres -c "ALTER SYSTEM SET email_verify.smtp_port = $dead_port" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
echo "prober_health before: $(psql -X -At -c "SELECT state || ', ' || failing_hosts || ' failing' FROM email_verify.prober_health")"
domains=(full disabled multiline nopipelining tlsoffered tlsrequired toomany nolimits slowrcpt acceptall noehlo microsoft)
values=
for ((i = 0; i < ${#domains[@]}; i++)); do values+="${values:+, }($((i + 1)), 'alice@${domains[i]}.test')"; done
psql_q -c "CREATE TABLE f5 (id int PRIMARY KEY, email text)" -c "SELECT email_verify.watch('f5', 'email', level => 'smtp')" >/dev/null
t0=$(date +%s.%N)
psql_q -c "INSERT INTO f5 VALUES $values" >/dev/null
state=
for ((i = 0; i < 600; i++)); do
    state=$(psql -X -At -c "SELECT state FROM email_verify.prober_health")
    [ "$state" = blocked ] && break
    sleep 0.1
done
after=$(since "$t0")
sleep 3  # the workers write back, and try again
psql -X -At -c "SELECT format('HEALTH_BLOCKED state=%s after_s=%s failing_hosts=%s max_attempts=%s verdicts=%s',
                              h.state, $after, h.failing_hosts,
                              (SELECT coalesce(max(attempts), -1) FROM email_verify.queue),
                              (SELECT count(*) FROM f5 WHERE email_status IS NOT NULL))
                FROM email_verify.prober_health h" | tee -a "$results"
echo "evidence: $(psql -X -At -c "SELECT evidence FROM email_verify.prober_health")"
echo "queue: $(psql -X -At -c "SELECT string_agg(DISTINCT state || ' / ' || left(last_reason, 70), '; ') FROM email_verify.queue")"
psql_q -d postgres -c "ALTER SYSTEM SET email_verify.smtp_port = $smtp_port" -c "SELECT pg_reload_conf()" >/dev/null
t1=$(date +%s.%N)
for ((i = 0; i < 10 * (health_interval + 30); i++)); do
    state=$(psql -X -At -c "SELECT state FROM email_verify.prober_health")
    [ "$state" = ok ] && break
    sleep 0.1
done
after=$(since "$t1")
for ((i = 0; i < 600; i++)); do
    [ "$(psql -X -At -c "SELECT count(*) FROM f5 WHERE email_status IS NULL")" = 0 ] && break
    sleep 0.1
done
psql -X -At -c "SELECT format('HEALTH_RECOVERED state=%s after_s=%s interval_s=%s allowance_s=2 rows=%s verified=%s connection_failed=%s',
                              '$state', $after, $health_interval, count(*), count(*) FILTER (WHERE email_status IS NOT NULL),
                              count(*) FILTER (WHERE email_reason = 'connection_failed'))
                FROM f5" | tee -a "$results"
echo "verdicts: $(psql -X -At -c "SELECT string_agg(split_part(email, '@', 2) || ' ' || coalesce(email_reason, '-'), ', ' ORDER BY id) FROM f5")"

step "summary"
python3 bench/prober_bench_report.py table "$results"
for n in "${notes[@]+"${notes[@]}"}"; do echo "NOTE: $n"; done
echo "wall time: $(since "$started") s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
