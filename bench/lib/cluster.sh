# shellcheck shell=bash
# Throwaway PostgreSQL cluster for benchmarks. Source this file, then:
#
#   bench_cluster_start [-c name=value ...]   # initdb + start on a free 127.0.0.1 port
#   bench_psql -d postgres -c 'SELECT 1'      # psql against it (-X, ON_ERROR_STOP)
#   url=$(bench_createdb mydb)                # fresh database, prints its URL
#   ... run contenders against "$BENCH_PG_URL_BASE/mydb" ...
#   # the cluster is stopped and its directory removed when the shell exits (EXIT trap);
#   # bench_cluster_stop does it earlier if you want.
#
# Exports after bench_cluster_start:
#   BENCH_PGHOST=127.0.0.1  BENCH_PGPORT  BENCH_PGUSER=postgres
#   BENCH_PG_URL_BASE=postgres://postgres@127.0.0.1:PORT   (append /DBNAME)
#   BENCH_PG_BINDIR   BENCH_CLUSTER_DIR   BENCH_PG_LOG (server log)   BENCH_POSTMASTER_PID
#
# One cluster per shell. Server binaries: $BENCH_PG_BINDIR, else $STRATA_PG_BINDIR (what the
# test harness honours), else `pg_config --bindir`. Extra server settings: arguments to
# bench_cluster_start and/or $BENCH_PG_SETTINGS (space-separated name=value pairs).
#
# Every contender of a benchmark talks to the same cluster, so the settings below are, by
# construction, identical for all of them. fsync/full_page_writes are off because a benchmark
# cluster is disposable and we measure the tools, not the disk; keep that in mind before
# comparing absolute restore times with a production server.
#
# Callers that need their own cleanup register it with `bench_on_exit CMD...` instead of
# installing another EXIT trap (which would replace ours and leak the server).

if [[ -n "${BENCH_CLUSTER_SH_LOADED:-}" ]]; then
    return 0
fi
BENCH_CLUSTER_SH_LOADED=1

BENCH_EXIT_HOOKS=()

# Registers a command to run when the shell exits (last registered runs first).
bench_on_exit() {
    BENCH_EXIT_HOOKS+=("$(printf '%q ' "$@")")
}

_bench_run_exit_hooks() {
    local rc=$? i
    # Each hook runs even if an earlier one fails; never let cleanup change the exit code.
    for ((i = ${#BENCH_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${BENCH_EXIT_HOOKS[i]}" || true
    done
    BENCH_EXIT_HOOKS=()
    exit "$rc"
}
trap _bench_run_exit_hooks EXIT
# Ctrl-C / kill: leave through the EXIT trap so the server is stopped too.
trap 'exit 130' INT
trap 'exit 143' TERM

_bench_log() { printf '[cluster] %s\n' "$*" >&2; }

bench_pg_bindir() {
    if [[ -n "${BENCH_PG_BINDIR:-}" ]]; then
        printf '%s\n' "$BENCH_PG_BINDIR"
    elif [[ -n "${STRATA_PG_BINDIR:-}" ]]; then
        printf '%s\n' "$STRATA_PG_BINDIR"
    else
        pg_config --bindir
    fi
}

# PostgreSQL refuses to run as root: run server-side programs as `nobody` in that case.
_bench_as_server_user() {
    if [[ "$(id -u)" == 0 ]]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        "$@"
    fi
}

# A port nobody listens on right now. (Another process may grab it before the server does;
# bench_cluster_start retries with a new port if the server fails to come up.)
_bench_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

bench_cluster_start() {
    if [[ -n "${BENCH_CLUSTER_DIR:-}" ]]; then
        _bench_log "a cluster is already running in $BENCH_CLUSTER_DIR"
        return 1
    fi
    local bindir dir settings=() attempt port pid
    bindir=$(bench_pg_bindir)
    [[ -x "$bindir/initdb" && -x "$bindir/postgres" ]] || {
        _bench_log "no initdb/postgres in $bindir (set BENCH_PG_BINDIR)"
        return 1
    }
    dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-pg.XXXXXX")
    # Register cleanup before anything else can fail, so a half-started cluster is removed too.
    BENCH_CLUSTER_DIR=$dir
    bench_on_exit bench_cluster_stop
    # The server user (nobody) must be able to create the data directory and socket here.
    chmod 0777 "$dir"

    _bench_as_server_user "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
        _bench_log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    }

    # Same settings as the test harness (tests/support/mod.rs), plus whatever the caller asked.
    settings=(-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off
        -c full_page_writes=off -c max_connections=200 -c shared_buffers=128MB)
    local s
    for s in ${BENCH_PG_SETTINGS:-}; do settings+=(-c "$s"); done
    settings+=("$@")

    for attempt in 1 2 3 4 5; do
        port=$(_bench_free_port)
        # $! is the background subshell running the function, not necessarily the postmaster;
        # the postmaster's own PID is read from postmaster.pid once the server is up.
        _bench_as_server_user "$bindir/postgres" -D "$dir/data" -p "$port" -k "$dir" \
            "${settings[@]}" >>"$dir/server.log" 2>&1 </dev/null &
        pid=$!
        if _bench_wait_ready "$bindir" "$port" "$pid"; then
            BENCH_SERVER_JOB_PID=$pid
            pid=$(head -n 1 "$dir/data/postmaster.pid")
            export BENCH_PG_BINDIR=$bindir BENCH_CLUSTER_DIR=$dir BENCH_PG_LOG=$dir/server.log
            export BENCH_PGHOST=127.0.0.1 BENCH_PGPORT=$port BENCH_PGUSER=postgres
            export BENCH_POSTMASTER_PID=$pid
            export BENCH_PG_URL_BASE="postgres://postgres@127.0.0.1:$port"
            _bench_log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)"
            return 0
        fi
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        _bench_log "server did not start on port $port (attempt $attempt), retrying"
    done
    _bench_log "PostgreSQL did not start; server log:"
    tail -n 30 "$dir/server.log" >&2
    return 1
}

_bench_wait_ready() {
    local bindir=$1 port=$2 pid=$3 i
    for ((i = 0; i < 300; i++)); do # up to ~30 s
        kill -0 "$pid" 2>/dev/null || return 1 # died (e.g. port taken)
        if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Stops the server (fast shutdown) and removes its directory. Safe to call twice.
bench_cluster_stop() {
    local dir=${BENCH_CLUSTER_DIR:-} bindir
    [[ -n "$dir" ]] || return 0
    bindir=${BENCH_PG_BINDIR:-$(bench_pg_bindir)}
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        _bench_as_server_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop \
            >/dev/null 2>&1 ||
            _bench_log "pg_ctl stop failed; see $dir/server.log"
    fi
    if [[ -n "${BENCH_SERVER_JOB_PID:-}" ]]; then
        wait "$BENCH_SERVER_JOB_PID" 2>/dev/null || true # reap our background job
    fi
    if [[ -n "${BENCH_KEEP_CLUSTER_DIR:-}" ]]; then
        _bench_log "kept $dir (BENCH_KEEP_CLUSTER_DIR is set)"
    else
        rm -rf -- "$dir"
    fi
    unset BENCH_CLUSTER_DIR BENCH_PGPORT BENCH_PG_URL_BASE BENCH_POSTMASTER_PID BENCH_PG_LOG \
        BENCH_SERVER_JOB_PID
}

# psql against the benchmark cluster: no ~/.psqlrc, stop at the first error, quiet.
# Pass -d DBNAME (default: postgres).
bench_psql() {
    PGDATABASE=${PGDATABASE:-postgres} "$BENCH_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$BENCH_PGHOST" -p "$BENCH_PGPORT" -U "$BENCH_PGUSER" "$@"
}

# Creates an empty database and prints its URL.
bench_createdb() {
    local name=$1
    bench_psql -d postgres -c "CREATE DATABASE \"$name\"" >&2
    printf '%s/%s\n' "$BENCH_PG_URL_BASE" "$name"
}

# "15.18" etc. of the running server.
bench_server_version() {
    bench_psql -d postgres -At -c 'SHOW server_version'
}
