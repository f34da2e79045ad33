"""Collects one bench/run's JSON files into bench/results/<date>.json and prints the summary table.

Input: a directory of limit-*.json (dd, loopback) and <target>-<workload>.json files written by
`sluice bench ... --json`, where <target> is `sluice` or `other`. The targets checked are the ones in
bench/README.md. A workload that failed on the other cluster has {"run_failed": true, "error": ...} in its file
(bench/run writes it) and shows as FAILED with its reason.
"""

import argparse
import glob
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("results_dir")
    ap.add_argument("out")
    ap.add_argument("--machine", default="")
    ap.add_argument("--cpu", default="")
    ap.add_argument("--load", default="")
    ap.add_argument("--sluice-version", default="")
    ap.add_argument("--git", default="")
    ap.add_argument("--other", default=None)
    ap.add_argument("--other-name", default=None, help="what the other cluster is, e.g. 'tansu 0.6.0 (sqlite)'")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    limits, runs = {}, {"sluice": {}, "other": {}}
    for path in sorted(glob.glob(os.path.join(args.results_dir, "*.json"))):
        name = os.path.basename(path)[: -len(".json")]
        if name.startswith("limit-"):
            limits[name[len("limit-"):]] = load(path)
        else:
            target, workload = name.split("-", 1)
            runs[target][workload] = load(path)

    def mbps(target, workload):
        r = runs[target].get(workload)
        return r and r.get("mb_per_sec")

    def p99(target, workload):
        r = runs[target].get(workload)
        return r and r.get("latency") and r["latency"]["p99_ms"]

    disk = limits.get("write", {}).get("mb_per_sec")
    loop = limits.get("loopback", {}).get("mb_per_sec")
    produce_ceiling = min(x for x in (disk, loop) if x) if (disk or loop) else None
    targets = []

    def check(figure, value, want, ok):
        targets.append({"figure": figure, "value": value, "target": want, "met": bool(value is not None and ok)})

    v = mbps("sluice", "produce-acks1")
    check("produce 1 KiB acks=1 MB/s", v,
          f">= 80% of min(disk write without fdatasync, loopback) = {0.8 * produce_ceiling:.0f}" if produce_ceiling else "n/a",
          produce_ceiling and v and v >= 0.8 * produce_ceiling)
    v = mbps("sluice", "consume-warm")
    check("consume from page cache MB/s", v, f">= 50% of loopback = {0.5 * loop:.0f}" if loop else "n/a",
          loop and v and v >= 0.5 * loop)
    v = p99("sluice", "e2e-10000")
    check("e2e p99 at 10k rec/s, 1 KiB (ms)", v, "< 2 ms", v is not None and v < 2.0)

    summary = {
        "machine": args.machine,
        "cpu": args.cpu,
        "load_average_at_end": args.load,
        "sluice_version": args.sluice_version,
        "git": args.git,
        "quick": args.quick,
        "other_bootstrap": args.other,
        **({"other_name": args.other_name} if args.other_name else {}),
        "limits": limits,
        "sluice": runs["sluice"],
        "other": runs["other"] or None,
        "targets": targets,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    print_table(limits, runs, targets, args.other is not None, args.other_name)
    return 0


def fmt(x, digits=0):
    return "-" if x is None else f"{x:,.{digits}f}"


def print_table(limits, runs, targets, with_other, other_name=None):
    print()
    if other_name:
        print(f"OTHER: {other_name}")
        print()
    print("LIMITS")
    for key, label in [("write", "disk write, page cache (dd, no sync)"),
                       ("write_fdatasync", "disk write, fdatasync at end (dd)"),
                       ("write_dsync", "disk write, every 1 MiB synced (dd oflag=dsync)"),
                       ("loopback", "loopback TCP")]:
        if key in limits:
            print(f"  {label:<48} {fmt(limits[key]['mb_per_sec']):>10} MB/s")
    if "broker_memory" in limits:
        print(f"  {'broker peak RSS over the workloads (VmHWM)':<48} {fmt(limits['broker_memory']['vm_hwm_kib'] / 1024):>10} MiB")
    if "other_memory" in limits:
        print(f"  {'other broker peak RSS (VmHWM)':<48} {fmt(limits['other_memory']['vm_hwm_kib'] / 1024):>10} MiB")
    print()
    rows = [
        ("produce-acks1", "produce 1 KiB acks=1"),
        ("produce-acksall", "produce 1 KiB acks=all"),
        ("consume-cold", "consume, cold"),
        ("consume-warm", "consume, page cache"),
        ("e2e-1000", "e2e 1k rec/s"),
        ("e2e-10000", "e2e 10k rec/s"),
        ("e2e-50000", "e2e 50k rec/s"),
    ]
    header = (f"{'WORKLOAD':<24}{'RECORDS/S':>11}{'MB/S':>9}{'P50 MS':>11}{'P99 MS':>11}{'P99.9 MS':>11}{'MAX MS':>11}"
              f"{'CPU MS/MB':>11}")
    if with_other:
        header += f"{'OTHER MB/S':>12}{'OTHER P99':>11}{'SLUICE/OTHER':>14}"
    print(header)
    failures = []
    for key, label in rows:
        r = runs["sluice"].get(key)
        if not r:
            continue
        lat = r.get("latency") or {}
        line = (f"{label:<24}{fmt(r['records_per_sec']):>11}{fmt(r['mb_per_sec'], 1):>9}"
                f"{fmt(lat.get('p50_ms'), 3):>11}{fmt(lat.get('p99_ms'), 3):>11}{fmt(lat.get('p999_ms'), 3):>11}"
                f"{fmt(lat.get('max_ms'), 3):>11}{fmt(r.get('broker_cpu_ms_per_mb'), 2):>11}")
        if key == "consume-cold" and not r.get("page_cache_dropped", False):
            line += "  (page cache could not be dropped: warm)"
        if with_other:
            o = runs["other"].get(key)
            if o and o.get("run_failed"):
                line += f"{'FAILED':>12}"
                failures.append((label, o))
            elif o:
                olat = o.get("latency") or {}
                # Throughput workloads compare MB/s (higher is better); latency workloads compare p99 (lower).
                if key.startswith("e2e"):
                    ratio = lat.get("p99_ms") / olat["p99_ms"] if olat.get("p99_ms") and lat.get("p99_ms") else None
                    what = "p99"
                else:
                    ratio = r["mb_per_sec"] / o["mb_per_sec"] if o["mb_per_sec"] else None
                    what = "MB/s"
                # Two decimals, or more when the ratio is small enough to round to 0.00.
                digits = 2 if ratio is None or ratio >= 0.1 else 4
                line += f"{fmt(o['mb_per_sec'], 1):>12}{fmt(olat.get('p99_ms'), 3):>11}{fmt(ratio, digits):>9} {what}"
                if o.get("broker_cpu_ms_per_mb") is not None:
                    line += f"  (other CPU {fmt(o['broker_cpu_ms_per_mb'], 2)} ms/MB)"
        print(line)
    if failures:
        print()
        print("FAILED ON THE OTHER CLUSTER")
        for label, o in failures:
            print(f"  {label}: {o.get('error') or 'exit code %s' % o.get('exit_code')}")
    print()
    print("TARGETS")
    for t in targets:
        value = fmt(t["value"], 3 if "ms" in t["figure"] else 0)
        print(f"  {'met    ' if t['met'] else 'MISSED '} {t['figure']:<36} {value:>10}   target {t['target']}")


if __name__ == "__main__":
    sys.exit(main())
