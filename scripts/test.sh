#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test (unit and integration,
# against throwaway PostgreSQL clusters the tests start themselves and SQLite files).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
cargo test --locked --all-targets "$@"
