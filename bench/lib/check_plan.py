#!/usr/bin/env python3
"""Checks the text plan `strata diff` printed against the plan an edit calls for.

    check_plan.py PLAN.txt EXPECT.json     # EXPECT.json from bench/datasets/wide_schema_edit.py
    check_plan.py PLAN.txt --no-changes    # diff of a schema with itself

With EXPECT.json, the first line must be exactly its `first_line`
(`-- Plan: N step(s): +a columns, ~b tables, …`) and the plan must number exactly N steps
(`-- 1. …`, `-- 2. …`). With --no-changes, the plan must be the single "No changes" line.
Quiet on success (it runs after every timed round); exits 1 with the difference otherwise.
"""

import json
import re
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        text = f.read()
    lines = text.splitlines()
    first = lines[0] if lines else ""
    problems = []
    if sys.argv[2] == "--no-changes":
        if not first.startswith("-- No changes") or len(lines) != 1:
            problems.append(f"expected the single line '-- No changes: …', got {len(lines)} "
                            f"line(s) starting with {first!r}")
    else:
        with open(sys.argv[2]) as f:
            expect = json.load(f)
        if first != expect["first_line"]:
            problems.append(f"first line\n    got:      {first}\n    expected: {expect['first_line']}")
        numbered = [int(m.group(1)) for m in re.finditer(r"^-- (\d+)\. ", text, re.M)]
        if numbered != list(range(1, expect["steps"] + 1)):
            problems.append(f"the plan numbers {len(numbered)} step(s), expected {expect['steps']}")
    if problems:
        print(f"check_plan.py: {sys.argv[1]}: the plan is not the expected one:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
