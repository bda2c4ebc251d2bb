#!/usr/bin/env python3
"""Summarises a bench/backup.sh run: stored bytes, incremental backups, targets; writes the JSON.

    backup_report.py --work DIR --json RESULTS.json [--fact KEY=VALUE ...]

DIR holds the measure.py results of the run's parts: backup.json (full backup), restore.json,
verify.json and incr_a.json, incr_b.json, incr_c.json (incremental scenarios). The facts are
what the script knew about the dataset (dataset, rows, database_bytes, copy_text_bytes,
strata_logical_bytes, load_seconds, tiny, restic_skipped: empty when restic ran, otherwise
why it did not).

Prints three tables and one verdict line per target of issue 7 (met / NOT met / not measured,
with the figures), then writes RESULTS.json: `meta` (the machine, versions, facts and the load
average at the start and the end), every part in measure.py's format (every sample),
`stored_bytes`, `incremental_summary`, `strata_peak_rss_kib` and `targets`.
"""

import argparse
import json
import os
import sys

from measure import print_table  # the same table layout as every part's

SCENARIOS = ("a", "b", "c")


def load(work, name):
    with open(os.path.join(work, f"{name}.json")) as f:
        return json.load(f)


def wall(c):
    return c["median"]["wall_s"]


def metric(c, label):
    return c.get("median_metrics", {}).get(label)


def pct(part, whole):
    return f"{100 * part / whole:.2f}%" if whole else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--fact", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    facts = dict(f.split("=", 1) for f in args.fact)
    for k in ("rows", "database_bytes", "copy_text_bytes", "strata_logical_bytes"):
        facts[k] = int(facts[k])
    facts["load_seconds"] = float(facts["load_seconds"])
    restic_skipped = facts.pop("restic_skipped", "")
    parts = {p: load(args.work, p) for p in ("backup", "restore", "verify")}
    incr = {sc: load(args.work, f"incr_{sc}") for sc in SCENARIOS}
    b = parts["backup"]["contenders"]
    r = parts["restore"]["contenders"]
    v = parts["verify"]["contenders"]
    have_restic = "restic" in b
    skipped = f"restic skipped: {restic_skipped}"

    # --- stored bytes of the full backup ---
    fc = b["pg_dump_Fc"]["median"]["output_bytes"]
    stored = [("strata repository (full backup)", b["strata"]["median"]["output_bytes"])]
    if have_restic:
        stored.append(("restic repository (pg_dump -Fp | restic backup --stdin)",
                       b["restic"]["median"]["output_bytes"]))
    stored += [("pg_dump -Fc file (anchor)", fc),
               ("pg_dump -Fd directory", b["pg_dump_Fd"]["median"]["output_bytes"]),
               ("COPY text of every table (uncompressed)", facts["copy_text_bytes"]),
               ("database on disk (pg_database_size)", facts["database_bytes"])]
    print(f"\n### stored bytes, full backup of {facts['dataset']}")
    print_table(["what", "bytes", "ratio to pg_dump -Fc"],
          [(n, f"{x:,.0f}", f"{x / fc:.2f}x") for n, x in stored])
    print(f"(strata's logical bytes, the COPY data it chunked: {facts['strata_logical_bytes']:,})")
    full = {"strata": b["strata"]["median"]["output_bytes"],
            "restic": b["restic"]["median"]["output_bytes"] if have_restic else None}

    # --- incremental ---
    summary = {}
    rows = []
    for sc in SCENARIOS:
        c = incr[sc]["contenders"]
        s = c["strata_incr"]
        entry = {"scenario": incr[sc]["meta"]["scenario"],
                 "strata": {"wall_s": wall(s), "new_bytes": metric(s, "new_bytes"),
                            "growth_bytes": metric(s, "growth_bytes"),
                            "growth_of_full": metric(s, "growth_bytes") / full["strata"]},
                 "copy_floor_wall_s": wall(c["copy_floor"])}
        row = [f"({sc}) {entry['scenario']}", f"{wall(s):.3f} s",
               f"{metric(s, 'growth_bytes'):,.0f}", pct(metric(s, "growth_bytes"), full["strata"])]
        if have_restic:
            rc = c["restic_incr"]
            entry["restic"] = {"wall_s": wall(rc), "new_bytes": metric(rc, "new_bytes"),
                               "growth_bytes": metric(rc, "growth_bytes"),
                               "growth_of_full": metric(rc, "growth_bytes") / full["restic"]}
            ratio = (metric(s, "growth_bytes") / metric(rc, "growth_bytes")
                     if metric(rc, "growth_bytes") else None)
            entry["strata_to_restic_bytes"] = ratio
            entry["strata_to_restic_wall"] = wall(s) / wall(rc)
            row += [f"{wall(rc):.3f} s", f"{metric(rc, 'growth_bytes'):,.0f}",
                    pct(metric(rc, "growth_bytes"), full["restic"]),
                    "-" if ratio is None else f"{ratio:.2f}x", f"{wall(s) / wall(rc):.2f}x"]
        row.append(f"{wall(c['copy_floor']):.3f} s")
        rows.append(row)
        summary[sc] = entry
    print("\n### incremental: second backups (growth = bytes the repository grew by; "
          "% of the tool's own full backup)")
    header = ["scenario", "strata wall", "strata growth", "of full"]
    if have_restic:
        header += ["restic wall", "restic growth", "of full", "bytes strata/restic",
                   "wall strata/restic"]
    print_table(header + ["COPY floor wall"], rows)
    if not have_restic:
        print(f"restic: SKIPPED ({restic_skipped})")

    # --- peak RSS of every strata run ---
    samples = ([("backup", x) for x in b["strata"]["samples"]]
               + [("restore", x) for x in r["strata"]["samples"]]
               + [("verify", x) for x in v["strata_verify"]["samples"]]
               + [(f"incremental ({sc})", x) for sc in SCENARIOS
                  for x in incr[sc]["contenders"]["strata_incr"]["samples"]])
    peak_where, peak = max(samples, key=lambda x: x[1]["peak_rss_kib"])
    peak_mb = peak["peak_rss_kib"] * 1024 / 1e6

    # --- targets (issue 7) ---
    def ratio_target(name, num, den, limit):
        if num is None or den is None:
            return (name, None, skipped)
        x = num / den
        return (name, x <= limit, f"{x:.2f}x")

    sa, sb, sc_ = (summary[k]["strata"] for k in SCENARIOS)
    fc_wall = wall(b["pg_dump_Fc"])
    floor_wall = wall(b["copy_floor"])
    restic_full_wall = wall(b["restic"]) if have_restic else None
    restic_b = summary["b"].get("restic", {}).get("growth_bytes")
    restic_c = summary["c"].get("restic", {}).get("growth_bytes")
    restic_check = wall(v["restic_check"]) if "restic_check" in v else None
    targets = [
        ratio_target("full backup wall <= 0.35x pg_dump -Fc", wall(b["strata"]), fc_wall, 0.35),
        ratio_target("full backup wall <= 1.3x the COPY floor", wall(b["strata"]), floor_wall, 1.3),
        ratio_target("full backup stored bytes <= pg_dump -Fc's", full["strata"], fc, 1.0),
        ratio_target("full backup wall <= 0.7x pg_dump -Fp | restic", wall(b["strata"]),
                     restic_full_wall, 0.7),
        ratio_target("restore wall <= 0.75x pg_restore -j 2", wall(r["strata"]),
                     wall(r["pg_restore"]), 0.75),
        ("incremental (a) stored < 1% of the full", sa["growth_of_full"] < 0.01,
         f"{100 * sa['growth_of_full']:.2f}%"),
        ratio_target("incremental (a) wall <= 1.1x the COPY floor", sa["wall_s"],
                     summary["a"]["copy_floor_wall_s"], 1.1),
        ("incremental (b) stored < 5% of the full", sb["growth_of_full"] < 0.05,
         f"{100 * sb['growth_of_full']:.2f}%"),
        ratio_target("incremental (b) stored <= 0.5x restic's", sb["growth_bytes"], restic_b, 0.5),
        ratio_target("incremental (c) stored <= restic's", sc_["growth_bytes"], restic_c, 1.0),
        ratio_target("verify --read-data wall <= 0.5x restic check --read-data",
                     wall(v["strata_verify"]), restic_check, 0.5),
        ("peak RSS of backup, restore and verify < 200 MB", peak_mb < 200,
         f"max {peak_mb:.1f} MB ({peak['peak_rss_kib'] / 1024:.1f} MiB, {peak_where})"),
    ]
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    print(f"\n### targets (issue 7; stated for the `app` dataset), {facts['dataset']}")
    for name, ok, detail in targets:
        print(f"target: {name} -> {verdict[ok]} ({detail})")
    print(f"restore: strata {wall(r['strata']):.3f} s, pg_restore {wall(r['pg_restore']):.3f} s, "
          f"COPY floor {wall(r['copy_floor']):.3f} s; every restore had the source's row counts, "
          "keys and indexes")
    with open("/proc/loadavg") as f:
        loadavg_end = " ".join(f.read().split()[:3])
    meta = {k: val for k, val in parts["backup"]["meta"].items() if k != "benchmark"}
    meta.update(facts)
    meta["loadavg_end"] = loadavg_end
    meta["restic_skipped"] = restic_skipped or None
    print(f"machine: {meta.get('nproc')} CPUs ({meta.get('cpu')}), load average "
          f"{meta.get('loadavg_start')} at the start, {loadavg_end} at the end")
    if facts.get("tiny") == "1":
        print("(tiny mode: a smoke run; the timings are not meaningful)")

    doc = {
        "benchmark": "backup",
        "meta": meta,
        **parts,
        "incremental": incr,
        "stored_bytes": {name: n for name, n in stored},
        "incremental_summary": summary,
        "strata_peak_rss_kib": {"max": peak["peak_rss_kib"], "where": peak_where},
        "targets": [{"target": n, "met": ok, "value": d} for n, ok, d in targets],
    }
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
