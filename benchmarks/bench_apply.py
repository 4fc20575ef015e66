"""``paybill apply plan`` for 10,000 changed stacks, against the floor of reading the manifest.

The synthetic repository (``generate.py``, 10,400 tenants so that more than 10,000 stacks are live)
is compiled once; then, in fresh interpreters, the floor (read ``manifest.json`` and parse it with
orjson, nothing else) and the whole job planning (read it into typed records, plan every stack as
changed, i.e. no base commit, pack the phases into shards within GitHub's 256 jobs, render the plan
JSON and the workflow outputs) are timed, interleaved over rounds, best round kept (a shared
machine). Target: planning <= 4 x the floor, all in one run of at most 256 jobs.

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
if kind == "floor":
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


def child(kind: str, manifest: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, str(manifest)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


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
        floors, plans = [], []
        for _ in range(args.rounds):
            floors.append(child("floor", manifest))
            plans.append(child("plan", manifest))
        floor = min(r["seconds"] for r in floors)
        best = min(plans, key=lambda r: r["seconds"])
    ratio = best["seconds"] / floor
    ok = ratio <= TARGET_RATIO and best["jobs"] <= 256
    print(f"apply plan: {best['stacks']:,} changed stacks in {best['jobs']} jobs: {best['seconds']:.2f} s; "
          f"floor (read + parse manifest.json) {floor:.2f} s; ratio {ratio:.2f} (target <= {TARGET_RATIO}) "
          f"{'ok' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
