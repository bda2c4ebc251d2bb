#!/usr/bin/env bash
# Sanitized restore benchmark (see bench/README.md): the same backup restored plain (the anchor)
# and with `--sanitize` (emails, names, phones, a JSON path and dates faked or moved, amounts
# moved), alternating rounds in one throwaway cluster. The target (issue 9): sanitized wall
# time <= 1.5x the plain restore's.
#
#   bench/sanitize.sh [--users N] [--rounds R] [--tiny] [--no-build] [--results-dir DIR]
#
# Exit status: non-zero if the build, the cluster, the load, a restore, or a check (row counts
# after every run; no original email left after a sanitized one) fails. Never because of
# timings.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/sanitize.sh [options]
  --users N          rows of the users table (orders: twice as many; default 1000000)
  --rounds R         timed rounds per contender, alternating, at least 3 (default 5)
  --tiny             smoke run: 20000 users, 3 rounds (CI; timings meaningless)
  --no-build         do not run `cargo build --release` (use $STRATA_BIN or target/release)
  --results-dir DIR  where the JSON results go (default bench/results)
EOF
}

users=1000000
rounds=5
tiny=0
build=1
jobs=2
results_dir=$here/results
while [[ $# -gt 0 ]]; do
    case $1 in
    --users) users=${2:?--users needs a number}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --tiny) tiny=1; users=20000; rounds=3; shift ;;
    --no-build) build=0; shift ;;
    --results-dir) results_dir=${2:?--results-dir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "sanitize.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$users" =~ ^[1-9][0-9]*$ ]] || { echo "sanitize.sh: --users must be a positive integer" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 3 ]] || { echo "sanitize.sh: --rounds must be an integer >= 3" >&2; exit 2; }

step() { printf '\n== %s\n' "$*" >&2; }
q() { printf '%q' "$1"; }
sq() { local s=${1//\'/\'\"\'\"\'}; printf "'%s'" "$s"; }
unset PGOPTIONS PGSERVICE PGSERVICEFILE PGSSLMODE PGAPPNAME PGTARGETSESSIONATTRS
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSFILE STRATA_TIMINGS
# The repository is encrypted (as `strata init` makes it): the same for both contenders.
unset STRATA_PASSWORD_FILE STRATA_PASSWORD_COMMAND STRATA_TEST_INSECURE_KDF STRATA_SANITIZE_KEY
export STRATA_PASSWORD=strata-bench-passphrase

target_dir=${CARGO_TARGET_DIR:-$repo/target}
strata=${STRATA_BIN:-$target_dir/release/strata}
if [[ $build == 1 && -z "${STRATA_BIN:-}" ]]; then
    step "cargo build --release"
    (cd "$repo" && cargo build --release --quiet)
fi
[[ -x "$strata" ]] || { echo "sanitize.sh: no strata binary at $strata" >&2; exit 1; }

# shellcheck source=lib/cluster.sh
source "$here/lib/cluster.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-sanitize.XXXXXX")
bench_on_exit rm -rf "$work"
step "starting a throwaway PostgreSQL cluster"
bench_cluster_start -c autovacuum=off -c max_wal_size=4GB -c checkpoint_timeout=1h
psql=$BENCH_PG_BINDIR/psql
base=$BENCH_PG_URL_BASE
url=$(bench_createdb src)

step "loading the dataset: $users users, $((2 * users)) orders"
bench_psql -d src -v ON_ERROR_STOP=1 -v users="$users" <<'SQL'
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL UNIQUE,
    first_name text NOT NULL,
    last_name text NOT NULL,
    phone text,
    birth_date date,
    created_at timestamptz NOT NULL,
    profile jsonb,
    bio text
);
INSERT INTO users
SELECT i, 'user' || i || '@mail.example.org', 'First' || (i % 1000), 'Last' || (i % 5000),
       '+1 (555) ' || lpad((i % 10000000)::text, 7, '0'), date '1960-01-01' + i % 20000,
       timestamptz '2020-01-01' + (i || ' seconds')::interval,
       jsonb_build_object('phone', '555-' || i, 'city', 'City' || (i % 300), 'visits', i % 50),
       repeat('lorem ipsum dolor sit amet ', 4)
FROM generate_series(1, :users) AS i;
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    amount numeric(10,2) NOT NULL CHECK (amount >= 0),
    placed_at timestamptz NOT NULL,
    status text NOT NULL
);
INSERT INTO orders
SELECT i, 1 + i % :users, (i % 10000) / 100.0, timestamptz '2023-01-01' + (i || ' seconds')::interval,
       CASE WHEN i % 3 = 0 THEN 'shipped' ELSE 'new' END
FROM generate_series(1, 2 * :users) AS i;
VACUUM ANALYZE;
CHECKPOINT;
SQL

cat >"$work/sanitize.toml" <<'EOF'
[tables.users.columns]
email = { fake = "email" }
first_name = { fake = "first_name" }
last_name = { fake = "last_name" }
phone = { fake = "phone" }
birth_date = { range = "60 days" }
profile = { json = { "$.phone" = { fake = "phone" } } }

[tables.orders.columns]
amount = { range = 5 }
EOF
key_file=$work/sanitize.key
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key_file"

step "reference backup (untimed)"
"$strata" init "$work/repo" >/dev/null
backup_id=$("$strata" backup "$url" --repo "$work/repo" --jobs "$jobs" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

fresh_db() {
    printf '%s -X -q -v ON_ERROR_STOP=1 -d %s -c %s -c %s -c CHECKPOINT' "$(q "$psql")" \
        "$(q "$base/postgres")" "$(q "DROP DATABASE IF EXISTS $1")" "$(q "CREATE DATABASE $1")"
}
# After every run (untimed): the row counts; after a sanitized one, no original email is left.
check() {
    printf '[ "$(%s -X -At -d %s -c %s)" = %s ]' "$(q "$psql")" "$(q "$base/$1")" \
        "$(q "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM orders) || '/' || (SELECT count(*) FROM users WHERE email LIKE 'user%@mail.example.org')")" \
        "$(q "$users/$((2 * users))/$2")"
}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
git_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$repo" status --porcelain 2>/dev/null | head -1)" ]]; then git_rev+="-dirty"; fi
step "plain vs sanitized restore, $rounds alternating rounds (+1 warm-up)"
echo "### restore of $users users and $((2 * users)) orders: plain vs --sanitize"
python3 "$here/lib/measure.py" \
    --rounds "$rounds" --anchor plain --server-pid "$BENCH_POSTMASTER_PID" \
    --contender "plain=$(sq "$strata") restore $backup_id --repo $(sq "$work/repo") --to $(sq "$base/r_plain") --jobs $jobs" \
    --before "plain=$(fresh_db r_plain)" --after "plain=$(check r_plain "$users")" \
    --contender "sanitized=$(sq "$strata") restore $backup_id --repo $(sq "$work/repo") --to $(sq "$base/r_sanitized") --jobs $jobs --sanitize $(sq "$work/sanitize.toml") --sanitize-key-file $(sq "$key_file")" \
    --before "sanitized=$(fresh_db r_sanitized)" --after "sanitized=$(check r_sanitized 0)" \
    --meta "benchmark=sanitize" --meta "users=$users" --meta "tiny=$tiny" --meta "utc=$stamp" \
    --meta "jobs=$jobs" --meta "nproc=$(nproc)" --meta "strata_git=$git_rev" \
    --meta "postgres=$(bench_psql -d postgres -At -c 'SELECT version()')" \
    --json "$work/sanitize.json"

mkdir -p "$results_dir"
results=$results_dir/sanitize-$stamp.json
python3 - "$work/sanitize.json" "$results" "$tiny" <<'PY'
import json, sys
src, out, tiny = sys.argv[1:]
doc = json.load(open(src))
ratio = doc["contenders"]["sanitized"]["wall_ratio_to_anchor"]
met = ratio <= 1.5
print(f"target: sanitized restore wall <= 1.5x the plain restore -> {'met' if met else 'NOT met'} ({ratio:.2f}x)")
if tiny == "1":
    print("(tiny mode: a smoke run; the timings are not meaningful)")
doc["targets"] = [{"target": "sanitized restore wall <= 1.5x plain", "met": met, "value": f"{ratio:.2f}x"}]
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
PY
echo "results: $results"
