#!/usr/bin/env bash
# Backup and restore benchmark (see bench/README.md), on a pgbench or `app` database in one
# throwaway PostgreSQL cluster, every contender on the same database in the same run:
#   1. full backup: `strata backup` (fresh repository per round) vs `pg_dump -Fc` (the anchor)
#      vs `pg_dump -Fd -j 2` vs `pg_dump -Fp | restic backup --stdin` vs the floor (psql
#      `COPY … TO STDOUT` of every table, discarded);
#   2. restore into an empty database: `strata restore` vs `pg_restore -j 2` (the anchor) vs the
#      floor (psql: pre-data schema, `\copy … FROM` of the same rows, post-data keys/indexes);
#   3. `strata verify --read-data` vs `restic check --read-data` of the same full backup;
#   4. incremental, a second backup after (a) no change, (b) an append and an update of the most
#      recent rows, (c) an update scattered over a table: strata vs restic vs the COPY floor;
# plus the bytes each stores and strata's peak RSS. Strata's repositories are encrypted, as
# `strata init` makes them by default (so every strata command also derives its key with the
# default Argon2id parameters); --insecure-no-encryption measures unencrypted ones instead.
# With --s3, strata also backs up into and restores from a repository on an S3-compatible
# server on 127.0.0.1 (moto, the test server of tests/support/s3_server.py; its throughput, not
# S3's, bounds those figures).
#
#   bench/backup.sh [--dataset pgbench|app] [--scale N] [--size-mb N] [--rounds R] [--warmup W]
#                   [--tiny] [--no-build] [--no-restic] [--insecure-no-encryption] [--s3]
#                   [--results-dir DIR]
#
# Exit status: non-zero if the build, the cluster, the load, a contender, or a correctness check
# (every restore's row counts, keys and indexes; every backup's tables and rows) fails. Never
# because of timings, and never because restic is missing (its rows then say SKIPPED).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"

usage() {
    cat <<'EOF'
usage: bench/backup.sh [options]
  --dataset NAME     pgbench (default; `pgbench -i`, very compressible) or app (a realistic
                     application database: bench/datasets/app.py)
  --scale N          pgbench scale factor (default 10: 1M accounts rows, 165 MB)
  --size-mb N        app database size on disk in MB (default 2000)
  --rounds R         timed rounds per contender, alternating, at least 3
                     (default 5 for pgbench, 3 for app)
  --warmup W         untimed rounds before the timed ones (default 1)
  --tiny             smoke run: pgbench scale 1 or app 5 MB, 3 rounds, no warm-up (CI;
                     timings meaningless)
  --no-build         do not run `cargo build --release` (use $STRATA_BIN or target/release)
  --no-restic        leave restic out (otherwise bench/setup.sh installs it when missing)
  --insecure-no-encryption
                     unencrypted strata repositories (default: encrypted, as `strata init`)
  --s3               also back up into / restore from a repository on the S3 test server
  --results-dir DIR  where the JSON results go (default bench/results)
EOF
}

dataset=pgbench
scale=10
size_mb=2000
rounds=
warmup=1
tiny=0
build=1
use_restic=1
s3=0
encryption=xchacha20-poly1305
jobs=2
results_dir=$here/results
while [[ $# -gt 0 ]]; do
    case $1 in
    --dataset) dataset=${2:?--dataset needs pgbench or app}; shift 2 ;;
    --scale) scale=${2:?--scale needs a number}; shift 2 ;;
    --size-mb) size_mb=${2:?--size-mb needs a number}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a number}; shift 2 ;;
    --tiny) tiny=1; scale=1; size_mb=5; warmup=0; shift ;;
    --no-build) build=0; shift ;;
    --no-restic) use_restic=0; shift ;;
    --insecure-no-encryption) BENCH_STRATA_INIT_FLAGS=--insecure-no-encryption; encryption=none; shift ;;
    --s3) s3=1; shift ;;
    --results-dir) results_dir=${2:?--results-dir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "backup.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
case $dataset in
pgbench) default_rounds=5 ;;
app) default_rounds=3 ;;
*) echo "backup.sh: --dataset must be pgbench or app" >&2; exit 2 ;;
esac
if [[ -z "$rounds" ]]; then
    if [[ $tiny == 1 ]]; then rounds=3; else rounds=$default_rounds; fi
fi
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "backup.sh: --scale must be a positive integer" >&2; exit 2; }
[[ "$size_mb" =~ ^[1-9][0-9]*$ ]] || { echo "backup.sh: --size-mb must be a positive integer" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 3 ]] || { echo "backup.sh: --rounds must be an integer >= 3" >&2; exit 2; }
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "backup.sh: --warmup must be a non-negative integer" >&2; exit 2; }

bench_strata "$build"
bench_workdir

# restic is optional: without it (no apt, not root, --no-restic) its contenders are left out
# and every place they would appear says why.
restic_skip=
if [[ $use_restic == 0 ]]; then
    restic_skip="--no-restic"
elif ! "$here/setup.sh" restic 2>"$work/setup.log"; then
    restic_skip="restic is not installed and bench/setup.sh could not install it: $(tail -n 1 "$work/setup.log")"
fi
if [[ -n "$restic_skip" ]]; then
    step "restic: SKIPPED ($restic_skip)"
    restic_version=
else
    restic_version=$(restic version | head -n 1)
fi

# --- cluster and dataset ---------------------------------------------------------------------
step "starting a throwaway PostgreSQL cluster"
# autovacuum off: nothing runs in the background during the timed rounds. Checkpoints: every
# restore starts after an explicit CHECKPOINT (untimed) and no timer fires during a run
# (checkpoint_timeout=1h); a restore of a large dataset still triggers checkpoints by WAL
# volume (max_wal_size=1GB), the same number for every contender since they write the same
# rows, and cheap here (fsync=off, 128 MB of shared buffers). A larger max_wal_size would keep
# gigabytes of WAL on disk for a 2 GB dataset.
bench_cluster_start -c autovacuum=off -c max_wal_size=1GB -c checkpoint_timeout=1h
bindir=$BENCH_PG_BINDIR
psql=$bindir/psql
pg_dump=$bindir/pg_dump
pg_restore=$bindir/pg_restore
base=$BENCH_PG_URL_BASE
url=$(bench_createdb src)

load_start=$(date +%s.%N)
if [[ $dataset == pgbench ]]; then
    dataset_label="pgbench -i -s $scale"
    required=(public.pgbench_accounts public.pgbench_branches public.pgbench_tellers public.pgbench_history)
    step "loading the dataset: $dataset_label"
    "$bindir/pgbench" -i -s "$scale" -q -h "$BENCH_PGHOST" -p "$BENCH_PGPORT" -U "$BENCH_PGUSER" src \
        >"$work/load.log" 2>&1 || { cat "$work/load.log" >&2; exit 1; }
else
    dataset_label="app --size-mb $size_mb"
    required=(app.categories app.products app.users app.orders app.order_lines app.events app.documents)
    step "loading the dataset: bench/datasets/app.py --size-mb $size_mb"
    python3 "$here/datasets/app.py" --size-mb "$size_mb" 2>"$work/load.log" | bench_psql -d src -f - \
        || { cat "$work/load.log" >&2; exit 1; }
    cat "$work/load.log" >&2
fi
bench_psql -d src -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
load_s=$(python3 -c "print(round($(date +%s.%N) - $load_start, 2))")
db_bytes=$(bench_psql -d src -At -c "SELECT pg_database_size('src')")
echo "loaded in ${load_s} s; database size $db_bytes bytes" >&2

# The source's exact row counts, keys and indexes: what every restore must reproduce.
require_args=()
for t in "${required[@]}"; do require_args+=(--require "$t"); done
python3 "$here/lib/check_restore.py" --psql "$psql" --url "$url" --write "$work/expect_a.json" \
    "${require_args[@]}"
json_get() { python3 -c 'import json,sys; print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))}))' "$@"; }
mapfile -t tables < <(json_get "$work/expect_a.json" '"\n".join(sorted(d["rows"]))')
total_rows=$(json_get "$work/expect_a.json" 'sum(d["rows"].values())')
echo "source: ${#tables[@]} tables, $total_rows rows ($(json_get "$work/expect_a.json" '", ".join(f"{k} {v}" for k, v in d["rows"].items())'))" >&2
dir_bytes() { python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import measure; print(measure.output_size(sys.argv[2]))' "$here/lib" "$1"; }

# --- reference artifacts (untimed) -----------------------------------------------------------
step "reference artifacts (untimed): a strata repository, a pg_dump -Fd directory, COPY files${restic_version:+, a restic repository}"
bench_strata_init() { sh -c "$(strata_init_cmd "$1")"; }
bench_strata_init "$work/ref_repo"
"$strata" backup "$url" --repo "$work/ref_repo" --jobs "$jobs" --json >"$work/ref_backup.json"
python3 "$here/lib/check_backup.py" "$work/expect_a.json" "$work/ref_backup.json"
backup_id=$(json_get "$work/ref_backup.json" 'd["id"]')
logical_bytes=$(json_get "$work/ref_backup.json" 'd["bytes"]')
"$pg_dump" -Fd -j "$jobs" -f "$work/ref.d" "$url"

# The floor's inputs: one COPY per table, to STDOUT (backup), and the same rows as files plus
# the schema split around them (restore: pre-data, COPY FROM, post-data = keys and indexes).
mkdir "$work/copy"
: >"$work/floor_backup.sql"
{
    echo "\\set ON_ERROR_STOP on"
    echo "\\i $work/pre.sql"
} >"$work/floor_restore.sql"
for i in "${!tables[@]}"; do
    t=${tables[i]}
    echo "COPY $t TO STDOUT;" >>"$work/floor_backup.sql"
    bench_psql -d src -c "\\copy $t TO '$work/copy/$i.copy'"
    echo "\\copy $t FROM '$work/copy/$i.copy'" >>"$work/floor_restore.sql"
done
echo "\\i $work/post.sql" >>"$work/floor_restore.sql"
"$pg_dump" --section=pre-data -f "$work/pre.sql" "$url"
"$pg_dump" --section=post-data -f "$work/post.sql" "$url"
copy_bytes=$(cat "$work"/copy/*.copy | wc -c)
# The floor's backup command really streams every row: its output is exactly the COPY files.
"$psql" -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$work/floor_backup.sql" >"$work/floor_check.out"
floor_out=$(stat -c %s "$work/floor_check.out")
rm -f "$work/floor_check.out"
if [[ "$floor_out" != "$copy_bytes" ]]; then
    echo "backup.sh: the COPY floor streamed $floor_out bytes, the COPY files hold $copy_bytes" >&2
    exit 1
fi
echo "  ok  strata backup $backup_id: ${#tables[@]} tables, $total_rows rows, $logical_bytes logical bytes" >&2
echo "  ok  COPY text of every table: $copy_bytes bytes" >&2

# restic backs up a plain dump read from a pipe, the way its documentation suggests for
# databases; `bash -c` so that pipefail catches a failing pg_dump. Its CPU and peak RSS are
# those of the whole pipeline (pg_dump's and restic's together; the larger RSS).
restic_backup() { # REPO URL: the command for measure.py
    printf 'bash -c %s restic-backup %s %s %s' \
        "$(sq 'set -o pipefail; "$1" -Fp "$2" | restic -r "$3" backup --stdin --stdin-filename db.sql --json --quiet')" \
        "$(sq "$pg_dump")" "$(sq "$2")" "$(sq "$1")"
}
restic_init() { printf 'restic init --repository-version 2 -q -r %s >/dev/null' "$(q "$1")"; }
if [[ -z "$restic_skip" ]]; then
    sh -c "$(restic_init "$work/ref_restic")"
    eval "$(restic_backup "$work/ref_restic" "$url")" >"$work/ref_restic.json"
    python3 "$here/lib/check_restic.py" "$work/ref_restic.json" "$copy_bytes"
    echo "  ok  restic snapshot $(json_get "$work/ref_restic.json" 'd["snapshot_id"]') of pg_dump -Fp ($(json_get "$work/ref_restic.json" 'd["total_bytes_processed"]') bytes)" >&2
fi

# --- shared hook pieces ----------------------------------------------------------------------
# After the run (untimed): every table's exact row count, the keys and indexes, as in the source;
# then the database goes (the next run creates it again), so that one restored copy at a time
# takes disk space.
same_rows() {
    printf 'python3 %s --psql %s --url %s --expect %s --label %s && %s -X -q -d %s -c %s' \
        "$(q "$here/lib/check_restore.py")" "$(q "$psql")" "$(q "$base/$1")" \
        "$(q "$work/expect_a.json")" "$(q "$2")" "$(q "$psql")" "$(q "$base/postgres")" \
        "$(q "DROP DATABASE $1")"
}
# After a full backup run (untimed), the output is checked, then removed (measure.py has recorded
# its size and hash already), so that one full backup at a time takes disk space.
# pg_dump: the dump holds the data of every table.
dump_complete() {
    printf 'n=$(%s -l %s | grep -c " TABLE DATA ") && [ "$n" = %s ] || { echo "%s holds TABLE DATA for $n tables, expected %s"; exit 1; }; rm -rf %s' \
        "$(q "$pg_restore")" "$(q "$1")" "${#tables[@]}" "$1" "${#tables[@]}" "$(q "$1")"
}
# strata: the repository lists one complete backup with the source's tables and rows.
strata_check_list() {
    printf '%s list --repo %s --json | python3 %s %s - && rm -rf %s' "$(q "$strata")" "$(q "$1")" \
        "$(q "$here/lib/check_backup.py")" "$(q "$work/expect_a.json")" "$(q "$1")"
}
restic_check_summary() { # SUMMARY: after a restic run
    printf 'python3 %s %s %s' "$(q "$here/lib/check_restic.py")" "$(q "$1")" "$copy_bytes"
}
# --- S3 (--s3) -------------------------------------------------------------------------------
# The S3 contenders run only with --s3; their arguments are empty otherwise.
s3_backup=() s3_restore=()
if [[ $s3 == 1 ]]; then
    step "starting the S3 test server (moto on 127.0.0.1) and an S3 reference repository"
    "$repo/scripts/setup-test-env.sh" >&2
    cache=${STRATA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/strata-test}
    moto_python=$(ls -d "$cache"/moto-*/bin/python | tail -1)
    coproc S3_SERVER { exec "$moto_python" "$repo/tests/support/s3_server.py"; }
    bench_on_exit kill "$S3_SERVER_PID"
    read -r ready s3_port s3_key s3_secret <&"${S3_SERVER[0]}"
    [[ $ready == READY ]] || { echo "backup.sh: the S3 test server did not start" >&2; exit 1; }
    echo "bucket strata-bench" >&"${S3_SERVER[1]}"
    read -r answer <&"${S3_SERVER[0]}"
    [[ $answer == ok ]] || { echo "backup.sh: creating the bucket failed: $answer" >&2; exit 1; }
    export AWS_ACCESS_KEY_ID=$s3_key AWS_SECRET_ACCESS_KEY=$s3_secret AWS_REGION=us-east-1 \
        AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port AWS_ALLOW_HTTP=true
    bench_strata_init s3://strata-bench/ref
    "$strata" backup "$url" --repo s3://strata-bench/ref --jobs "$jobs" --json >"$work/ref_s3.json"
    s3_backup_id=$(json_get "$work/ref_s3.json" 'd["id"]')
    # A fresh repository per round: empty the prefix, then init.
    s3_empty="import boto3, os; boto3.resource('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL']).Bucket('strata-bench').objects.filter(Prefix='b_strata/').delete()"
    s3_backup=(--contender "strata_s3=$(sq "$strata") backup $(sq "$url") --repo s3://strata-bench/b_strata --jobs $jobs"
        --before "strata_s3=$(q "$moto_python") -c $(q "$s3_empty") && $(strata_init_cmd s3://strata-bench/b_strata)"
        --after "strata_s3=$(strata_check_list s3://strata-bench/b_strata)")
    s3_restore=(--contender "strata_s3=$(sq "$strata") restore $s3_backup_id --repo s3://strata-bench/ref --to $(sq "$base/r_strata_s3") --jobs $jobs"
        --before "strata_s3=$(fresh_db_cmd r_strata_s3)" --after "strata_s3=$(same_rows r_strata_s3 "strata restore from S3")")
fi

floor_backup=(--contender "copy_floor=$(sq "$psql") -X -q -v ON_ERROR_STOP=1 -d $(sq "$url") -f $(sq "$work/floor_backup.sql")")

bench_meta "dataset=$dataset_label" "tiny=$tiny" "jobs=$jobs" "encryption=$encryption" "pg_dump=$("$pg_dump" --version)" \
    "restic=${restic_version:-skipped: $restic_skip}"
measure=(python3 "$here/lib/measure.py" --rounds "$rounds" --warmup "$warmup"
    --server-pid "$BENCH_POSTMASTER_PID")
rounds_note="$rounds alternating rounds (+$warmup warm-up)"

# === 1. full backup ==========================================================================
step "1. full backup: strata vs pg_dump -Fc vs pg_dump -Fd -j $jobs${restic_version:+ vs pg_dump -Fp | restic} vs COPY floor, $rounds_note"
restic_full=()
if [[ -z "$restic_skip" ]]; then
    restic_full=(--contender "restic=$(restic_backup "$work/b_restic" "$url")"
        --before "restic=$(restic_init "$work/b_restic")" --output "restic=$work/b_restic"
        --stdout "restic=$work/b_restic.json" --after "restic=$(restic_check_summary "$work/b_restic.json") && rm -rf $(q "$work/b_restic")")
fi
echo "### full backup ($dataset_label; output bytes = what is stored: repository, dump file, dump directory)"
"${measure[@]}" --anchor pg_dump_Fc \
    --contender "strata=$(sq "$strata") backup $(sq "$url") --repo $(sq "$work/b_strata") --jobs $jobs" \
    --before "strata=$(strata_init_cmd "$work/b_strata")" \
    --output "strata=$work/b_strata" --after "strata=$(strata_check_list "$work/b_strata")" \
    "${s3_backup[@]}" \
    --contender "pg_dump_Fc=$(sq "$pg_dump") -Fc -f $(sq "$work/b.fc") $(sq "$url")" \
    --output "pg_dump_Fc=$work/b.fc" --after "pg_dump_Fc=$(dump_complete "$work/b.fc")" \
    --contender "pg_dump_Fd=$(sq "$pg_dump") -Fd -j $jobs -f $(sq "$work/b.d") $(sq "$url")" \
    --output "pg_dump_Fd=$work/b.d" --after "pg_dump_Fd=$(dump_complete "$work/b.d")" \
    "${restic_full[@]}" "${floor_backup[@]}" \
    --meta "benchmark=backup" "${meta[@]}" --json "$work/backup.json"

# === 2. restore ==============================================================================
step "2. restore into an empty database: strata vs pg_restore -j $jobs vs COPY floor, $rounds_note"
echo
echo "### restore into an empty database (row counts, keys and indexes checked after every run)"
"${measure[@]}" --anchor pg_restore \
    --contender "strata=$(sq "$strata") restore $backup_id --repo $(sq "$work/ref_repo") --to $(sq "$base/r_strata") --jobs $jobs" \
    --before "strata=$(fresh_db_cmd r_strata)" --after "strata=$(same_rows r_strata "strata restore")" \
    "${s3_restore[@]}" \
    --contender "pg_restore=$(sq "$pg_restore") -j $jobs -d $(sq "$base/r_pg_restore") $(sq "$work/ref.d")" \
    --before "pg_restore=$(fresh_db_cmd r_pg_restore)" --after "pg_restore=$(same_rows r_pg_restore "pg_restore")" \
    --contender "copy_floor=$(sq "$psql") -X -q -v ON_ERROR_STOP=1 -d $(sq "$base/r_floor") -f $(sq "$work/floor_restore.sql")" \
    --before "copy_floor=$(fresh_db_cmd r_floor)" --after "copy_floor=$(same_rows r_floor "the COPY floor")" \
    --meta "benchmark=restore" "${meta[@]}" --json "$work/restore.json"
bench_psql -d postgres -c CHECKPOINT
rm -rf "$work/copy" "$work/ref.d"

# === 3. verify ===============================================================================
step "3. verify --read-data: strata vs restic check --read-data, $rounds_note"
echo
echo "### verify, reading every stored byte of the same full backup"
verify_args=(--no-ratio)
if [[ -z "$restic_skip" ]]; then
    verify_args=(--anchor restic_check
        --contender "restic_check=restic -r $(sq "$work/ref_restic") check --read-data")
fi
"${measure[@]}" \
    --contender "strata_verify=$(sq "$strata") verify --repo $(sq "$work/ref_repo") --read-data" \
    "${verify_args[@]}" --meta "benchmark=verify" "${meta[@]}" --json "$work/verify.json"
[[ -n "$restic_skip" ]] && echo "restic check: SKIPPED ($restic_skip)"

# === 4. incremental ==========================================================================
# One scenario: a second backup of the database as it is now into a copy of a repository that
# holds the earlier backup(s). The copies are hard links (`cp -al`): both tools only ever add
# files to a repository (and delete their own lock files), so the reference stays intact.
# Afterwards the last run's repository is the reference of the next scenario, as in a series of
# nightly backups.
incremental() { # SCENARIO LABEL STRATA_REF RESTIC_REF
    local sc=$1 label=$2 sref=$3 rref=$4 sbase rbase restic_args=() anchor=copy_floor
    sbase=$(dir_bytes "$sref")
    local irepo=$work/i_repo_$sc irestic=$work/i_restic_$sc
    if [[ -z "$restic_skip" ]]; then
        rbase=$(dir_bytes "$rref")
        anchor=restic_incr
        restic_args=(--contender "restic_incr=$(restic_backup "$irestic" "$url")"
            --before "restic_incr=rm -rf $(q "$irestic") && cp -al $(q "$rref") $(q "$irestic")"
            --stdout "restic_incr=$work/i_restic_$sc.json"
            --stdout-metric 'restic_incr=new_bytes="data_added": *([0-9]+)'
            --growth "restic_incr=$rbase=$irestic"
            --after "restic_incr=$(restic_check_summary "$work/i_restic_$sc.json")")
    fi
    step "4$sc. incremental ($sc), $label: second backups vs COPY floor, $rounds_note"
    echo
    echo "### incremental ($sc): $label (new bytes = what the tool says it added, logical; growth = the repository's)"
    "${measure[@]}" --anchor "$anchor" \
        --contender "strata_incr=$(sq "$strata") backup $(sq "$url") --repo $(sq "$irepo") --jobs $jobs --json" \
        --before "strata_incr=rm -rf $(q "$irepo") && cp -al $(q "$sref") $(q "$irepo")" \
        --stdout "strata_incr=$work/i_repo_$sc.json" \
        --stdout-metric 'strata_incr=new_bytes="new_bytes": *([0-9]+)' \
        --growth "strata_incr=$sbase=$irepo" \
        --after "strata_incr=python3 $(q "$here/lib/check_backup.py") $(q "$work/expect_$sc.json") $(q "$work/i_repo_$sc.json")" \
        "${restic_args[@]}" "${floor_backup[@]}" \
        --meta "benchmark=incremental_$sc" --meta "scenario=$label" "${meta[@]}" \
        --meta "strata_repository_before=$sbase" --meta "restic_repository_before=${rbase:-}" \
        --json "$work/incr_$sc.json"
}
mutate() { # SCENARIO: apply bench/datasets/mutate/DATASET-SCENARIO.sql, record the new counts
    local sql=$here/datasets/mutate/$dataset-$1.sql
    step "mutation ($1): $sql (untimed)"
    bench_psql -d src -f "$sql"
    python3 "$here/lib/check_restore.py" --psql "$psql" --url "$url" --write "$work/expect_$1.json" \
        "${require_args[@]}"
    echo "  rows now: $(json_get "$work/expect_$1.json" 'sum(d["rows"].values())')" >&2
}
if [[ $dataset == app ]]; then
    label_b="5% appended to app.events, the most recent 1% of app.users updated"
    label_c="1% of app.users updated, scattered uniformly (after (b))"
else
    label_b="5% appended to pgbench_accounts, its last 1% updated"
    label_c="1% of pgbench_accounts updated, scattered uniformly (after (b))"
fi
incremental a "no change" "$work/ref_repo" "$work/ref_restic"
mutate b
incremental b "$label_b" "$work/ref_repo" "$work/ref_restic"
mutate c
incremental c "$label_c" "$work/i_repo_b" "$work/i_restic_b"

# === summary and results =====================================================================
mkdir -p "$results_dir"
results=$results_dir/backup-$dataset-$stamp.json
python3 "$here/lib/backup_report.py" --work "$work" --json "$results" \
    --fact "dataset=$dataset_label" --fact "tiny=$tiny" --fact "load_seconds=$load_s" \
    --fact "rows=$total_rows" --fact "database_bytes=$db_bytes" --fact "copy_text_bytes=$copy_bytes" \
    --fact "strata_logical_bytes=$logical_bytes" --fact "restic_skipped=$restic_skip"
echo "results: $results"
