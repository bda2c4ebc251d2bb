#!/bin/sh
# Rebuilds examples/quickstart/shop.db from shop.sql (no sqlite3 tool needed).
set -eu
cd "$(dirname "$0")/../.."
cargo run --quiet --example build_quickstart_db
