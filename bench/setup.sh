#!/usr/bin/env bash
# Installs what the benchmarks need beyond Python 3 and cargo: the PostgreSQL server binaries
# and restic, the backup tool that bench/backup.sh compares Strata with (Debian's package,
# 0.14), both through scripts/setup-test-env.sh, as the tests do. Safe to run repeatedly.
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
    exec "$here/../scripts/setup-test-env.sh"
fi
exec "$here/../scripts/setup-test-env.sh" restic
