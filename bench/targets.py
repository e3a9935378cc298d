#!/usr/bin/env python3
"""Issue-2 benchmark targets, checked against the rows bench/run.sh wrote.

usage: targets.py STAMP     (reads $RESULTS_DIR/STAMP-S*.tsv, same format as the shared harness)
Medians over rounds; [min..max] over rounds in brackets; every ratio is to "direct" of the same round.
"""
import glob
import os
import statistics
import sys
from collections import defaultdict

RES = os.environ.get("RESULTS_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "aiwarden-bench", "results"))


def load(stamp):
    rows = defaultdict(list)  # (scen, peer, mode) -> [dict]
    for path in sorted(glob.glob(os.path.join(RES, f"{stamp}-S*.tsv"))):
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            kv = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
            rows[(parts[0], parts[1], kv.get("mode", "-"))].append(kv)
    return rows


def vals(rows, key, k):
    out = []
    for r in rows.get(key, []):
        try:
            if k == "rps_per_core":  # req/s per proxy core, per round
                out.append(float(r["rps"]) * 100 / float(r["cpu_pct"]))
            else:
                out.append(float(r[k]))
        except (KeyError, ValueError, ZeroDivisionError):
            pass
    return out


def cell(rows, key, k, scale=1.0, nd=2):
    v = vals(rows, key, k)
    if not v:
        return None, "n/a"
    m = statistics.median(v) * scale
    txt = f"{m:.{nd}f}"
    if len(v) > 1:
        txt += f" [{min(v) * scale:.{nd}f}..{max(v) * scale:.{nd}f}]"
    return m, txt


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rows = load(sys.argv[1])
    if not rows:
        sys.exit(f"no rows for {sys.argv[1]} in {RES}")
    checks = [
        # label, scen, mode, field, scale, digits, target text, predicate
        ("S1 req/s ratio to direct", "S1", "-", "ratio_rps", 1, 3, ">= 0.60", lambda v: v >= 0.60),
        ("S1 k req/s per proxy core (RESULTS.md #1; not an issue-2 target)", "S1", "-", "rps_per_core", 1e-3, 1, ">= 50",
         lambda v: v >= 50),
        ("S4 added p50, ms", "S4", "-", "add_p50_us", 1e-3, 2, "<= +0.25", lambda v: v <= 0.25),
        ("S4 added p99, ms", "S4", "-", "add_p99_us", 1e-3, 2, "<= +0.60", lambda v: v <= 0.60),
        ("S3 TLS inside: MB/s ratio", "S3", "tls", "ratio_mbps", 1, 3, ">= 0.90", lambda v: v >= 0.90),
        ("S3 TLS inside: CPU-s/GB", "S3", "tls", "cpu_s_per_gb", 1, 2, "<= 0.50", lambda v: v <= 0.50),
        ("S3 plain inside: MB/s ratio", "S3", "plain", "ratio_mbps", 1, 3, ">= 0.90", lambda v: v >= 0.90),
        ("S3 plain inside: CPU-s/GB", "S3", "plain", "cpu_s_per_gb", 1, 2, "<= 0.50", lambda v: v <= 0.50),
        ("RSS, 50 busy conns (S1, sampled), MiB", "S1", "-", "rss_load_mb", 1, 1, "<= 32", lambda v: v <= 32),
    ]
    print("### Issue 2 targets (aiwarden; squid and HAProxy (reverse) for reference; medians [min..max] over rounds)\n")
    print("| metric | target | aiwarden | met? | squid | haproxy |")
    print("|---|---|---|---|---|---|")
    for label, scen, mode, field, scale, nd, target, ok in checks:
        m, txt = cell(rows, (scen, "aiwarden", mode), field, scale, nd)
        _, sq = cell(rows, (scen, "squid", mode), field, scale, nd)
        _, hp = cell(rows, (scen, "haproxy", mode), field, scale, nd)
        met = "n/a" if m is None else ("yes" if ok(m) else "**no**")
        print(f"| {label} | {target} | {txt} | {met} | {sq} | {hp} |")
    m, txt = cell(rows, ("S1", "aiwarden", "-"), "rps", 1, 0)
    d, dtxt = cell(rows, ("S1", "direct", "-"), "rps", 1, 0)
    print(f"\nS1 req/s: aiwarden {txt}, direct {dtxt}.")
    errs = {k: sum(int(float(r.get("errors", 0))) for r in rs) for k, rs in rows.items() if k[1] == "aiwarden"}
    bad = {k: v for k, v in errs.items() if v}
    print("aiwarden errors (wrk connect/write/status/timeout, S3 incomplete downloads): "
          + (", ".join(f"{k[0]}{'/' + k[2] if k[2] != '-' else ''}={v}" for k, v in bad.items()) if bad else "none"))


if __name__ == "__main__":
    main()
