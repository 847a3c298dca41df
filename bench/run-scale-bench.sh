#!/bin/bash
# The million-address benchmark (issue 15) through the internet-shaped world
# (testworld/internet/: 10,000 simulated domains, DNS +50 ms, every SMTP
# reply +100 ms, a ground truth). For each size N and number K of external
# probers, in a throwaway cluster started INSIDE the world's namespace:
#
#   half of the first N addresses of the world as a job
#   (submit_job_from_query, level smtp), half inserted into a watched table
#   (watch(), level smtp), both at once, drained by the in-server worker and
#   K email-verify-prober processes (in the namespace too); measured:
#     - wall time from the submission to the last verdict (the job's
#       finished_at, the table's last <col>_verified_at), throughput
#     - every verdict (job_results and the table) against truth.csv
#       (compare.py; a greylisted mailbox must have reached valid/accepted
#       by its retry: pending counts as wrong), and none missing
#     - the simulator's counters (RESET before each run): most sessions
#       open to one MX host, most RCPTs to one host in 60 s, most sessions
#       open in all
#     - each prober's private memory (Private_Clean + Private_Dirty of
#       smaps_rollup, every second), the maximum
#     - when the verdicts came, by the world's behaviour of their domains
#       (what a run's last minutes were spent on)
#
# Targets (the issue): every verdict equal to the truth; per MX host at most
# 2 sessions and 120 RCPTs a minute; at most 2,000 sessions in all; 1M
# addresses in at most 10 minutes; a prober's private memory < 128 MB.
# Throughput at each size (cost growth) and with 1 and 2 probers (scaling)
# are printed for the record.
#
# The politeness settings are the server's (max_connections_per_host 2,
# host_rcpt_rate 120, host_session_rate 0), handed to every prober by
# prober_hello. Each claimer (the server's worker, each prober) applies them
# on its own: what the simulator counted is what is reported.
# email_verify.max_connections is 2000 / (K + 1) for each claimer, at most
# 666 (EV_SB_MAX_CONNECTIONS_EACH), so the sum stays within 2,000 sessions.
#
#   bench/run-scale-bench.sh      (as root; about 5 minutes; EV_SB_FULL=1: about 18 minutes)
#
# The PostgreSQL installation is the pg_config on PATH
# (PATH=$(dirname $PG_CONFIG):$PATH for another one); the extension and
# email-verify-prober are built and installed into it when older than the
# sources. The world is started when it is not running (and stopped again at
# the end); the simulator is restarted before each run so that it forgets
# the greylisted (client, recipient) pairs of the run before. It measures
# and does not gate: a FAIL still exits 0 (a step that could not run at all
# exits 1). Everything printed is also in build/bench/run-scale-bench.log;
# the raw lines in build/bench/scale_bench.results; the verdicts and
# compare.py's output of each run in build/bench/scale_bench_<N>_<K>.*.
#
# Environment:
#   EV_SB_FULL=1       sizes 100k 300k 1M (default: 100k only)
#   EV_SB_SIZES        the sizes, e.g. "100k 1M" (overrides EV_SB_FULL)
#   EV_SB_PROBERS      K for every size (default: "1 2" at 100k, "2" above)
#   EV_SB_BATCH        items a prober claims at once (default 10000; it keeps
#                      up to twice that in flight: a rolling window)
#   EV_SB_WORKER_BATCH the in-server worker's batch (default 2000: the worker
#                      probes a batch to its end, and holds the batch's
#                      domains until each is done; a big one near the end
#                      of a run keeps them from the probers)
#   EV_SB_MAX_CONNECTIONS_EACH  the cap of each claimer's share (default 666)
#   EV_SB_TIMEOUT      seconds a run may take (default 300 + N / 400)
#   EV_SB_RETRY_DELAY  email_verify.retry_delay (default 6s; the grey delay is 5 s)
#   EV_SB_RETRY_ATTEMPTS  email_verify.retry_attempts (default 3)
#   EV_SB_PGPORT       the cluster's port inside the namespace (default 5440)
#   EV_INET_DIR, EV_INET_NETNS: the world's (testworld/internet/run.sh)
set -uo pipefail

# shellcheck source-path=SCRIPTDIR  # lib.sh and worker_lib.sh, next to this script
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "run as root (network namespace, the world's ports 25 and 53)"
port=${EV_SB_PGPORT:-5440}
batch=${EV_SB_BATCH:-10000}
worker_batch=${EV_SB_WORKER_BATCH:-2000}
retry_delay=${EV_SB_RETRY_DELAY:-6s}
retry_attempts=${EV_SB_RETRY_ATTEMPTS:-3}
max_each=${EV_SB_MAX_CONNECTIONS_EACH:-666}
if [ -n "${EV_SB_SIZES:-}" ]; then
    sizes=$EV_SB_SIZES
elif [ -n "${EV_SB_FULL:-}" ]; then
    sizes="100k 300k 1M"
else
    sizes="100k"
fi
results=$out/scale_bench.results
: >"$results"
dns_server=""  # worker_lib.sh's; set from the world below
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/worker_lib.sh"
started=$(date +%s.%N)
print_machine
inet=testworld/internet

count_of() {  # 100k, 1M, 250000 -> a number
    case "$1" in
    *[kK]) echo $((${1%?} * 1000)) ;;
    *[mM]) echo $((${1%?} * 1000000)) ;;
    *) echo "$1" ;;
    esac
}
for s in $sizes; do
    [[ "$(count_of "$s")" =~ ^[0-9]+$ ]] || die "not a size: $s"
done

ensure_extension
prober_bin=$bindir/email-verify-prober
[ -x "$prober_bin" ] || die "no $prober_bin (make install puts it into PostgreSQL's bindir)"

step "the internet world ($inet/run.sh start)"
world_was_running=yes
"$inet/run.sh" status >/dev/null 2>&1 || world_was_running=no
world_env=$("$inet/run.sh" start) || die "$inet/run.sh start failed"
eval "$world_env"
echo "$world_env"
world=$EV_INET_DIR/world
ns=$EV_INET_NETNS
in_ns() { ip netns exec "$ns" "$@"; }
world_addresses=$(jq .addresses "$world/world.json")
for s in $sizes; do
    (($(count_of "$s") <= world_addresses)) || die "the world has $world_addresses addresses, fewer than $s"
done
dns_server=$EV_INET_DNS

# The cluster runs in the namespace, so that its worker probes the world;
# the host reaches it through its Unix socket, the probers through TCP
# inside the namespace.
pg_start() { in_ns runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -w -t 60 start >/dev/null; }
pg_restart() { pg_stop && pg_start; }

prober_pids=()
sampler_pid=
# shellcheck disable=SC2317  # run by worker_lib.sh's EXIT trap (after the server stopped)
stop_helpers() {
    stop_probers
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
    if [ "$world_was_running" = no ]; then "$inet/run.sh" stop; fi
}
exit_hooks+=(stop_helpers)

step "the cluster (in namespace $ns, port $port)"
worker_cluster ev-scale-bench scale-bench-server.log
cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
email_verify.max_connections_per_host = 2
email_verify.host_rcpt_rate = 120
email_verify.host_session_rate = 0
email_verify.result_ttl = '1h'
email_verify.retry_delay = '$retry_delay'
email_verify.retry_attempts = $retry_attempts
email_verify.worker_batch_size = $worker_batch
email_verify.workers = 1
CONF
pg_restart || die "restart failed: $(tail -5 "$pgdir/server.log")"
psql -X -At -d postgres -c "SELECT 'server: ' || version()"

# The simulator forgets its greylisting pairs only when it starts again.
restart_simulator() {
    local pid
    pid=$(cat "$EV_INET_DIR/smtp_sim.pid" 2>/dev/null)
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q smtp_sim.py; then
        kill "$pid"
        for ((i = 0; i < 50; i++)); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
    fi
    "$inet/run.sh" start >/dev/null
}
sim() { in_ns python3 bench/scale_bench_report.py ctl "$EV_INET_CONTROL" "$1"; }

start_probers() {  # k share
    local j conf pid
    prober_pids=()
    for ((j = 1; j <= $1; j++)); do
        conf=$pgdir/prober$j.conf
        cat >"$conf" <<CONF
conninfo = 'host=127.0.0.1 port=$port dbname=bench user=scale_prober'
batch_size = $batch
email_verify.max_connections = $2
CONF
        # not through in_ns: a function in the background is a subshell, and $! its pid
        ip netns exec "$ns" "$prober_bin" --config "$conf" --name "scale$j" >>"$out/scale_bench_prober$j.log" 2>&1 &
        pid=$!
        prober_pids+=("$pid")
    done
    for ((j = 0; j < 100; j++)); do
        [ "$(psql -X -At -c "SELECT count(*) FROM email_verify.probers WHERE state = 'running'")" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
stop_probers() {
    local p
    for p in "${prober_pids[@]+"${prober_pids[@]}"}"; do kill "$p" 2>/dev/null; done
    for p in "${prober_pids[@]+"${prober_pids[@]}"}"; do wait "$p" 2>/dev/null; done
    prober_pids=()
}

# One run: n addresses, k probers.
run_one() {
    local n=$1 k=$2 share timeout t0 job state left i line complete=0 wall per_s missing tag
    share=$((2000 / (k + 1)))
    # A backend has 1024 descriptors here (its soft limit), PostgreSQL's own
    # files among them: at 1000 sessions the worker's socket() failed with
    # EMFILE and wrote connection_failed verdicts.
    ((share <= max_each)) || share=$max_each
    timeout=${EV_SB_TIMEOUT:-$((300 + n / 400))}
    tag=$out/scale_bench_${n}_$k
    step "$n addresses ($((n - n / 2)) in a job, $((n / 2)) in a watched table), $k prober(s) + the worker; max_connections $share each, batch $batch (the worker's $worker_batch)"
    restart_simulator || die "the simulator did not start again"
    psql_q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" >/dev/null ||
        die "CREATE DATABASE failed"
    psql_q -d postgres -c "ALTER SYSTEM SET email_verify.max_connections = $share" >/dev/null || die "ALTER SYSTEM failed"
    pg_restart || die "restart failed: $(tail -5 "$pgdir/server.log")"
    psql_q -c "CREATE EXTENSION email_verify" \
        -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scale_prober') THEN
                CREATE ROLE scale_prober LOGIN IN ROLE email_verify_remote_prober; END IF; END \$\$" \
        -c "CREATE TABLE src (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL)" \
        -c "CREATE TABLE contacts (id int PRIMARY KEY, email text)" \
        -c "SET client_min_messages = error" -c "SELECT email_verify.watch('contacts', 'email', level => 'smtp')" >/dev/null ||
        die "the bench database failed"
    head -n "$n" "$EV_INET_ADDRESSES" | psql_q -c "\\copy src (email) FROM STDIN" || die "loading the addresses failed"
    psql_q -c "VACUUM ANALYZE src" >/dev/null
    wait_workers 1 || die "the worker did not start"
    start_probers "$k" "$share" || die "the probers did not say hello: $(tail -3 "$out/scale_bench_prober1.log")"
    rm -f "$tag.stop"
    python3 bench/jobs_bench_report.py smaps --interval-ms 1000 --seconds "$((timeout + 60))" --stop-file "$tag.stop" \
        "${prober_pids[@]}" >"$tag.smaps" 2>&1 &
    sampler_pid=$!
    sim RESET >/dev/null || die "the simulator's RESET failed"
    t0=$(psql -X -At -c "SELECT extract(epoch FROM clock_timestamp())")
    job=$(psql -X -At -v ON_ERROR_STOP=1 \
        -c "INSERT INTO contacts SELECT id, email FROM src WHERE id % 2 = 1" \
        -c "SELECT email_verify.submit_job_from_query('SELECT email FROM src WHERE id % 2 = 0 ORDER BY id', level => 'smtp')" |
        tail -1)
    [[ "$job" =~ ^[0-9]+$ ]] || die "submitting failed: $job"
    echo "submitted in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s: job $job"
    # Done: the job ended, no item pending or claimed, every row has a verdict.
    for ((i = 0; i < timeout / 2; i++)); do
        line=$(psql -X -At -F ' ' -c "SELECT s.state, s.processed, s.total,
                   (SELECT count(*) FROM contacts WHERE email_verified_at IS NOT NULL),
                   (SELECT count(*) FROM email_verify.queue WHERE state IN ('pending', 'claimed')),
                   (SELECT count(*) FROM contacts WHERE email_verified_at IS NULL)
                   FROM email_verify.job_status($job) s")
        read -r state _ _ _ queued unverified <<<"$line"
        if [[ "$state" != queued && "$state" != running && "$queued" == 0 && "$unverified" == 0 ]]; then
            complete=1
            break
        fi
        if ((i % 10 == 0)); then
            echo "$(date +%T) job $line (state processed total; table verified queued unverified); sim: $(jq -c '{sessions_open, replies_last_s}' "$EV_INET_STATS" 2>/dev/null); load $(cut -d' ' -f1 /proc/loadavg)"
        fi
        sleep 2
    done
    touch "$tag.stop"
    wait "$sampler_pid"
    sampler_pid=
    sim STATS >"$tag.stats.json" || note "the simulator's STATS failed"
    stop_probers
    left=$(psql -X -At -c "SELECT (SELECT total - processed FROM email_verify.job_status($job))
                                  + (SELECT count(*) FROM contacts WHERE email_verified_at IS NULL)")
    wall=$(psql -X -At -c "SELECT round((extract(epoch FROM greatest(
                               (SELECT coalesce(finished_at, clock_timestamp()) FROM email_verify.job_status($job)),
                               (SELECT max(email_verified_at) FROM contacts))) - $t0)::numeric, 1)")
    psql_q -c "\\copy (SELECT email, status, reason FROM email_verify.job_results($job) WHERE status IS NOT NULL UNION ALL SELECT email, email_status, email_reason FROM contacts WHERE email_status IS NOT NULL) TO '$tag.verdicts'" ||
        note "exporting the verdicts failed"
    missing=$(psql -X -At -c "SELECT (SELECT total FROM email_verify.job_status($job))
                                     - (SELECT count(*) FROM email_verify.job_results($job) WHERE status IS NOT NULL)
                                     + (SELECT count(*) FROM contacts WHERE email_status IS NULL)")
    python3 "$inet/compare.py" --world "$world" --verdicts "$tag.verdicts" >"$tag.compare"
    cat "$tag.compare"
    per_s=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }')
    python3 bench/scale_bench_report.py run-line "$tag.stats.json" "$tag.compare" "$tag.smaps" \
        n="$n" k="$k" job="$job" complete="$complete" left="$left" wall_s="$wall" per_s="$per_s" \
        missing="$missing" batch="$batch" worker_batch="$worker_batch" max_connections_each="$share" | tee -a "$results"
    cat "$tag.smaps"
    psql_q -c "\\copy (SELECT email, status, reason, round((extract(epoch FROM checked_at) - $t0)::numeric, 1), 'job' FROM email_verify.job_results($job) WHERE status IS NOT NULL UNION ALL SELECT email, email_status, email_reason, round((extract(epoch FROM email_verified_at) - $t0)::numeric, 1), 'table' FROM contacts WHERE email_verified_at IS NOT NULL) TO '$tag.times'" &&
        python3 bench/scale_bench_report.py tail "$world/domains.csv" "$tag.times"
    psql -X -At -c "SELECT 'probers: ' || string_agg(format('%s verdicts %s stale %s', name, verdicts, stale), ', ')
                    FROM email_verify.probers"
}

for s in $sizes; do
    n=$(count_of "$s")
    ks=${EV_SB_PROBERS:-}
    [ -n "$ks" ] || { if ((n <= 100000)); then ks="1 2"; else ks="2"; fi; }
    for k in $ks; do run_one "$n" "$k"; done
done

step "summary"
python3 bench/scale_bench_report.py table "$results"
for n in "${notes[@]+"${notes[@]}"}"; do echo "NOTE: $n"; done
echo "wall time: $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "log: $log"
exit 0
