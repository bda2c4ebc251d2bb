#!/usr/bin/env bash
# Installs what the benchmarks need beyond Python 3 and cargo: the PostgreSQL server binaries
# (through scripts/setup-test-env.sh, as the tests do) and restic, the backup tool that
# bench/backup.sh compares Strata with (Debian's package, 0.14). Safe to run repeatedly.
#
#   bench/setup.sh            # PostgreSQL and restic
#   bench/setup.sh restic     # restic only
#
# Exit status: 0 when everything asked for is installed, 2 otherwise (with the reason on
# stderr). bench/backup.sh calls `bench/setup.sh restic` and, when it fails, runs without the
# restic contenders and says so.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

what=${1:-all}
case $what in
all | restic) ;;
*) echo "usage: bench/setup.sh [restic]" >&2; exit 2 ;;
esac

if [[ $what == all ]]; then
    "$here/../scripts/setup-test-env.sh"
fi

if command -v restic >/dev/null 2>&1; then
    echo "setup: $(restic version | head -n 1)" >&2
    exit 0
fi
if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: restic is missing and cannot be installed here (needs apt-get as root);" \
        "install it (Debian: sudo apt-get install restic)" >&2
    exit 2
fi
echo "setup: installing restic with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# Try the package lists already present first: `apt-get update` is the slow part.
if ! apt-get install -y -qq restic >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    if ! apt-get install -y -qq restic >/dev/null 2>&1; then
        echo "setup: apt-get could not install restic (no network or no such package?)" >&2
        exit 2
    fi
fi
echo "setup: $(restic version | head -n 1)" >&2
