#!/usr/bin/env python3
"""Checks what `strata backup` says it stored against the source's row counts.

    check_backup.py EXPECT.json SUMMARY.json

EXPECT.json comes from `check_restore.py --write` on the source database. SUMMARY.json is
either the summary `strata backup --json` printed (an object) or `strata list --json` of a
repository holding exactly one backup (a list of one). The backup must be `complete`, cover
as many tables as the source has, and hold exactly as many rows. Quiet on success; exit 1 with
the difference otherwise.
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("expect")
    ap.add_argument("summary")
    args = ap.parse_args()
    with open(args.expect) as f:
        want = json.load(f)["rows"]
    with open(args.summary) if args.summary != "-" else sys.stdin as f:
        doc = json.load(f)
    if isinstance(doc, list):
        if len(doc) != 1:
            sys.exit(f"check_backup.py: expected a repository with one backup, it lists {len(doc)}")
        doc = doc[0]
    problems = []
    if doc.get("kind") != "complete":
        problems.append(f"kind {doc.get('kind')!r}, expected 'complete'")
    if doc.get("tables") != len(want):
        problems.append(f"{doc.get('tables')} tables, the source has {len(want)}")
    if doc.get("rows") != sum(want.values()):
        problems.append(f"{doc.get('rows')} rows, the source has {sum(want.values())}")
    if problems:
        print(f"check_backup.py: backup {doc.get('id', '?')} does not match the source:",
              file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
