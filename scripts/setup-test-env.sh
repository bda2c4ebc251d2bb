#!/usr/bin/env bash
# Installs what the test suite needs and is not part of Cargo: PostgreSQL server binaries
# (initdb, postgres, psql, pg_dump) for the throwaway test clusters, the S3-compatible test server
# (moto, from PyPI, in a virtual environment) and the Azure Storage test server (Azurite, from
# npm), both cached under $STRATA_TEST_CACHE, default ~/.cache/strata-test (tests/support/s3.rs
# and tests/support/azure.rs start them), and restic (Debian's package, 0.14), the reference for
# the retention rules (tests/prune_restic.rs) and a contender in the benchmarks. Safe to run
# repeatedly: what is there is kept, so a rerun takes a moment.
#
#   scripts/setup-test-env.sh            # everything
#   scripts/setup-test-env.sh restic     # restic only (bench/setup.sh uses this)
#
# Exit status: 0 when everything asked for is installed, 2 otherwise (with the reason on stderr).
set -euo pipefail

what=${1:-all}
case $what in
all | restic) ;;
*) echo "usage: scripts/setup-test-env.sh [restic]" >&2; exit 2 ;;
esac

# Keep in step with MOTO_VERSION in tests/support/s3.rs (the environment is named after it).
moto_version=5.2.5
cache=${STRATA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/strata-test}
moto_venv=$cache/moto-$moto_version
# Keep in step with AZURITE_VERSION in tests/support/azure.rs.
azurite_version=3.35.0
azurite_dir=$cache/azurite-$azurite_version

setup_s3_server() {
    if "$moto_venv/bin/python" -c 'import moto, boto3' >/dev/null 2>&1; then
        echo "setup: S3 test server (moto $moto_version) found in $moto_venv"
        return
    fi
    command -v python3 >/dev/null 2>&1 || {
        echo "setup: python3 is missing; the S3 test server (moto) needs it (Debian: apt-get install python3 python3-venv)" >&2
        exit 2
    }
    echo "setup: installing the S3 test server (moto[server] $moto_version) into $moto_venv"
    rm -rf "$moto_venv"
    mkdir -p "$cache"
    python3 -m venv "$moto_venv" || {
        echo "setup: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
        exit 2
    }
    "$moto_venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version" || {
        rm -rf "$moto_venv"
        echo "setup: installing moto[server]==$moto_version from PyPI failed; the S3 tests cannot run without it" >&2
        exit 2
    }
    echo "setup: S3 test server ready in $moto_venv"
}

setup_azure_server() {
    local blob_service=$azurite_dir/node_modules/azurite/dist/src/blob/main.js
    if [ -f "$blob_service" ]; then
        echo "setup: Azure test server (Azurite $azurite_version) found in $azurite_dir"
        return
    fi
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
        echo "setup: node and npm are missing; the Azure test server (Azurite) needs them (Debian: apt-get install nodejs npm)" >&2
        exit 2
    }
    echo "setup: installing the Azure test server (azurite $azurite_version from npm) into $azurite_dir"
    rm -rf "$azurite_dir"
    mkdir -p "$azurite_dir"
    npm install --prefix "$azurite_dir" --no-audit --no-fund --silent "azurite@$azurite_version" || {
        rm -rf "$azurite_dir"
        echo "setup: installing azurite@$azurite_version from npm failed; the Azure tests cannot run without it" >&2
        exit 2
    }
    echo "setup: Azure test server ready in $azurite_dir"
}

setup_restic() {
    if command -v restic >/dev/null 2>&1; then
        echo "setup: $(restic version | head -n 1)" >&2
        return
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
}

setup_restic
if [[ $what == restic ]]; then
    exit 0
fi
setup_s3_server
setup_azure_server

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
