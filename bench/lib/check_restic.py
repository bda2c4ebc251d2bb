#!/usr/bin/env python3
"""Checks what `pg_dump -Fp | restic backup --stdin --json` says it stored.

    check_restic.py SUMMARY.json MIN_BYTES

SUMMARY.json is restic's stdout (JSON lines; with --quiet only the summary). The summary must
name a snapshot, and restic must have read at least MIN_BYTES from the pipe: the caller passes
the size of the COPY text of every table, which a complete plain dump contains, so a dump that
stopped early (or a pipe that broke) cannot pass for a backup. Quiet on success; exit 1
otherwise.
"""

import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check_restic.py SUMMARY.json MIN_BYTES")
    path, min_bytes = sys.argv[1], int(sys.argv[2])
    summary = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                doc = json.loads(line)
                if doc.get("message_type") == "summary":
                    summary = doc
    if summary is None:
        sys.exit(f"check_restic.py: no summary line in {path}")
    if not summary.get("snapshot_id"):
        sys.exit(f"check_restic.py: restic's summary names no snapshot: {summary}")
    read = summary.get("total_bytes_processed", 0)
    if read < min_bytes:
        sys.exit(f"check_restic.py: restic read {read} bytes of pg_dump output, "
                 f"less than the {min_bytes} bytes of COPY text a complete dump holds")


if __name__ == "__main__":
    main()
