#!/usr/bin/env python3
"""Runs benchmark contenders in alternating rounds and reports medians.

    measure.py --rounds 3 --anchor pg_dump \\
        --contender 'strata=strata snapshot URL -o /tmp/s.yaml' --output strata=/tmp/s.yaml \\
        --contender 'pg_dump=pg_dump --schema-only -f /tmp/p.sql URL' --output pg_dump=/tmp/p.sql \\
        [--server-pid PID] [--warmup 1] [--meta key=value ...] [--json results.json]

Each command is split with shlex and run without a shell: wall time is the monotonic clock
around fork..wait; user+sys CPU comes from wait4() (the kernel's numbers, microsecond
resolution, including any children the tool waited for); peak RSS comes from GNU time's %M.
Why GNU time for RSS: Linux carries the high-water RSS of a process's pre-exec image into
ru_maxrss, so a tool forked straight from Python would report at least Python's ~20 MiB.
/usr/bin/time is forked from us but forks the tool itself, and it is small. Its own CPU
(about a millisecond) is included in the CPU figure, equally for every contender. Without
/usr/bin/time, wait4's ru_maxrss is used and the JSON says so ("rss_source").

Rounds alternate the contenders (A B A B ...), so slow drift of the machine (thermal, page
cache, a neighbour's job) hits every contender alike; medians shrug off a single outlier.
An untimed warm-up round runs first (catalog and page caches warm for everyone).

With --server-pid (the postmaster), the CPU the *server* spent on the contender's behalf is
measured too: the postmaster's reaped-children CPU (cutime+cstime in /proc/PID/stat) grows by
exactly the CPU of each backend that exited. For catalog-heavy tools this is most of the cost,
and it is invisible in the client's own CPU time.

Any contender exiting non-zero aborts the run with exit status 1 (never a timing verdict).

Optional, per contender (all untimed except the command itself; used by bench/diff.sh):
  --stdout NAME=PATH          the command's stdout goes to PATH (instead of /dev/null) and is
                              recorded like an --output file (size, hash, determinism), unless
                              NAME also has an --output, which is then what is recorded
  --exit-ok NAME=CODES        exit statuses that count as success, comma-separated (default 0),
                              e.g. `strata diff` exits 1 when there are differences
  --before NAME=SHELLCMD      run by /bin/sh before every run of NAME (warm-up included), e.g.
                              create the fresh empty database the contender writes into;
                              a failure aborts. The server CPU of its backends is not counted.
  --after NAME=SHELLCMD       run by /bin/sh after every run of NAME: a correctness check;
                              a failure aborts
  --stderr-metric NAME=LABEL=REGEX
                              a number the tool reports about itself on stderr (the regex's
                              first group); its median is reported as column LABEL. A run
                              whose stderr does not match aborts.
  --stdout-metric NAME=LABEL=REGEX
                              the same, read from the --stdout file of NAME (e.g. a JSON
                              summary the tool prints); labels ending in _bytes print as bytes
  --growth NAME=BASE=PATH     after every run of NAME, the size of PATH (a file, or the sum
                              over a directory's files) minus BASE bytes, reported as the
                              metric `growth_bytes`: what a second backup added to a copy of a
                              repository of BASE bytes. PATH is neither hashed nor removed.
  --no-ratio                  leave the "wall ratio" column out of the table (no anchor)
An --output may be a directory (a repository, pg_dump -Fd): its size is the sum of the sizes
of the files under it (like `du -sb`), its hash covers every file's path and contents, and it
is removed before every run (so the --before hook or the tool itself creates it afresh).
Standard library only.
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def find_gnu_time():
    path = "/usr/bin/time"
    try:
        ok = subprocess.run([path, "-f", "%M", "true"], capture_output=True).returncode == 0
    except OSError:
        return None
    return path if ok else None


GNU_TIME = find_gnu_time()


def parse_pairs(values, what):
    pairs = {}
    for v in values or []:
        if "=" not in v:
            sys.exit(f"measure.py: {what} must be NAME=VALUE, got {v!r}")
        k, val = v.split("=", 1)
        pairs[k] = val
    return pairs


def server_children_cpu(pid):
    """cutime+cstime of the postmaster in seconds: CPU of all exited backends so far."""
    with open(f"/proc/{pid}/stat") as f:
        # Field 2 (comm) may contain spaces; split after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    # After the comm: fields[0] is state (field 3), so field N is fields[N - 3].
    cutime, cstime = int(fields[16 - 3]), int(fields[17 - 3])
    return (cutime + cstime) / CLK_TCK


def live_children(pid):
    """PIDs of the postmaster's current children (background workers + backends)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return set(f.read().split())
    except FileNotFoundError:
        return set()


def wait_backends_gone(pid, before, timeout=5.0):
    """Waits until the postmaster has reaped the backends the contender started, so their
    CPU shows up in cutime. `before` is the child set from before the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (live_children(pid) - before):
            return True
        time.sleep(0.01)
    return False


def sha256(path):
    h = hashlib.sha256()
    if os.path.isdir(path):
        # A directory: every file's relative path and contents, in sorted order.
        for rel in sorted(dir_files(path)):
            h.update(rel.encode() + b"\0" + sha256(os.path.join(path, rel)).encode())
        return h.hexdigest()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dir_files(path):
    """Paths (relative to path) of the regular files under a directory."""
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                yield os.path.relpath(full, path)


def output_size(path):
    """Bytes of a file, or the sum over the files under a directory (like `du -sb`)."""
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, rel)) for rel in dir_files(path))
    return os.path.getsize(path)


def run_hook(name, when, cmd):
    """An untimed shell command around a contender's run; a failure aborts the benchmark."""
    proc = subprocess.run(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        print(f"\nmeasure.py: the {when} command of {name!r} failed (exit {proc.returncode}):",
              file=sys.stderr)
        print(f"  command: {cmd}", file=sys.stderr)
        out = proc.stdout.decode(errors="replace").strip()
        if out:
            print("  " + out.replace("\n", "\n  "), file=sys.stderr)
        sys.exit(1)


def run_once(name, argv, output, server_pid, stdout_path=None, ok_codes=(0,), before=None,
             after=None, metrics=None, stdout_metrics=None, growth=None):
    if output and os.path.isdir(output) and not os.path.islink(output):
        shutil.rmtree(output)  # a stale directory must not pass for this run's output either
    elif output and os.path.exists(output):
        os.unlink(output)  # a stale file must not pass for this run's output
    if before:
        hook_children = live_children(server_pid) if server_pid else set()
        run_hook(name, "--before", before)
        # The hook's own backends must be gone (and reaped) before the server CPU baseline.
        if server_pid:
            wait_backends_gone(server_pid, hook_children)
    before_children = live_children(server_pid) if server_pid else set()
    server_cpu_before = server_children_cpu(server_pid) if server_pid else None
    start = time.monotonic()
    # stderr goes to a file, not a pipe: nobody reads a pipe while we block in wait4.
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        full = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv] if GNU_TIME else argv
        out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(full, stdout=out, stderr=err)
        finally:
            if stdout_path:
                out.close()
        # wait4 instead of proc.wait(): it hands back the child's rusage.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        # GNU time writes "Command exited with non-zero status N" first on failure.
        rss_lines = rss.read().split()
        peak_rss_kib = int(rss_lines[-1]) if GNU_TIME and rss_lines else usage.ru_maxrss
    if proc.returncode not in ok_codes:
        expected = "" if tuple(ok_codes) == (0,) else f", expected {'/'.join(map(str, ok_codes))}"
        print(f"\nmeasure.py: contender {name!r} failed (exit {proc.returncode}{expected}):",
              file=sys.stderr)
        print(f"  command: {shlex.join(argv)}", file=sys.stderr)
        print("  " + stderr.strip().replace("\n", "\n  "), file=sys.stderr)
        sys.exit(1)
    sample = {
        "wall_s": round(wall, 6),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 6),
        "user_s": round(usage.ru_utime, 6),
        "sys_s": round(usage.ru_stime, 6),
        "peak_rss_kib": peak_rss_kib,  # KiB
    }
    if server_pid:
        if not wait_backends_gone(server_pid, before_children):
            print(f"measure.py: warning: {name}'s backend had not exited after 5 s; "
                  "its server CPU is undercounted", file=sys.stderr)
        sample["server_cpu_s"] = round(server_children_cpu(server_pid) - server_cpu_before, 3)
    if output:
        if not os.path.exists(output):
            print(f"measure.py: contender {name!r} exited 0 but wrote no {output}", file=sys.stderr)
            sys.exit(1)
        sample["output_bytes"] = output_size(output)
        sample["output_sha256"] = sha256(output)
    if proc.returncode != 0:
        sample["exit"] = proc.returncode
    for label, regex in (metrics or {}).items():
        m = regex.search(stderr)
        if not m:
            print(f"measure.py: contender {name!r}: no {label} on stderr "
                  f"(pattern {regex.pattern!r}); stderr was:", file=sys.stderr)
            print("  " + stderr.strip().replace("\n", "\n  "), file=sys.stderr)
            sys.exit(1)
        sample.setdefault("metrics", {})[label] = float(m.group(1))
    if stdout_metrics:
        with open(stdout_path, errors="replace") as f:
            stdout = f.read()
        for label, regex in stdout_metrics.items():
            m = regex.search(stdout)
            if not m:
                print(f"measure.py: contender {name!r}: no {label} on stdout "
                      f"(pattern {regex.pattern!r}); stdout was:", file=sys.stderr)
                print("  " + stdout.strip()[:2000].replace("\n", "\n  "), file=sys.stderr)
                sys.exit(1)
            sample.setdefault("metrics", {})[label] = float(m.group(1))
    if growth:
        base, path = growth
        if not os.path.exists(path):
            print(f"measure.py: contender {name!r} exited 0 but left no {path}", file=sys.stderr)
            sys.exit(1)
        sample.setdefault("metrics", {})["growth_bytes"] = float(output_size(path) - base)
    if after:
        run_hook(name, "--after", after)
    return sample


def fmt_s(x):
    return "-" if x is None else f"{x:.3f} s"


def fmt_metric(label, x):
    if x is None:
        return "-"
    if label.endswith("_bytes"):
        return f"{x:,.0f}"
    return f"{x:.1f} ms" if label.endswith("_ms") else f"{x:g}"


def fmt_mib(kib):
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def print_table(header, rows):
    """Prints a Markdown table, every column padded to its widest cell."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contender", action="append", required=True, metavar="NAME=COMMAND",
                    help="repeatable; the first one listed runs first in every round")
    ap.add_argument("--output", action="append", metavar="NAME=PATH",
                    help="file a contender writes: its size and hash are recorded")
    ap.add_argument("--anchor", help="contender the ratios are relative to (default: the last)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    ap.add_argument("--server-pid", type=int, help="postmaster PID, to measure server CPU")
    ap.add_argument("--meta", action="append", metavar="KEY=VALUE", help="copied into the JSON")
    ap.add_argument("--json", metavar="PATH", help="write all samples and medians here")
    ap.add_argument("--stdout", action="append", metavar="NAME=PATH",
                    help="send a contender's stdout to PATH (recorded like --output)")
    ap.add_argument("--exit-ok", action="append", metavar="NAME=CODES",
                    help="exit statuses that count as success for NAME, e.g. 0,1 (default 0)")
    ap.add_argument("--before", action="append", metavar="NAME=SHELLCMD",
                    help="untimed /bin/sh command before every run of NAME; failure aborts")
    ap.add_argument("--after", action="append", metavar="NAME=SHELLCMD",
                    help="untimed /bin/sh command after every run of NAME (a check); failure aborts")
    ap.add_argument("--stderr-metric", action="append", metavar="NAME=LABEL=REGEX",
                    help="number (first regex group) the tool prints on stderr; median reported")
    ap.add_argument("--stdout-metric", action="append", metavar="NAME=LABEL=REGEX",
                    help="like --stderr-metric, from the --stdout file of NAME")
    ap.add_argument("--growth", action="append", metavar="NAME=BASE=PATH",
                    help="report the size of PATH minus BASE bytes after every run of NAME")
    ap.add_argument("--no-ratio", action="store_true", help="no wall-ratio column in the table")
    args = ap.parse_args()

    if args.rounds < 3:
        sys.exit("measure.py: --rounds must be at least 3 (a median of fewer is not a median)")
    contenders = parse_pairs(args.contender, "--contender")
    commands = {name: shlex.split(cmd) for name, cmd in contenders.items()}
    outputs = parse_pairs(args.output, "--output")
    stdouts = parse_pairs(args.stdout, "--stdout")
    outputs = {**stdouts, **outputs}  # a captured stdout is the output, unless --output says
    ok_codes = {name: tuple(int(c) for c in codes.split(","))
                for name, codes in parse_pairs(args.exit_ok, "--exit-ok").items()}
    befores = parse_pairs(args.before, "--before")
    afters = parse_pairs(args.after, "--after")
    metrics = {}
    for v in args.stderr_metric or []:
        if v.count("=") < 2:
            sys.exit(f"measure.py: --stderr-metric must be NAME=LABEL=REGEX, got {v!r}")
        name, label, regex = v.split("=", 2)
        metrics.setdefault(name, {})[label] = re.compile(regex)
    stdout_metrics = {}
    for v in args.stdout_metric or []:
        if v.count("=") < 2:
            sys.exit(f"measure.py: --stdout-metric must be NAME=LABEL=REGEX, got {v!r}")
        name, label, regex = v.split("=", 2)
        if name not in stdouts:
            sys.exit(f"measure.py: --stdout-metric names {name!r}, which has no --stdout file")
        stdout_metrics.setdefault(name, {})[label] = re.compile(regex)
    growths = {}
    for v in args.growth or []:
        parts = v.split("=", 2)
        if len(parts) < 3 or not parts[1].isdigit():
            sys.exit(f"measure.py: --growth must be NAME=BASE_BYTES=PATH, got {v!r}")
        growths[parts[0]] = (int(parts[1]), parts[2])
    names = list(contenders)
    for what, table in (("--output/--stdout", outputs), ("--exit-ok", ok_codes),
                        ("--before", befores), ("--after", afters), ("--stderr-metric", metrics),
                        ("--stdout-metric", stdout_metrics), ("--growth", growths)):
        for name in table:
            if name not in contenders:
                sys.exit(f"measure.py: {what} names {name!r}, which is not a contender")
    def labels_of(name):
        return [*metrics.get(name, {}), *stdout_metrics.get(name, {}),
                *(["growth_bytes"] if name in growths else [])]
    labels = [label for name in names for label in labels_of(name)]
    labels = list(dict.fromkeys(labels))  # in order of first mention, once each

    def run(name):
        return run_once(name, commands[name], outputs.get(name), args.server_pid,
                        stdout_path=stdouts.get(name), ok_codes=ok_codes.get(name, (0,)),
                        before=befores.get(name), after=afters.get(name),
                        metrics=metrics.get(name), stdout_metrics=stdout_metrics.get(name),
                        growth=growths.get(name))
    anchor = args.anchor or names[-1]
    if anchor not in contenders:
        sys.exit(f"measure.py: anchor {anchor!r} is not a contender")

    for w in range(args.warmup):
        for name in names:
            print(f"  warm-up {w + 1}/{args.warmup}: {name} ...", file=sys.stderr, flush=True)
            run(name)

    samples = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names:  # A B A B ...: the order alternates within every round
            s = run(name)
            s["round"] = r + 1
            samples[name].append(s)
            extra = f", server CPU {s['server_cpu_s']:.2f} s" if "server_cpu_s" in s else ""
            for label, value in s.get("metrics", {}).items():
                extra += f", {label} {fmt_metric(label, value)}"
            print(f"  round {r + 1}/{args.rounds}: {name:<10} wall {s['wall_s']:.3f} s, "
                  f"CPU {s['cpu_s']:.3f} s{extra}", file=sys.stderr, flush=True)

    def median(name, key):
        values = [s[key] for s in samples[name] if key in s]
        return statistics.median(values) if values else None

    results = {}
    for name in names:
        results[name] = {
            "command": commands[name],
            "median": {k: median(name, k) for k in
                       ("wall_s", "cpu_s", "user_s", "sys_s", "server_cpu_s", "peak_rss_kib", "output_bytes")},
            "deterministic_output": (len({s["output_sha256"] for s in samples[name]}) == 1
                                     if name in outputs else None),
            "samples": samples[name],
        }
        if labels_of(name):
            results[name]["median_metrics"] = {
                label: statistics.median(s["metrics"][label] for s in samples[name])
                for label in labels_of(name)}
    anchor_wall = results[anchor]["median"]["wall_s"]
    for name in names:
        results[name]["wall_ratio_to_anchor"] = round(results[name]["median"]["wall_s"] / anchor_wall, 4)

    # The table: medians over the timed rounds.
    header = ["contender", "wall median", "CPU median", "server CPU", "peak RSS",
              "output bytes", f"wall ratio to {anchor}"]
    rows = []
    for name in names:
        m = results[name]["median"]
        rows.append([name, fmt_s(m["wall_s"]), fmt_s(m["cpu_s"]), ("-" if m["server_cpu_s"] is None else f"{m['server_cpu_s']:.2f} s"),
                     fmt_mib(m["peak_rss_kib"]),
                     "-" if m["output_bytes"] is None else f"{int(m['output_bytes']):,}",
                     f"{results[name]['wall_ratio_to_anchor']:.2f}x"])
    if args.no_ratio:
        header.pop()
        for row in rows:
            row.pop()
    # Self-reported metrics go right after the wall median (columns only when asked for).
    for k, label in enumerate(labels):
        header.insert(2 + k, f"{label} median")
        for name, row in zip(names, rows):
            row.insert(2 + k, fmt_metric(label, results[name].get("median_metrics", {}).get(label)))
    if not args.server_pid:
        header.pop(3 + len(labels))
        for row in rows:
            row.pop(3 + len(labels))
    print_table(header, rows)
    print(f"({args.rounds} timed rounds, alternating, after {args.warmup} warm-up; medians. "
          "CPU = the tool's user+sys; server CPU = its PostgreSQL backend's, 10 ms ticks; "
          "peak RSS = the tool's max resident set)")

    if args.json:
        doc = {"meta": parse_pairs(args.meta, "--meta"), "rounds": args.rounds,
               "rss_source": "GNU time %M" if GNU_TIME else "wait4 ru_maxrss (includes the forking Python's RSS)",
               "warmup_rounds": args.warmup, "anchor": anchor, "order": names, "contenders": results}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
