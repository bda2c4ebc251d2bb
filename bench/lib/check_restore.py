#!/usr/bin/env python3
"""Row counts (and keys/indexes) of a database, to check a restore against its source.

    check_restore.py --psql PSQL --url URL --write EXPECT.json [--require T ...]
    check_restore.py --psql PSQL --url URL --expect EXPECT.json [--label NAME]

With --write, counts the rows of every user table of the database at URL (exact count(*), not
statistics) and its indexes and constraints by kind, and writes them as JSON; each --require'd
table (schema.name) must exist. With --expect, counts the database at URL the same way and fails
(exit 1, with the differences) unless every table has exactly the expected rows and the
database has the same indexes and constraints. Quiet on success: it runs after every timed
restore.
"""

import argparse
import json
import subprocess
import sys

CATALOG = """
SELECT json_build_object(
  'tables', (SELECT coalesce(json_agg(format('%I.%I', n.nspname, c.relname) ORDER BY 1), '[]')
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'),
  'indexes', (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg_toast%'),
  'constraints', (SELECT coalesce(json_object_agg(contype, n), '{}') FROM (
                  SELECT k.contype, count(*) AS n FROM pg_constraint k
                  JOIN pg_namespace n ON n.oid = k.connamespace
                  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                  GROUP BY k.contype) s))
"""


def psql(args, sql):
    proc = subprocess.run([args.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", args.url,
                           "-c", sql], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"check_restore.py: psql failed on {args.url}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def ident_literal(name):
    return "'" + name.replace("'", "''") + "'"


def counts(args):
    doc = json.loads(psql(args, CATALOG))
    tables = doc.pop("tables")
    rows = {}
    if tables:
        sql = " UNION ALL ".join(f"SELECT {ident_literal(t)}, count(*) FROM {t}" for t in tables)
        for line in psql(args, sql).splitlines():
            name, n = line.rsplit("|", 1)
            rows[name] = int(n)
    doc["rows"] = rows
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--psql", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--write")
    ap.add_argument("--expect")
    ap.add_argument("--require", action="append", default=[])
    ap.add_argument("--label", default="the restored database")
    args = ap.parse_args()
    if bool(args.write) == bool(args.expect):
        sys.exit("check_restore.py: exactly one of --write and --expect")
    got = counts(args)
    if args.write:
        missing = [t for t in args.require if t not in got["rows"]]
        if missing:
            sys.exit(f"check_restore.py: {args.url} has no table {', '.join(missing)}")
        with open(args.write, "w") as f:
            json.dump(got, f, indent=2, sort_keys=True)
            f.write("\n")
        return
    with open(args.expect) as f:
        want = json.load(f)
    problems = []
    for t in sorted(set(want["rows"]) | set(got["rows"])):
        w, g = want["rows"].get(t), got["rows"].get(t)
        if w != g:
            problems.append(f"{t}: {g if g is not None else 'missing'} rows, expected "
                            f"{w if w is not None else 'no such table'}")
    if got["indexes"] != want["indexes"]:
        problems.append(f"{got['indexes']} indexes, expected {want['indexes']}")
    if got["constraints"] != want["constraints"]:
        problems.append(f"constraints by kind {got['constraints']}, expected {want['constraints']}")
    if problems:
        print(f"check_restore.py: {args.label} ({args.url}) does not match the source:",
              file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
