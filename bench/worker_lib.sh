# shellcheck shell=bash
# shellcheck disable=SC2154  # port, dns_server, results, f1_rows: set by the sourcing script; out, log: by bench/lib.sh
# Shared by the scripts that run the background worker in a throwaway cluster
# of their own (bench/run-worker-bench.sh, bench/run-compare-bench.sh), sourced
# after bench/lib.sh. Expects: port, dns_server, results (the file the
# WORKER_BENCH lines are appended to). Defines the cluster (worker_cluster:
# initdb as the postgres OS user into /var/tmp/<prefix>-XXXX, port $port, unix
# socket in that folder, shared_preload_libraries = email_verify,
# email_verify.database = bench, email_verify.dns_servers = $dns_server,
# workers 0; stopped and removed at exit whatever happens), and the drains of
# bench/worker_bench.sql (configure, prepare, drain, drain_only, f1_load).

bindir=$(pg_config --bindir)
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Hooks run at exit, after the server is stopped (e.g. reinstalling a build).
exit_hooks=()

# worker_cluster prefix server_log keep: makes and starts the cluster; its
# server log is copied to $out/<server_log> at exit; keep = 1 leaves its
# folder (the server is stopped all the same). Sets pgdir, data and the PG*
# environment.
worker_cluster() {
    cluster_prefix=$1
    cluster_log_copy=$2
    cluster_keep=${3:-0}
    pgdir=$(mktemp -d "/var/tmp/$cluster_prefix-XXXX") || die "mktemp failed"
    chmod 755 "$pgdir"
    [ "$(id -u)" = 0 ] && chown postgres "$pgdir"
    data=$pgdir/data
    trap worker_cluster_cleanup EXIT
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
email_verify.host_rcpt_rate = 0
email_verify.host_session_rate = 0
max_worker_processes = 16
email_verify.workers = 0
CONF
    export PGHOST=$pgdir PGPORT=$port PGUSER=postgres PGDATABASE=bench
    # No statement may wait for ever: a lock held by a stuck worker, a runaway plan.
    export PGOPTIONS="-c client_min_messages=warning -c lock_timeout=60s -c statement_timeout=300s"
    pg_start || die "the cluster did not start: $(tail -5 "$pgdir/server.log")"
    echo "cluster: $pgdir (port $port)"
}
worker_cluster_cleanup() {
    exec >>"$log" 2>&1  # the tee may be gone (killed with the script's process group)
    if [ -n "${data:-}" ] && [ -f "$data/postmaster.pid" ]; then
        as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1
    fi
    [ -n "${pgdir:-}" ] && [ -f "$pgdir/server.log" ] && cp "$pgdir/server.log" "$out/$cluster_log_copy" 2>/dev/null
    local h
    for h in "${exit_hooks[@]+"${exit_hooks[@]}"}"; do $h; done
    if [ "$cluster_keep" = 1 ]; then
        echo "cluster folder kept: $pgdir"
    elif [ -n "${pgdir:-}" ]; then
        rm -rf "$pgdir"
    fi
}
pg_start() { as_pg "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -w -t 60 start >/dev/null; }
pg_stop() { as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null; }
pg_restart() { as_pg "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -m fast -w -t 60 restart >/dev/null; }
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# NOTICE lines WORKER_BENCH ... go to the results (and the screen).
collect() { sed -n 's/^.*NOTICE: *//p; /ERROR/p' | tee -a "$results"; }
sqlrun() {  # psql arguments...; prints the WORKER_BENCH lines
    timeout 300 psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = notice" "$@" 2>&1 | collect
}

# The bench database: the extension (the installed build's default version)
# and the helpers of bench/worker_bench.sql; dropped first when it exists.
bench_database() {
    psql_q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" ||
        die "CREATE DATABASE failed"
    psql_q -d bench -c "CREATE EXTENSION email_verify" -c "CREATE EXTENSION pg_buffercache" -f bench/worker_bench.sql >/dev/null ||
        die "CREATE EXTENSION / bench/worker_bench.sql failed"
}

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

# Figure 1 of run-worker-bench.sh: one load of f1_rows rows into a fresh table
# f1 (unwatched, columns: watch() then unwatch(), watched: async at level dns)
# by INSERT or COPY (copy_file); workers 0.
f1_load() {  # run variant how
    local setup="SELECT 1"
    case "$2" in
    watched) setup="SELECT email_verify.watch('f1', 'email', level => 'dns', mode => 'async')" ;;
    columns) setup="SELECT email_verify.watch('f1', 'email', level => 'dns', mode => 'async'), email_verify.unwatch('f1', 'email')" ;;
    esac
    # (watch() warns that no worker serves the database: workers = 0 on purpose)
    psql_q -c "SET client_min_messages = error" -c "TRUNCATE email_verify.queue" -c "SELECT worker_make_table('f1', 0, 100)" \
        -c "$setup" -c "CHECKPOINT" >/dev/null || return 1
    sqlrun -c "CALL worker_insert(1, $1, '$2', '$3', 'f1', $f1_rows, '${copy_file:-}')"
}

# Drains (worker_drain of bench/worker_bench.sql).
drain() {  # fig run variant workers batch table rows users level status reason timeout: path A
    configure "$4" "$5" || { note "could not configure workers=$4 batch=$5"; return 1; }
    drain_only "$1" "$2" "$3" "$6" "$9" "${10}" "${11}" "${12}"
}
drain_only() {  # fig run variant table level status reason timeout [how rows users]: wait (workers as they are)
    local line how=${9:-watch}
    line=$(sqlrun -c "CALL worker_drain($1, $2, '$3', '$4', '$5', '$6', '$7', $8, how => '$how', n_rows => ${10:-NULL}, users => ${11:-100})")
    echo "$line"
    if ! grep -q ' complete=1 ' <<<"$line"; then
        # A worker that did not finish holds its claim's locks: what it is
        # doing goes to the log, and a restart ends it before the next step.
        note "fig $1 $3 run $2 did not complete within $8 s: $(psql -X -At -d postgres -c "SELECT string_agg(format('pid %s %s for %s: %s', pid, state, now() - xact_start, left(query, 120)), '; ') FROM pg_stat_activity WHERE backend_type = 'email_verify worker'")"
        psql -X -At -c "SELECT 'queue_stats at the end: ' || coalesce(string_agg(format('%s %s items %s', table_name, state, items), ', '), 'empty') FROM email_verify.queue_stats"
        pg_restart || note "restart after the incomplete drain failed"
    fi
}
# Path A: the table filled, the queue empty (TRUNCATEd: reltuples -1) and
# kept so until watch(): autovacuum of the queue is held off from here until
# worker_drain() has called watch() (it RESETs autovacuum_enabled), because a
# VACUUM of the empty queue in between (the previous drain's deletes reach
# the statistics late) leaves relpages = reltuples = 0, which the planner
# takes for an empty queue.
prepare() {  # table rows users
    psql_q -c "ALTER TABLE email_verify.queue SET (autovacuum_enabled = off)" -c "TRUNCATE email_verify.queue" \
        -c "SELECT worker_make_table('$1', $2, $3)" -c "CHECKPOINT" >/dev/null
}
