#!/usr/bin/env python3
"""One table of every target of issue 7, from the results of one bench/all.sh run.

    suite_report.py DIR

DIR holds the JSON results that bench/snapshot.sh, bench/diff.sh and bench/backup.sh wrote in
this run (one of each). Prints, per target: what was measured, the verdict (met / NOT met /
not measured), and the machine with its load average, so the figures can be read in context.
Writes nothing; the scripts' own JSON files hold every sample.
"""

import glob
import json
import os
import sys

from measure import print_table


def one(directory, prefix):
    paths = sorted(glob.glob(os.path.join(directory, f"{prefix}-*.json")))
    if len(paths) != 1:
        sys.exit(f"suite_report.py: expected one {prefix}-*.json in {directory}, found {len(paths)}")
    with open(paths[0]) as f:
        return json.load(f)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: suite_report.py DIR")
    directory = sys.argv[1]
    snap, diff, backup = (one(directory, p) for p in ("snapshot", "diff", "backup"))
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    rows = []
    s = snap["contenders"]
    ratio = s["strata"]["wall_ratio_to_anchor"]
    rows.append((f"snapshot of wide-schema ({snap['meta']['tables']} tables) <= 0.5x "
                 "pg_dump --schema-only",
                 f"{ratio:.2f}x ({s['strata']['median']['wall_s']:.2f} s vs "
                 f"{s['pg_dump']['median']['wall_s']:.2f} s)", verdict[ratio <= 0.5]))
    planned = diff["diff"]["contenders"]["diff_changed"]["median_metrics"]["planned_ms"]
    rows.append((f"diff of two wide schemas ({diff['meta']['tables']} tables): planning "
                 "<= 100 ms", f"{planned:.1f} ms", verdict[planned <= 100]))
    if "contenders" in diff["apply"]:
        a = diff["apply"]["contenders"]
        rows.append(("apply of Pagila to an empty database vs psql -f of its dump (no target)",
                     f"{a['strata']['wall_ratio_to_anchor']:.2f}x", "-"))
    for t in backup["targets"]:
        rows.append((f"{t['target']} ({backup['meta']['dataset']})", t["value"],
                     verdict[t["met"]]))
    m = backup["meta"]
    print(f"\n### every target of issue 7, one run ({m['utc']})")
    print_table(["target", "measured", "verdict"], rows)
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {int(m['memory_kib']) // 1048576} GiB, "
          f"{m['postgres'].split(' on ')[0]}; load average {snap['meta']['loadavg_start']} at the "
          f"start, {m['loadavg_end']} at the end")


if __name__ == "__main__":
    main()
