#!/usr/bin/env python3
"""Derives schema B from a `strata snapshot --format json` of the wide schema (schema A), for
the diff benchmark (bench/diff.sh), and says which plan `strata diff A B` must print.

    wide_schema_edit.py A.json B.json [--expect EXPECT.json]
        [--comment-every 50] [--column-every 100] [--retype-every 400] [--drop-index-every 400]

The edit is deterministic (a pure function of A and the options). For the table wide.tNNNN
with number i:
  * i % comment-every == 0: the table's comment is changed;
  * i % column-every == 0: a new `text` column `bench_note` is appended;
  * i % retype-every == 0: the table's first `text` column (`code`) becomes
    `character varying(200)`;
  * i % drop-index-every == 0: the table's last (secondary) index is removed.

EXPECT.json holds the plan this edit calls for, derived from the edit and from A alone (not
from Strata), following the rules of docs/PLAN.md:
  * a changed comment: one step (`~table`, a comment counts as a change of its object);
  * a new column: one step (`+column`);
  * a retyped column: one step (`~column`), and what reads the table is recreated around the
    change: each view over the table (drop + create, `~view`, plus one step to recreate the
    view's comment, which the summary counts as another changed view); constraints and
    indexes on the column get no step (ALTER COLUMN ... TYPE rebuilds them itself);
  * a removed index: one step (`-index`).
This is what the planner does today; if that changes, EXPECT.json has to follow.
`first_line` is the exact summary line `strata diff` prints first (`-- Plan: N step(s): …`).
"""

import argparse
import json
import re
import sys
from collections import defaultdict

NEW_COLUMN = "bench_note"
NEW_TYPE = "character varying(200)"


def plural(kind, n):
    """The plural rule of src/diff/summary.rs."""
    if n == 1:
        return kind
    if kind == "index":
        return "indexes"
    if kind.endswith("x") or kind.endswith("s"):
        return kind + "es"
    return kind + "s"


def summary_line(added, changed, removed):
    parts = []
    for sign, counts in (("+", added), ("~", changed), ("-", removed)):
        for kind in sorted(counts):
            parts.append(f"{sign}{counts[kind]} {plural(kind, counts[kind])}")
    return ", ".join(parts) if parts else "no differences"


def table_number(table):
    m = re.fullmatch(r"t0*(\d+)", table["name"])
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--expect", help="write the expected plan summary here (JSON)")
    ap.add_argument("--comment-every", type=int, default=50)
    ap.add_argument("--column-every", type=int, default=100)
    ap.add_argument("--retype-every", type=int, default=400)
    ap.add_argument("--drop-index-every", type=int, default=400)
    args = ap.parse_args()
    for every in (args.comment_every, args.column_every, args.retype_every, args.drop_index_every):
        if every < 1:
            sys.exit("wide_schema_edit.py: the --*-every options must be at least 1")

    with open(args.a) as f:
        doc = json.load(f)

    steps = 0
    added, changed, removed = defaultdict(int), defaultdict(int), defaultdict(int)
    edits = defaultdict(int)
    retyped_tables = set()
    views_by_table = defaultdict(list)
    for view in doc.get("views", []):
        for dep in view.get("depends_on", []):
            views_by_table[dep].append(view)

    for table in doc.get("tables", []):
        i = table_number(table)
        if table.get("schema") != "wide" or i is None:
            continue
        qualified = f"{table['schema']}.{table['name']}"
        if i % args.comment_every == 0:
            table["comment"] = f"Benchmark table {i}, edited by wide_schema_edit.py"
            steps += 1
            changed["table"] += 1
            edits["comments_changed"] += 1
        if i % args.column_every == 0:
            table["columns"].append({"name": NEW_COLUMN, "type": "text"})
            steps += 1
            added["column"] += 1
            edits["columns_added"] += 1
        if i % args.drop_index_every == 0 and table.get("indexes"):
            table["indexes"].pop()
            steps += 1
            removed["index"] += 1
            edits["indexes_dropped"] += 1
        if i % args.retype_every == 0:
            column = next((c for c in table["columns"]
                           if c["type"] == "text" and c["name"] != NEW_COLUMN), None)
            if column is None:
                continue
            column["type"] = NEW_TYPE
            steps += 1
            changed["column"] += 1
            edits["columns_retyped"] += 1
            retyped_tables.add(qualified)
            # Constraints and indexes on the column get no step: ALTER COLUMN ... TYPE rebuilds
            # them itself.

    # Views over a retyped table are recreated (once, however many of their tables changed).
    recreated = {(v["schema"], v["name"]): v for t in sorted(retyped_tables) for v in views_by_table[t]}
    for view in recreated.values():
        steps += 2
        changed["view"] += 1
        if view.get("comment"):
            steps += 1
            changed["view"] += 1  # the comment is its own object, of kind view in the summary

    with open(args.b, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    summary = summary_line(added, changed, removed)
    expect = {
        "steps": steps,
        "summary": summary,
        "first_line": f"-- Plan: {steps} step(s): {summary}",
        "edits": dict(edits, views_recreated=len(recreated)),
    }
    if args.expect:
        with open(args.expect, "w") as f:
            json.dump(expect, f, indent=2)
            f.write("\n")
    print(json.dumps(expect))


if __name__ == "__main__":
    main()
