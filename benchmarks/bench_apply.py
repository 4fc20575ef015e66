"""``paybill apply plan`` for 10,000 changed stacks, against the floor of reading the manifest.

The synthetic repository (``generate.py``, 10,400 tenants so that more than 10,000 stacks are live)
is compiled once; then, in fresh interpreters, the floor (read ``manifest.json`` and parse it with
orjson, nothing else) and the whole job planning (read it into typed records, plan every stack as
changed, i.e. no base commit, pack the phases into shards within GitHub's 256 jobs, render the plan
JSON and the workflow outputs) are timed, interleaved over rounds, best round kept (a shared
machine). Target: planning <= 4 x the floor, all in one run of at most 256 jobs. The nightly drift
check's own work (``apply drift`` picking one shard of 8, ``apply drift-report`` joining 8 shards'
results with the manifest and rendering the issue body) is timed the same way, same target.

Usage: ``python benchmarks/bench_apply.py [N] [--rounds R] [--manifest FILE]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT_TENANTS = 10_400
TARGET_RATIO = 4.0
CHILD = """
import datetime, json, sys, time
from pathlib import Path
kind, path = sys.argv[1], Path(sys.argv[2])
started = time.perf_counter()
if kind == "drift-shard":
    from paybill.apply.drift import shard_stacks
    from paybill.apply.manifest import read_manifest
    stacks, jobs = len(shard_stacks(read_manifest(path), 1, 8)), 1
elif kind == "drift-report":
    from paybill.apply.drift_report import build_report, render_markdown
    from paybill.apply.manifest import read_manifest
    report = build_report(read_manifest(path), [Path(sys.argv[3])], None)
    render_markdown(report)
    stacks, jobs = report.stacks, 0 if report.clean else 1
elif kind == "floor":
    import orjson
    document = orjson.loads(path.read_bytes())
    stacks, jobs = len(document["stacks"]), 0
else:
    from paybill.apply.jobfile import dumps, github_outputs
    from paybill.apply.manifest import read_manifest
    from paybill.apply.schedule import plan_jobs
    plan = plan_jobs(read_manifest(path), None, today=datetime.date(2099, 1, 1))
    text, outputs = dumps(plan), github_outputs(plan)
    stacks = sum(len(s.units) for p in plan.phases for s in p.shards)
    jobs = plan.jobs
print(json.dumps({"seconds": time.perf_counter() - started, "stacks": stacks, "jobs": jobs}))
"""


def child(kind: str, manifest: Path, *extra: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(manifest), *extra], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def drift_results(manifest: Path, folder: Path, shards: int = 8) -> None:
    """Every shard of a nightly drift check, every stack in sync: what ``drift-report`` reads."""
    from paybill.apply.drift import DriftRecord, results_file, shard_stacks, write_results
    from paybill.apply.manifest import read_manifest

    parsed = read_manifest(manifest)
    for k in range(1, shards + 1):
        records = [DriftRecord(s.address, s.hash, s.sources, "in-sync") for s in shard_stacks(parsed, k, shards)]
        write_results(results_file(folder, k, shards), f"{k}/{shards}", "c0ffee", records, complete=True)


def compiled_manifest(n: int, work: Path) -> Path:
    from generate import write_repository

    write_repository(n, work / "repo" / "specs")
    subprocess.run([sys.executable, "-m", "paybill", "compile", str(work / "repo" / "specs"), "--out",
                    str(work / "repo" / "generated")], check=True, capture_output=True)
    return work / "repo" / "generated" / "manifest.json"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=DEFAULT_TENANTS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--manifest", type=Path, help="plan this manifest instead of compiling one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        started = time.perf_counter()
        manifest = args.manifest or compiled_manifest(args.n, Path(tmp))
        if not args.manifest:
            print(f"compiled {args.n} tenants in {time.perf_counter() - started:.1f} s")
        results = Path(tmp) / "drift-results"
        drift_results(manifest, results)
        floors, plans, shards, reports = [], [], [], []
        for _ in range(args.rounds):
            floors.append(child("floor", manifest))
            plans.append(child("plan", manifest))
            shards.append(child("drift-shard", manifest))
            reports.append(child("drift-report", manifest, str(results)))
        floor = min(r["seconds"] for r in floors)
        best = min(plans, key=lambda r: r["seconds"])
        shard = min(shards, key=lambda r: r["seconds"])
        report = min(reports, key=lambda r: r["seconds"])
    ratio = best["seconds"] / floor
    ok = ratio <= TARGET_RATIO and best["jobs"] <= 256
    print(f"apply plan: {best['stacks']:,} changed stacks in {best['jobs']} jobs: {best['seconds']:.2f} s; "
          f"floor (read + parse manifest.json) {floor:.2f} s; ratio {ratio:.2f} (target <= {TARGET_RATIO}) "
          f"{'ok' if ok else 'MISSED'}")
    drift_ok = max(shard["seconds"], report["seconds"]) / floor <= TARGET_RATIO and report["jobs"] == 0
    print(f"apply drift: one shard of 8 picked ({shard['stacks']:,} stacks) in {shard['seconds']:.2f} s; "
          f"drift-report over 8 shards' results ({report['stacks']:,} stacks) in {report['seconds']:.2f} s; "
          f"ratio to the floor {shard['seconds'] / floor:.2f} / {report['seconds'] / floor:.2f} "
          f"(target <= {TARGET_RATIO}) {'ok' if drift_ok else 'MISSED'}")
    return 0 if ok and drift_ok else 1


if __name__ == "__main__":
    sys.exit(main())
