#!/usr/bin/env python3
"""Checks a `strata snapshot --format json` file against counts from the catalog.

    check_snapshot.py SNAPSHOT.json EXPECTED.json

EXPECTED.json is an object of counts (any subset of the keys below), computed independently
of Strata, straight from the catalog (bench/snapshot.sh asks psql) or from the dataset
generator. Prints one line per count and exits 1 if any differs.
"""

import json
import sys


def actual_counts(snap):
    tables = snap.get("tables", [])
    constraints = [c for t in tables for c in t.get("constraints", [])]
    by_kind = lambda k: sum(1 for c in constraints if c.get("kind") == k)
    return {
        "tables": len(tables),
        "views": len(snap.get("views", [])),
        "columns": sum(len(t.get("columns", [])) for t in tables),
        "primary_keys": by_kind("primary_key"),
        "unique_constraints": by_kind("unique"),
        "check_constraints": by_kind("check"),
        "foreign_keys": by_kind("foreign_key"),
        # indexes that are not the backing index of a PK/unique/exclusion constraint
        "indexes": sum(len(t.get("indexes", [])) for t in tables),
        "triggers": sum(len(t.get("triggers", [])) for t in tables),
        "table_comments": sum(1 for t in tables if t.get("comment")),
        "column_comments": sum(1 for t in tables for c in t.get("columns", []) if c.get("comment")),
        "functions": len(snap.get("functions", [])),
        "enums": len(snap.get("enums", [])),
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        snap = json.load(f)
    with open(sys.argv[2]) as f:
        expected = json.load(f)
    actual = actual_counts(snap)
    bad = 0
    for key, want in expected.items():
        got = actual.get(key)
        ok = got == want
        bad += not ok
        print(f"  {'ok ' if ok else 'BAD'} {key:<20} expected {want:>7}  strata {got if got is not None else '-':>7}")
    if bad:
        print(f"check_snapshot.py: {bad} count(s) differ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
