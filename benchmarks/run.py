"""Run every ``benchmarks/bench_*.py`` in turn (``make bench``); each prints its own results.

Each benchmark runs in its own interpreter, one after the other, so they neither share warm caches
nor compete for the CPU. The exit status is the first non-zero status of a benchmark, if any.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print("no benchmarks/bench_*.py found", file=sys.stderr)
        return 1
    status = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"== {script.name}: exit {code}, {time.perf_counter() - started:.1f} s\n", flush=True)
        if code and not status:
            status = code
    return status


if __name__ == "__main__":
    sys.exit(main())
