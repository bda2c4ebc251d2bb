#!/usr/bin/env bash
# The whole benchmark suite in one command (see bench/README.md): bench/snapshot.sh,
# bench/diff.sh and bench/backup.sh --dataset app, one after the other, each in its own
# throwaway cluster, then one table with every target of issue 7 from this run.
#
#   bench/all.sh [--size-mb N] [--tiny] [--no-build] [--results-dir DIR]
#
# Exit status: the first failing script's (a failed build, cluster, load, contender or
# correctness check); never because of timings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$here/lib/common.sh"

usage() {
    cat <<'EOF2'
usage: bench/all.sh [options]
  --size-mb N        size of the `app` database for bench/backup.sh (default 200: the whole
                     suite in about 8 minutes on 2 cores; bench/backup.sh alone defaults to 2000)
  --tiny             every script's smoke run (CI; timings meaningless)
  --no-build         do not run `cargo build --release` (use $STRATA_BIN or target/release)
  --results-dir DIR  where the JSON results go (default bench/results)
EOF2
}

size_mb=200
tiny=()
build=1
results_dir=$here/results
while [[ $# -gt 0 ]]; do
    case $1 in
    --size-mb) size_mb=${2:?--size-mb needs a number}; shift 2 ;;
    --tiny) tiny=(--tiny); shift ;;
    --no-build) build=0; shift ;;
    --results-dir) results_dir=${2:?--results-dir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "all.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

bench_strata "$build" # once, for every script
bench_workdir
export STRATA_BIN=$strata
run=(--no-build --results-dir "$work/results")
"$here/snapshot.sh" "${tiny[@]}" "${run[@]}"
"$here/diff.sh" "${tiny[@]}" "${run[@]}"
"$here/backup.sh" --dataset app --size-mb "$size_mb" "${tiny[@]}" "${run[@]}"

python3 "$here/lib/suite_report.py" "$work/results"
mkdir -p "$results_dir"
mv "$work"/results/*.json "$results_dir/"
echo "results: $results_dir"
