# shellcheck shell=bash
# The preamble every benchmark script shares. Source it first, with $here set to bench/:
#
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   source "$here/lib/common.sh"
#
# It sources lib/cluster.sh (the throwaway cluster), sets $repo (the repository root) and
# $bench_name (the script's name, for messages), clears the libpq/Strata environment, and
# defines:
#   step MSG...            a heading on stderr
#   q STR / sq STR         quote STR for a /bin/sh hook / for measure.py's shlex.split
#   bench_strata BUILD     `cargo build --release` when BUILD is 1 and $STRATA_BIN is unset,
#                          then sets $strata to the binary ($STRATA_BIN, else target/release)
#   bench_workdir          a temporary directory, removed on exit: sets $work
#   bench_meta KEY=VAL...  (cluster running) sets $stamp (UTC) and $git_rev, and the array
#                          meta: --meta pairs for measure.py describing the machine (nproc,
#                          kernel, CPU, load average), the server and strata, plus KEY=VALs
#   strata_init_cmd DIR    the `strata init DIR` command line, for a hook
#   fresh_db_cmd NAME      (cluster running) the command line, for a hook, that drops and
#                          creates database NAME (empty, from template1), then CHECKPOINTs so
#                          that no checkpoint of earlier work lands in the timed run
#
# Repository secrets and flags live here, in one place, for every script: strata commands get
# STRATA_PASSWORD (repositories are encrypted when they have one), `strata init` gets
# $BENCH_STRATA_INIT_FLAGS (e.g. `--insecure-no-encryption` to measure an unencrypted
# repository), restic gets RESTIC_PASSWORD and a cache inside the run's work directory.

if [[ -n "${BENCH_COMMON_SH_LOADED:-}" ]]; then
    return 0
fi
BENCH_COMMON_SH_LOADED=1

# shellcheck source=cluster.sh
source "$here/lib/cluster.sh"
repo=$(cd "$here/.." && pwd)
bench_name=$(basename "$0")

# New keys get the default KDF parameters: no test shortcut, no other password source.
unset STRATA_PASSWORD_FILE STRATA_PASSWORD_COMMAND STRATA_TEST_INSECURE_KDF
export STRATA_PASSWORD=${STRATA_PASSWORD:-strata-bench-password}
BENCH_STRATA_INIT_FLAGS=${BENCH_STRATA_INIT_FLAGS-}
export RESTIC_PASSWORD=${RESTIC_PASSWORD:-restic-bench-password}

# No libpq/Strata environment defaults that one contender might honour and the other not.
unset PGOPTIONS PGSERVICE PGSERVICEFILE PGSSLMODE PGAPPNAME PGTARGETSESSIONATTRS
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSFILE STRATA_TIMINGS

step() { printf '\n== %s\n' "$*" >&2; }
q() { printf '%q' "$1"; }                                  # quote for the /bin/sh hooks
sq() { local s=${1//\'/\'\"\'\"\'}; printf "'%s'" "$s"; } # quote for measure.py's shlex.split

bench_strata() {
    local target_dir=${CARGO_TARGET_DIR:-$repo/target}
    strata=${STRATA_BIN:-$target_dir/release/strata}
    if [[ $1 == 1 && -z "${STRATA_BIN:-}" ]]; then
        step "cargo build --release"
        (cd "$repo" && cargo build --release --quiet)
    fi
    [[ -x "$strata" ]] || { echo "$bench_name: no strata binary at $strata" >&2; exit 1; }
}

bench_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-${bench_name%.sh}.XXXXXX")
    bench_on_exit rm -rf "$work"
    export RESTIC_CACHE_DIR=$work/restic-cache
}

bench_meta() {
    local cpu_model kv
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    git_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n "$(git -C "$repo" status --porcelain 2>/dev/null | head -1)" ]]; then git_rev+="-dirty"; fi
    cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo || true)
    meta=(--meta "utc=$stamp" --meta "nproc=$(nproc)" --meta "kernel=$(uname -r)"
        --meta "cpu=$cpu_model" --meta "memory_kib=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
        --meta "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
        --meta "postgres=$(bench_psql -d postgres -At -c 'SELECT version()')"
        --meta "strata=$("$strata" --version 2>/dev/null || echo unknown)"
        --meta "strata_bin=$strata" --meta "strata_git=$git_rev")
    for kv in "$@"; do meta+=(--meta "$kv"); done
}

strata_init_cmd() {
    # $BENCH_STRATA_INIT_FLAGS is split into words on purpose: it holds zero or more flags.
    printf '%s init %s%s >/dev/null' "$(q "$strata")" \
        "${BENCH_STRATA_INIT_FLAGS:+$BENCH_STRATA_INIT_FLAGS }" "$(q "$1")"
}

fresh_db_cmd() {
    printf '%s -X -q -v ON_ERROR_STOP=1 -d %s -c %s -c %s -c CHECKPOINT' \
        "$(q "$BENCH_PG_BINDIR/psql")" "$(q "$BENCH_PG_URL_BASE/postgres")" \
        "$(q "DROP DATABASE IF EXISTS $1")" "$(q "CREATE DATABASE $1")"
}
