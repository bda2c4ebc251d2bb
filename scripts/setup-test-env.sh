#!/usr/bin/env bash
# Installs what the test suite needs and is not part of Cargo: PostgreSQL server binaries
# (initdb, postgres, psql, pg_dump) for the throwaway test clusters. Safe to run repeatedly.
set -euo pipefail

have_server() {
    command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] \
        && [ -x "$(pg_config --bindir)/postgres" ] && [ -x "$(pg_config --bindir)/psql" ]
}

if have_server; then
    echo "setup: PostgreSQL server binaries found in $(pg_config --bindir)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: PostgreSQL server binaries are missing; install them (Debian: sudo apt-get install postgresql postgresql-contrib)" >&2
    exit 2
fi

echo "setup: installing PostgreSQL server binaries with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql postgresql-contrib >/dev/null
# The Debian package starts a system cluster; the tests never use it.
if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header 2>/dev/null | while read -r version name _; do
        pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
    done
fi
have_server || { echo "setup: PostgreSQL installed but pg_config --bindir lacks initdb/postgres" >&2; exit 2; }
echo "setup: PostgreSQL server binaries ready in $(pg_config --bindir)"
