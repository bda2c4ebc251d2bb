#!/usr/bin/env python3
"""Where did a client's time go on the server? Summarises a PostgreSQL log written with
log_min_duration_statement = 0.

    pglog_profile.py SERVER_LOG [--from-byte N] [--top K] [--label NAME]

Reads the log from byte N (the log's size before the client ran), collects every
"duration: X ms  <phase>: <statement>" entry (simple protocol: `statement`; extended protocol:
`parse`, `bind`, `execute`; bare "duration:" lines for extended phases without text are
attributed to the statement the same backend logged before), groups the phases by statement
text and prints the K most expensive statements with their share of the total server time.
"""

import argparse
import re
from collections import defaultdict

ENTRY = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  duration: ([\d.]+) ms(?:  (statement|parse|bind|execute)( [^:]*)?: (.*))?$")
PREFIX = re.compile(r"^\d{4}-\d\d-\d\d ")


def entries(lines):
    """Yields (pid, ms, phase, statement text) with multi-line statements joined."""
    current = None
    for line in lines:
        if not PREFIX.match(line):  # continuation of the previous statement
            if current and current[3] is not None:
                current[3] += " " + line.strip()
            continue
        if current:
            yield current
        m = ENTRY.match(line.rstrip("\n"))
        current = [m.group(1), float(m.group(2)), m.group(3), m.group(5)] if m else None
    if current:
        yield current


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--from-byte", type=int, default=0)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--label", default="client")
    args = ap.parse_args()
    with open(args.log, "rb") as f:
        f.seek(args.from_byte)
        lines = f.read().decode(errors="replace").splitlines()

    per_stmt = defaultdict(lambda: [0.0, 0])  # text -> [ms, executions]
    last_text = {}
    total = 0.0
    for pid, ms, phase, text in entries(lines):
        if text is None:
            text = last_text.get(pid, "(unknown)")
        text = " ".join(text.split())
        last_text[pid] = text
        total += ms
        per_stmt[text][0] += ms
        if phase in ("statement", "execute"):
            per_stmt[text][1] += 1

    execs = sum(n for _, n in per_stmt.values())
    print(f"{args.label}: {execs} statements executed, {len(per_stmt)} distinct, "
          f"{total:.1f} ms total on the server")
    for text, (ms, n) in sorted(per_stmt.items(), key=lambda kv: -kv[1][0])[: args.top]:
        share = 100 * ms / total if total else 0
        short = text if len(text) <= 110 else text[:107] + "..."
        print(f"  {ms:9.1f} ms {share:5.1f}%  x{n:<5} {short}")


if __name__ == "__main__":
    main()
