#!/usr/bin/env bash
# Backup and restore benchmark (see bench/README.md), on a pgbench database in one throwaway
# PostgreSQL cluster, every contender on the same database in the same run:
#   1. full backup: `strata backup` (fresh repository per round) vs `pg_dump -Fc` (the anchor)
#      vs `pg_dump -Fd -j 2` vs the floor (psql `COPY … TO STDOUT` of every table, discarded);
#   2. restore into an empty database: `strata restore` vs `pg_restore -j 2` (the anchor) vs the
#      floor (psql: pre-data schema, `\copy … FROM` of the same rows, post-data keys/indexes);
#   3. incremental: a second `strata backup` of the unchanged database vs the COPY floor;
# plus the bytes each stores and strata's peak RSS. Strata's repositories are encrypted, as
# `strata init` makes them by default (so every strata command also derives its key with the
# default Argon2id parameters); --insecure-no-encryption measures unencrypted ones instead.
# With --s3, strata also backs up into and restores from a repository on an S3-compatible
# server on 127.0.0.1 (moto, the test server of tests/support/s3_server.py; its throughput, not
# S3's, bounds those figures).
#
#   bench/backup.sh [--scale N] [--rounds R] [--tiny] [--no-build] [--insecure-no-encryption]
#                   [--results-dir DIR] [--s3]
#
# Exit status: non-zero if the build, the cluster, the load, a contender, or a correctness check
# (every restore's row counts, keys and indexes; every backup's tables and rows) fails. Never
# because of timings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/backup.sh [options]
  --scale N          pgbench scale factor of the dataset (default 10: 1M accounts rows)
  --rounds R         timed rounds per contender, alternating, at least 3 (default 5)
  --tiny             smoke run: scale 1, 3 rounds (CI; timings meaningless)
  --no-build         do not run `cargo build --release` (use $STRATA_BIN or target/release)
  --insecure-no-encryption
                     unencrypted strata repositories (default: encrypted, as `strata init`)
  --results-dir DIR  where the JSON results go (default bench/results)
  --s3               also back up into / restore from a repository on the S3 test server
EOF
}

scale=10
rounds=5
tiny=0
build=1
s3=0
jobs=2
init_flags=()
encryption=xchacha20-poly1305
results_dir=$here/results
while [[ $# -gt 0 ]]; do
    case $1 in
    --scale) scale=${2:?--scale needs a number}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --tiny) tiny=1; scale=1; rounds=3; shift ;;
    --no-build) build=0; shift ;;
    --insecure-no-encryption) init_flags=(--insecure-no-encryption); encryption=none; shift ;;
    --results-dir) results_dir=${2:?--results-dir needs a directory}; shift 2 ;;
    --s3) s3=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "backup.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "backup.sh: --scale must be a positive integer" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 3 ]] || { echo "backup.sh: --rounds must be an integer >= 3" >&2; exit 2; }

step() { printf '\n== %s\n' "$*" >&2; }
q() { printf '%q' "$1"; }                                  # quote for the /bin/sh hooks
sq() { local s=${1//\'/\'\"\'\"\'}; printf "'%s'" "$s"; } # quote for measure.py's shlex.split

# No libpq/Strata environment defaults that one contender might honour and the other not.
unset PGOPTIONS PGSERVICE PGSERVICEFILE PGSSLMODE PGAPPNAME PGTARGETSESSIONATTRS
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSFILE STRATA_TIMINGS
# The passphrase of the benchmark's repositories; new keys get the default KDF parameters.
unset STRATA_PASSWORD_FILE STRATA_PASSWORD_COMMAND STRATA_TEST_INSECURE_KDF
export STRATA_PASSWORD=strata-bench-passphrase

# --- build -----------------------------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$repo/target}
strata=${STRATA_BIN:-$target_dir/release/strata}
if [[ $build == 1 && -z "${STRATA_BIN:-}" ]]; then
    step "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
fi
[[ -x "$strata" ]] || { echo "backup.sh: no strata binary at $strata" >&2; exit 1; }

# --- cluster and dataset ---------------------------------------------------------------------
# shellcheck source=lib/cluster.sh
source "$here/lib/cluster.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-backup.XXXXXX")
bench_on_exit rm -rf "$work"

step "starting a throwaway PostgreSQL cluster"
# autovacuum off: nothing runs in the background during the timed rounds. A large max_wal_size:
# restores write a lot of WAL, and a checkpoint forced half-way through one run but not another
# would be noise. Each restore starts after an explicit CHECKPOINT instead (untimed).
bench_cluster_start -c autovacuum=off -c max_wal_size=4GB -c checkpoint_timeout=1h
bindir=$BENCH_PG_BINDIR
psql=$bindir/psql
pg_dump=$bindir/pg_dump
pg_restore=$bindir/pg_restore
base=$BENCH_PG_URL_BASE
url=$(bench_createdb src)

step "loading the dataset: pgbench -i -s $scale"
load_start=$(date +%s.%N)
"$bindir/pgbench" -i -s "$scale" -q -h "$BENCH_PGHOST" -p "$BENCH_PGPORT" -U "$BENCH_PGUSER" src \
    >"$work/pgbench.log" 2>&1 || { cat "$work/pgbench.log" >&2; exit 1; }
bench_psql -d src -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
load_s=$(python3 -c "print(round($(date +%s.%N) - $load_start, 2))")
db_bytes=$(bench_psql -d src -At -c "SELECT pg_database_size('src')")
echo "loaded in ${load_s} s; database size $db_bytes bytes" >&2

# The source's exact row counts, keys and indexes: what every restore must reproduce.
python3 "$here/lib/check_restore.py" --psql "$psql" --url "$url" --write "$work/expect.json" \
    --require public.pgbench_accounts --require public.pgbench_branches \
    --require public.pgbench_tellers --require public.pgbench_history
mapfile -t tables < <(python3 -c 'import json,sys; print("\n".join(sorted(json.load(open(sys.argv[1]))["rows"])))' "$work/expect.json")
total_rows=$(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["rows"].values()))' "$work/expect.json")
echo "source: ${#tables[@]} tables, $total_rows rows ($(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join(f"{k} {v}" for k, v in d["rows"].items()))' "$work/expect.json"))" >&2

# --- reference artifacts (untimed) -----------------------------------------------------------
step "reference artifacts (untimed): a strata repository, a pg_dump -Fd directory, COPY files"
"$strata" init "${init_flags[@]}" "$work/ref_repo" >/dev/null
"$strata" backup "$url" --repo "$work/ref_repo" --jobs "$jobs" --json >"$work/ref_backup.json"
python3 "$here/lib/check_backup.py" "$work/expect.json" "$work/ref_backup.json"
backup_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/ref_backup.json")
logical_bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes"])' "$work/ref_backup.json")
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

# --- shared hook pieces ----------------------------------------------------------------------
# An empty database created from template1 just before the run, after a checkpoint (untimed).
fresh_db() {
    printf '%s -X -q -v ON_ERROR_STOP=1 -d %s -c %s -c %s -c CHECKPOINT' "$(q "$psql")" \
        "$(q "$base/postgres")" "$(q "DROP DATABASE IF EXISTS $1")" "$(q "CREATE DATABASE $1")"
}
# After the run (untimed): every table's exact row count, the keys and indexes, as in the source.
same_rows() {
    printf 'python3 %s --psql %s --url %s --expect %s --label %s' \
        "$(q "$here/lib/check_restore.py")" "$(q "$psql")" "$(q "$base/$1")" \
        "$(q "$work/expect.json")" "$(q "$2")"
}
# After a pg_dump run (untimed): the dump holds the data of every table.
dump_complete() {
    printf 'n=$(%s -l %s | grep -c " TABLE DATA ") && [ "$n" = %s ] || { echo "%s holds TABLE DATA for $n tables, expected %s"; exit 1; }' \
        "$(q "$pg_restore")" "$(q "$1")" "${#tables[@]}" "$1" "${#tables[@]}"
}
strata_check_list() {
    printf '%s list --repo %s --json | python3 %s %s -' "$(q "$strata")" "$(q "$1")" \
        "$(q "$here/lib/check_backup.py")" "$(q "$work/expect.json")"
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
    "$strata" init "${init_flags[@]}" s3://strata-bench/ref >/dev/null
    "$strata" backup "$url" --repo s3://strata-bench/ref --jobs "$jobs" --json >"$work/ref_s3.json"
    s3_backup_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/ref_s3.json")
    # A fresh repository per round: empty the prefix, then init.
    s3_empty="import boto3, os; boto3.resource('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL']).Bucket('strata-bench').objects.filter(Prefix='b_strata/').delete()"
    s3_backup=(--contender "strata_s3=$(sq "$strata") backup $(sq "$url") --repo s3://strata-bench/b_strata --jobs $jobs"
        --before "strata_s3=$(q "$moto_python") -c $(q "$s3_empty") && $(q "$strata") init ${init_flags[*]} s3://strata-bench/b_strata >/dev/null"
        --after "strata_s3=$(strata_check_list s3://strata-bench/b_strata)")
    s3_restore=(--contender "strata_s3=$(sq "$strata") restore $s3_backup_id --repo s3://strata-bench/ref --to $(sq "$base/r_strata_s3") --jobs $jobs"
        --before "strata_s3=$(fresh_db r_strata_s3)" --after "strata_s3=$(same_rows r_strata_s3 "strata restore from S3")")
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
git_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$repo" status --porcelain 2>/dev/null | head -1)" ]]; then git_rev+="-dirty"; fi
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo || true)
meta=(--meta "scale=$scale" --meta "tiny=$tiny" --meta "utc=$stamp" --meta "jobs=$jobs"
    --meta "encryption=$encryption"
    --meta "nproc=$(nproc)" --meta "kernel=$(uname -r)" --meta "cpu=$cpu_model"
    --meta "postgres=$(bench_psql -d postgres -At -c 'SELECT version()')"
    --meta "pg_dump=$("$pg_dump" --version)"
    --meta "strata=$("$strata" --version 2>/dev/null || echo unknown)"
    --meta "strata_bin=$strata" --meta "strata_git=$git_rev")

# === 1. full backup ==========================================================================
step "1. full backup: strata vs pg_dump -Fc vs pg_dump -Fd -j $jobs vs COPY floor, $rounds alternating rounds (+1 warm-up)"
echo "### full backup (pgbench scale $scale; output bytes = what is stored: repository, dump file, dump directory)"
python3 "$here/lib/measure.py" \
    --rounds "$rounds" --anchor pg_dump_Fc --server-pid "$BENCH_POSTMASTER_PID" \
    --contender "strata=$(sq "$strata") backup $(sq "$url") --repo $(sq "$work/b_strata") --jobs $jobs" \
    --before "strata=$(q "$strata") init ${init_flags[*]} $(q "$work/b_strata") >/dev/null" \
    --output "strata=$work/b_strata" --after "strata=$(strata_check_list "$work/b_strata")" \
    "${s3_backup[@]}" \
    --contender "pg_dump_Fc=$(sq "$pg_dump") -Fc -f $(sq "$work/b.fc") $(sq "$url")" \
    --output "pg_dump_Fc=$work/b.fc" --after "pg_dump_Fc=$(dump_complete "$work/b.fc")" \
    --contender "pg_dump_Fd=$(sq "$pg_dump") -Fd -j $jobs -f $(sq "$work/b.d") $(sq "$url")" \
    --output "pg_dump_Fd=$work/b.d" --after "pg_dump_Fd=$(dump_complete "$work/b.d")" \
    --contender "copy_floor=$(sq "$psql") -X -q -v ON_ERROR_STOP=1 -d $(sq "$url") -f $(sq "$work/floor_backup.sql")" \
    --meta "benchmark=backup" "${meta[@]}" \
    --json "$work/backup.json"

# === 2. restore ==============================================================================
step "2. restore into an empty database: strata vs pg_restore -j $jobs vs COPY floor, $rounds alternating rounds (+1 warm-up)"
echo
echo "### restore into an empty database (row counts, keys and indexes checked after every run)"
python3 "$here/lib/measure.py" \
    --rounds "$rounds" --anchor pg_restore --server-pid "$BENCH_POSTMASTER_PID" \
    --contender "strata=$(sq "$strata") restore $backup_id --repo $(sq "$work/ref_repo") --to $(sq "$base/r_strata") --jobs $jobs" \
    --before "strata=$(fresh_db r_strata)" --after "strata=$(same_rows r_strata "strata restore")" \
    "${s3_restore[@]}" \
    --contender "pg_restore=$(sq "$pg_restore") -j $jobs -d $(sq "$base/r_pg_restore") $(sq "$work/ref.d")" \
    --before "pg_restore=$(fresh_db r_pg_restore)" --after "pg_restore=$(same_rows r_pg_restore "pg_restore")" \
    --contender "copy_floor=$(sq "$psql") -X -q -v ON_ERROR_STOP=1 -d $(sq "$base/r_floor") -f $(sq "$work/floor_restore.sql")" \
    --before "copy_floor=$(fresh_db r_floor)" --after "copy_floor=$(same_rows r_floor "the COPY floor")" \
    --meta "benchmark=restore" "${meta[@]}" \
    --json "$work/restore.json"

# === 3. incremental ==========================================================================
step "3. incremental (a), no change: second strata backup vs COPY floor, $rounds alternating rounds (+1 warm-up)"
echo
echo "### incremental (a): a second backup of the unchanged database (strata: into a copy of a repository holding the first)"
ref_repo_bytes=$(python3 -c 'import os,sys
print(sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(sys.argv[1]) for f in fs))' "$work/ref_repo")
: >"$work/incr_sizes.txt"
python3 "$here/lib/measure.py" \
    --rounds "$rounds" --anchor copy_floor --server-pid "$BENCH_POSTMASTER_PID" \
    --contender "strata_incr=$(sq "$strata") backup $(sq "$url") --repo $(sq "$work/i_repo") --jobs $jobs --json" \
    --before "strata_incr=rm -rf $(q "$work/i_repo") && cp -a $(q "$work/ref_repo") $(q "$work/i_repo")" \
    --stdout "strata_incr=$work/incr.json" \
    --stdout-metric 'strata_incr=new_bytes="new_bytes": *([0-9]+)' \
    --stdout-metric 'strata_incr=stored_bytes="stored_bytes": *([0-9]+)' \
    --after "strata_incr=python3 $(q "$here/lib/check_backup.py") $(q "$work/expect.json") $(q "$work/incr.json") --repo $(q "$work/i_repo") --sizes $(q "$work/incr_sizes.txt")" \
    --contender "copy_floor=$(sq "$psql") -X -q -v ON_ERROR_STOP=1 -d $(sq "$url") -f $(sq "$work/floor_backup.sql")" \
    --meta "benchmark=incremental" "${meta[@]}" \
    --json "$work/incremental.json"

# === summary and results =====================================================================
mkdir -p "$results_dir"
results=$results_dir/backup-$stamp.json
python3 - "$work" "$results" "$tiny" "$scale" "$db_bytes" "$copy_bytes" "$logical_bytes" \
    "$ref_repo_bytes" "$load_s" "$total_rows" <<'PY'
import json, statistics, sys
work, out, tiny, scale, db_bytes, copy_bytes, logical_bytes, ref_repo_bytes, load_s, rows = sys.argv[1:]
db_bytes, copy_bytes, logical_bytes, ref_repo_bytes = map(int, (db_bytes, copy_bytes, logical_bytes, ref_repo_bytes))
parts = {p: json.load(open(f"{work}/{p}.json")) for p in ("backup", "restore", "incremental")}
b = parts["backup"]["contenders"]
r = parts["restore"]["contenders"]
i = parts["incremental"]["contenders"]
wall = lambda c: c["median"]["wall_s"]
sizes = [int(x) for x in open(f"{work}/incr_sizes.txt").read().split()]
# Every run of strata_incr appended the repository's size; the timed ones are the last `rounds`.
growth = statistics.median(s - ref_repo_bytes for s in sizes[-parts["incremental"]["rounds"]:])
full_stored = b["strata"]["median"]["output_bytes"]
fc_stored = b["pg_dump_Fc"]["median"]["output_bytes"]
fd_stored = b["pg_dump_Fd"]["median"]["output_bytes"]

def mib(n):
    return f"{n / 1048576:.1f} MiB"

print("\n### stored bytes")
rows_t = [("strata repository (full backup)", full_stored),
          ("pg_dump -Fc file (anchor)", fc_stored),
          ("pg_dump -Fd directory", fd_stored),
          ("COPY text of every table (uncompressed)", copy_bytes),
          ("database on disk (pg_database_size)", db_bytes)]
w = max(len(n) for n, _ in rows_t)
print(f"| {'what':<{w}} | {'bytes':>13} | ratio to pg_dump -Fc |")
print(f"|{'-' * (w + 2)}|{'-' * 15}|{'-' * 22}|")
for name, n in rows_t:
    print(f"| {name:<{w}} | {n:>13,} | {n / fc_stored:>19.2f}x |")
print(f"(strata's logical bytes, the COPY data it chunked: {logical_bytes:,})")

inc = i["strata_incr"]
new_b = inc["median_metrics"]["new_bytes"]
stored_b = inc["median_metrics"]["stored_bytes"]
print("\n### incremental (a), no change: strata's second backup")
print(f"wall {wall(inc):.3f} s = {inc['wall_ratio_to_anchor']:.2f}x the COPY floor "
      f"({wall(i['copy_floor']):.3f} s) = {wall(inc) / wall(b['strata']):.2f}x strata's full backup "
      f"({wall(b['strata']):.3f} s)")
print(f"new bytes (logical) {new_b:,.0f}; stored {stored_b:,.0f}; repository grew by {growth:,.0f} bytes "
      f"= {100 * growth / full_stored:.2f}% of the full backup's {full_stored:,} "
      "(manifest and index files included)")

strata_samples = ([("backup", s) for s in b["strata"]["samples"]]
                  + [("restore", s) for s in r["strata"]["samples"]]
                  + [("incremental", s) for s in inc["samples"]])
peak = max(strata_samples, key=lambda x: x[1]["peak_rss_kib"])
peak_mb = peak[1]["peak_rss_kib"] * 1024 / 1e6

def verdict(ok):
    return "met" if ok else "NOT met"

targets = [
    ("full backup wall <= 0.35x pg_dump -Fc", b["strata"]["wall_ratio_to_anchor"] <= 0.35,
     f"{b['strata']['wall_ratio_to_anchor']:.2f}x"),
    ("full backup wall <= 1.3x the COPY floor", wall(b["strata"]) <= 1.3 * wall(b["copy_floor"]),
     f"{wall(b['strata']) / wall(b['copy_floor']):.2f}x"),
    ("stored bytes <= pg_dump -Fc's", full_stored <= fc_stored,
     f"{full_stored:,} vs {fc_stored:,} = {full_stored / fc_stored:.2f}x"),
    ("restore wall <= 0.75x pg_restore -j 2", r["strata"]["wall_ratio_to_anchor"] <= 0.75,
     f"{r['strata']['wall_ratio_to_anchor']:.2f}x"),
    ("incremental (a) stored < 1% of the full", growth < 0.01 * full_stored,
     f"repository growth {100 * growth / full_stored:.2f}%"),
    ("incremental (a) wall <= 1.1x the COPY floor", inc["wall_ratio_to_anchor"] <= 1.1,
     f"{inc['wall_ratio_to_anchor']:.2f}x"),
    ("peak RSS of backup and restore < 200 MB", peak_mb < 200,
     f"max {peak_mb:.1f} MB ({peak[1]['peak_rss_kib'] / 1024:.1f} MiB, {peak[0]})"),
]
print("\n### targets (docs: issue 7; stated for the `app` dataset, read here on pgbench)")
for name, ok, detail in targets:
    print(f"target: {name} -> {verdict(ok)} ({detail})")
print(f"restore: strata {wall(r['strata']):.3f} s, pg_restore {wall(r['pg_restore']):.3f} s, "
      f"COPY floor {wall(r['copy_floor']):.3f} s; every restore had the source's row counts, keys and indexes")
if tiny == "1":
    print("(tiny mode: a smoke run; the timings are not meaningful)")

meta = {k: v for k, v in parts["backup"]["meta"].items() if k != "benchmark"}
meta.update({"dataset": f"pgbench -i -s {scale}", "load_seconds": float(load_s), "rows": int(rows),
             "database_bytes": db_bytes, "copy_text_bytes": copy_bytes})
doc = {
    "benchmark": "backup",
    "meta": meta,
    "backup": parts["backup"],
    "restore": parts["restore"],
    "incremental": parts["incremental"],
    "stored_bytes": {"strata_repository": full_stored, "pg_dump_Fc": fc_stored,
                     "pg_dump_Fd": fd_stored, "copy_text": copy_bytes, "database": db_bytes,
                     "strata_logical": logical_bytes},
    "incremental_no_change": {"wall_s": wall(inc), "new_bytes": new_b, "stored_bytes": stored_b,
                              "repository_growth_bytes": growth,
                              "repository_bytes_before": ref_repo_bytes,
                              "wall_ratio_to_copy_floor": inc["wall_ratio_to_anchor"],
                              "repository_growth_samples": [s - ref_repo_bytes for s in sizes]},
    "strata_peak_rss_kib": {"max": peak[1]["peak_rss_kib"], "where": peak[0],
                            "backup_median": b["strata"]["median"]["peak_rss_kib"],
                            "restore_median": r["strata"]["median"]["peak_rss_kib"],
                            "incremental_median": inc["median"]["peak_rss_kib"]},
    "targets": [{"target": n, "met": ok, "value": d} for n, ok, d in targets],
}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
PY
echo "results: $results"
