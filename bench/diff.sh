#!/usr/bin/env bash
# Schema-change benchmarks (see bench/README.md), in one throwaway PostgreSQL cluster:
#   1. `strata diff A.json B.json`: the plan between two snapshots of the wide schema, in memory
#      (no database involved), and `strata diff A.json A.json` (nothing to do);
#   2. `strata apply pagila.yaml --to EMPTY_DB --yes` vs `psql -f pagila.sql EMPTY_DB` (the
#      anchor: replaying pg_dump --schema-only), each into a fresh empty database every round.
#
#   bench/diff.sh [--tables N] [--rounds R] [--tiny] [--no-build] [--results-dir DIR]
#
# Exit status: non-zero if the build, the cluster, a dataset load, a contender, or a
# correctness check (the plan's summary, the applied schema) fails. Never because of timings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"

usage() {
    cat <<'EOF'
usage: bench/diff.sh [options]
  --tables N         tables in the wide-schema dataset diffed in part 1 (default 2000)
  --rounds R         timed rounds per contender, alternating, at least 3 (default 5)
  --tiny             smoke run: 50 tables, denser edits, 3 rounds (CI; timings meaningless)
  --no-build         do not run `cargo build --release` (use $STRATA_BIN or target/release)
  --results-dir DIR  where the JSON results go (default bench/results)
  --pagila FILE      the Pagila schema for part 2
                     (default ../shared/fixtures/pagila/pagila-schema.sql from the repo root;
                     part 2 is SKIPPED when it does not exist)
EOF
}

tables=2000
rounds=
tiny=0
build=1
results_dir=$here/results
pagila_src=$repo/../shared/fixtures/pagila/pagila-schema.sql
while [[ $# -gt 0 ]]; do
    case $1 in
    --tables) tables=${2:?--tables needs a number}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --tiny) tiny=1; tables=50; shift ;;
    --no-build) build=0; shift ;;
    --results-dir) results_dir=${2:?--results-dir needs a directory}; shift 2 ;;
    --pagila) pagila_src=${2:?--pagila needs a file}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "diff.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ -z "$rounds" ]]; then
    if [[ $tiny == 1 ]]; then rounds=3; else rounds=5; fi
fi
[[ "$tables" =~ ^[1-9][0-9]*$ ]] || { echo "diff.sh: --tables must be a positive integer" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 3 ]] || { echo "diff.sh: --rounds must be an integer >= 3" >&2; exit 2; }

# The edit that turns schema A into B (bench/datasets/wide_schema_edit.py): which tables get a
# new comment, a new column, a retyped column, one index less. The tiny run edits more densely,
# so that 50 tables still get every kind of change (t30's retype hits a unique expression index).
if [[ $tiny == 1 ]]; then
    edit_every=(--comment-every 5 --column-every 10 --retype-every 10 --drop-index-every 10)
else
    edit_every=(--comment-every 50 --column-every 100 --retype-every 400 --drop-index-every 400)
fi
plan_target_ms=100 # the project's stated target for planning 2,000 tables

bench_strata "$build"
bench_workdir

# --- cluster ---------------------------------------------------------------------------------
step "starting a throwaway PostgreSQL cluster"
bench_cluster_start -c autovacuum=off
psql=$BENCH_PG_BINDIR/psql
pg_dump=$BENCH_PG_BINDIR/pg_dump

bench_meta "tiny=$tiny"

# === 1. diff of two wide schemas, in memory ==================================================
step "part 1: loading the wide schema ($tables tables) and snapshotting it as A.json"
wide_url=$(bench_createdb wide)
python3 "$here/datasets/wide_schema.py" --tables "$tables" >"$work/wide_schema.sql"
bench_psql -d wide -f "$work/wide_schema.sql"
"$strata" snapshot "$wide_url" -o "$work/A.json" --format json
snap_tables=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tables"]))' "$work/A.json")
if [[ "$snap_tables" != "$tables" ]]; then
    echo "diff.sh: A.json has $snap_tables tables, expected $tables" >&2
    exit 1
fi

step "part 1: deriving B.json from A.json (bench/datasets/wide_schema_edit.py ${edit_every[*]})"
python3 "$here/datasets/wide_schema_edit.py" "$work/A.json" "$work/B.json" \
    --expect "$work/expect.json" "${edit_every[@]}" >/dev/null
expected_line=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_line"])' "$work/expect.json")
echo "expected plan: ${expected_line#-- }" >&2

step "part 1 correctness: exit codes and the plan's summary"
# Exit 1 = differences, 0 = none (docs/PLAN.md); anything else fails the run.
set +e
"$strata" diff "$work/A.json" "$work/B.json" >"$work/plan_check.txt"
rc_changed=$?
"$strata" diff "$work/A.json" "$work/A.json" >"$work/same_check.txt"
rc_same=$?
set -e
if [[ $rc_changed != 1 ]]; then
    echo "diff.sh: strata diff A.json B.json exited $rc_changed, expected 1 (differences)" >&2
    exit 1
fi
if [[ $rc_same != 0 ]]; then
    echo "diff.sh: strata diff A.json A.json exited $rc_same, expected 0 (no differences)" >&2
    exit 1
fi
python3 "$here/lib/check_plan.py" "$work/plan_check.txt" "$work/expect.json"
python3 "$here/lib/check_plan.py" "$work/same_check.txt" --no-changes
echo "  ok  A -> B: exit 1, $(head -n 1 "$work/plan_check.txt")" >&2
echo "  ok  A -> A: exit 0, $(head -n 1 "$work/same_check.txt")" >&2

step "part 1 timing: strata diff, $rounds alternating rounds (+1 warm-up), STRATA_TIMINGS=1"
# Every timed run is checked again afterwards (untimed): same exit code, same summary.
timings_re='read both schemas ([0-9.]+) ms'
planned_re='planned ([0-9.]+) ms'
STRATA_TIMINGS=1 python3 "$here/lib/measure.py" \
    --rounds "$rounds" --no-ratio \
    --contender "diff_changed=$strata diff $work/A.json $work/B.json" \
    --stdout "diff_changed=$work/plan_changed.txt" --exit-ok diff_changed=1 \
    --after "diff_changed=python3 $(q "$here/lib/check_plan.py") $(q "$work/plan_changed.txt") $(q "$work/expect.json")" \
    --stderr-metric "diff_changed=planned_ms=$planned_re" \
    --stderr-metric "diff_changed=read_ms=$timings_re" \
    --contender "diff_identical=$strata diff $work/A.json $work/A.json" \
    --stdout "diff_identical=$work/plan_identical.txt" --exit-ok diff_identical=0 \
    --after "diff_identical=python3 $(q "$here/lib/check_plan.py") $(q "$work/plan_identical.txt") --no-changes" \
    --stderr-metric "diff_identical=planned_ms=$planned_re" \
    --stderr-metric "diff_identical=read_ms=$timings_re" \
    --meta "benchmark=diff" --meta "dataset=wide_schema" --meta "tables=$tables" \
    --meta "schema_bytes=$(stat -c %s "$work/A.json")" --meta "edit=${edit_every[*]}" \
    --meta "expected_plan=$expected_line" "${meta[@]}" \
    --json "$work/part1.json"

# === 2. apply of the Pagila schema to an empty database ======================================
apply_status=skipped
if [[ ! -f "$pagila_src" ]]; then
    step "part 2: SKIPPED: no Pagila schema at $pagila_src"
    echo "SKIPPED: apply of the Pagila schema (no $pagila_src)"
else
    apply_status=ran
    pagila_src=$(cd "$(dirname "$pagila_src")" && pwd)/$(basename "$pagila_src")
    step "part 2: loading Pagila ($pagila_src), snapshot -> pagila.yaml, pg_dump -> pagila.sql"
    # The Pagila dump assigns ownership to the role postgres: the cluster's superuser.
    [[ "$BENCH_PGUSER" == postgres ]] || { echo "diff.sh: Pagila needs the role postgres" >&2; exit 1; }
    pagila_url=$(bench_createdb pagila)
    bench_psql -d pagila -f "$pagila_src" >/dev/null
    "$strata" snapshot "$pagila_url" -o "$work/pagila.yaml"
    "$pg_dump" --schema-only -f "$work/pagila.sql" "$pagila_url"
    pagila_tables=$(bench_psql -d pagila -At -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n
        ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")
    echo "Pagila: $pagila_tables tables (partitions included), pagila.yaml $(stat -c %s "$work/pagila.yaml") bytes," \
        "pagila.sql $(stat -c %s "$work/pagila.sql") bytes" >&2

    # Each run writes into a database created just before it (untimed, fresh_db_cmd).
    # Afterwards (untimed) the database is snapshotted and must equal pagila.yaml, for strata
    # and for the anchor alike.
    base=$BENCH_PG_URL_BASE
    same_schema() {
        local snap=$work/after_$1.yaml
        printf '%s snapshot %s -o %s && { cmp -s %s %s || { echo "the schema in %s differs from pagila.yaml:"; diff -u %s %s | head -n 40; exit 1; }; }' \
            "$(q "$strata")" "$(q "$base/$1")" "$(q "$snap")" "$(q "$work/pagila.yaml")" "$(q "$snap")" \
            "$1" "$(q "$work/pagila.yaml")" "$(q "$snap")"
    }
    step "part 2 timing: strata apply vs psql -f pagila.sql, $rounds alternating rounds (+1 warm-up)"
    python3 "$here/lib/measure.py" \
        --rounds "$rounds" --anchor psql --server-pid "$BENCH_POSTMASTER_PID" \
        --contender "strata=$strata apply $work/pagila.yaml --to $base/apply_strata --yes" \
        --before "strata=$(fresh_db_cmd apply_strata)" --after "strata=$(same_schema apply_strata)" \
        --contender "psql=$psql -X -q -v ON_ERROR_STOP=1 -f $work/pagila.sql $base/apply_psql" \
        --before "psql=$(fresh_db_cmd apply_psql)" --after "psql=$(same_schema apply_psql)" \
        --meta "benchmark=apply" --meta "dataset=pagila" --meta "pagila_tables=$pagila_tables" \
        --meta "pagila_source=$pagila_src" --meta "psql=$("$psql" --version)" \
        --meta "pg_dump=$("$pg_dump" --version)" "${meta[@]}" \
        --json "$work/part2.json"
fi

# === results =================================================================================
mkdir -p "$results_dir"
results=$results_dir/diff-$stamp.json
python3 - "$work/part1.json" "$work/part2.json" "$apply_status" "$pagila_src" "$results" \
    "$plan_target_ms" "$tables" "$tiny" <<'PY'
import json, os, sys
part1, part2, status, pagila, out, target, tables, tiny = sys.argv[1:]
target = float(target)
d = json.load(open(part1))
doc = {"benchmark": "diff", "meta": {k: v for k, v in d["meta"].items()
                                     if k not in ("benchmark", "dataset")},
       "diff": d}
if status == "ran":
    doc["apply"] = json.load(open(part2))
else:
    doc["apply"] = {"skipped": f"no Pagila schema at {pagila}"}
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")

changed = d["contenders"]["diff_changed"]
same = d["contenders"]["diff_identical"]
planned = changed["median_metrics"]["planned_ms"]
verdict = "met" if planned <= target else "NOT met"
scope = "" if tables == "2000" else f" (the target is stated for 2000 tables; this run has {tables})"
print(f"\ntarget: strata diff plans 2000 tables in <= {target:.0f} ms -> {verdict}{scope} "
      f"(planned median {planned:.1f} ms; identical schemas {same['median_metrics']['planned_ms']:.1f} ms; "
      f"wall median {changed['median']['wall_s'] * 1e3:.0f} ms incl. reading both files)")
if changed["deterministic_output"] is False:
    print("WARNING: strata diff printed different plans for the same two files between rounds")
if status == "ran":
    c = doc["apply"]["contenders"]
    print(f"apply: strata/psql = {c['strata']['wall_ratio_to_anchor']:.2f}x "
          f"(strata {c['strata']['median']['wall_s']:.3f} s, psql {c['psql']['median']['wall_s']:.3f} s; "
          "both produced exactly the schema of pagila.yaml in every round)")
else:
    print("apply: SKIPPED (no Pagila schema)")
if tiny == "1":
    print("(tiny mode: a smoke run; the timings are not meaningful)")
PY
echo "results: $results"
