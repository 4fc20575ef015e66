"""Validate 10,000 synthetic tenants and compare with the floor: reading and composing the same files.

The floor is what any YAML tool with positions must pay: read every file and compose it with libyaml
(``yaml.compose_all`` with ``CSafeLoader``), keeping line/column marks. ``paybill validate`` adds
discovery, safety checks, conversion, pydantic validation, indexing and every semantic rule on top.
Target: validate <= 2 x floor. Both are measured in this run, on the same files, best of several
rounds (first a warm-up round so the page cache is hot for both).

Usage: ``python benchmarks/bench_validate.py [N] [--profile]`` (N defaults to 10,000). ``--profile``
prints the top functions of a cProfile run of the validation.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import write_repository  # noqa: E402

from paybill.load.discover import discover_spec_files  # noqa: E402
from paybill.validate import validate_repository  # noqa: E402

DEFAULT_TENANTS = 10_000
ROUNDS = 3
TARGET_RATIO = 2.0


def floor(root: Path) -> int:
    """Read every spec file and compose every document with libyaml; returns the document count."""
    files, _ = discover_spec_files(root)
    documents = 0
    for spec_file in files:
        text = spec_file.path.read_bytes().decode("utf-8")
        documents += len(list(yaml.compose_all(text, Loader=yaml.CSafeLoader)))
    return documents


def timed(function, *args) -> tuple[float, object]:
    gc.collect()
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def main(argv: list[str]) -> int:
    profile = "--profile" in argv
    numbers = [a for a in argv if a.isdigit()]
    tenants = int(numbers[0]) if numbers else DEFAULT_TENANTS
    with tempfile.TemporaryDirectory(prefix="paybill-bench-") as tmp:
        root = Path(tmp) / "specs"
        generated, files = timed(write_repository, tenants, root)
        print(f"generated {files} files ({tenants} tenants) in {generated:.2f} s")
        result = validate_repository(root)  # warm-up: page cache, imports, pydantic's lazy schema build
        if not result.ok:
            print(f"the synthetic repository does not validate: {len(result.diagnostics)} diagnostics, e.g.")
            for d in result.diagnostics[:5]:
                print(f"  {d.path}:{d.position.line}:{d.position.col}: {d.code} {d.message}")
            return 1
        floor(root)
        floor_times, validate_times = [], []
        for _ in range(ROUNDS):
            floor_times.append(timed(floor, root)[0])
            validate_times.append(timed(validate_repository, root)[0])
        best_floor, best_validate = min(floor_times), min(validate_times)
        ratio = best_validate / best_floor
        print(f"floor (read + libyaml compose): {best_floor:.3f} s  ({files / best_floor:,.0f} files/s)")
        print(f"paybill validate:               {best_validate:.3f} s  ({files / best_validate:,.0f} files/s)")
        print(f"ratio validate / floor:         {ratio:.2f} x  (target <= {TARGET_RATIO:.1f} x)"
              f"  {'OK' if ratio <= TARGET_RATIO else 'OVER TARGET'}")
        print(f"rounds: floor {', '.join(f'{t:.3f}' for t in floor_times)}; "
              f"validate {', '.join(f'{t:.3f}' for t in validate_times)}")
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(validate_repository, root)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
