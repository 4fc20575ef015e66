"""Validate 10,000 synthetic tenants and compare with the floor: reading and composing the same files.

The floor is what any YAML tool with positions must pay: read every file and compose it with libyaml
(``yaml.compose_all`` with ``CSafeLoader``), keeping line/column marks. ``paybill validate`` adds
discovery, safety checks, conversion, pydantic validation, indexing and every semantic rule on top,
then goes on as ``paybill compile`` does, in memory: resolves the valid index (networks, stack
layout, every stack's claimed cloud names; PB0601-PB0603), builds the dependency graph (cycles) and
runs the emitters that can report (the SQL plan, the agent bundles with Cedar's checks), so that it
reports everything compile would (no cache folder here: the first validate of a checkout). Both are
printed: validation alone, and the whole command.
Target: validate <= 2 x floor. Both are measured in this run, on the same files, best of several
interleaved rounds after a warm-up (page cache hot for both). Wall and CPU time are both printed:
on a shared machine CPU time is the steadier of the two.

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

from generate import write_repository
from paybill.compile import CompileResult, check_repository
from paybill.emit.registry import reporting_emitters
from paybill.load.discover import discover_spec_files
from paybill.validate import validate_repository

DEFAULT_TENANTS = 10_000
ROUNDS = 5
TARGET_RATIO = 2.0


def floor(root: Path) -> int:
    """Read every spec file and compose every document with libyaml; returns the document count."""
    files, _ = discover_spec_files(root)
    documents = 0
    for spec_file in files:
        text = spec_file.path.read_bytes().decode("utf-8")
        documents += len(list(yaml.compose_all(text, Loader=yaml.CSafeLoader)))
    return documents


def validate_command(root: Path) -> CompileResult:
    """What ``paybill validate`` runs (:mod:`paybill.cli.validate_cmd`): load, validation, then resolve
    (beside the semantic rules on a large repository), the graph and the reporting emitters, in memory."""
    return check_repository(root, emitters=reporting_emitters())


def timed(function, *args) -> tuple[float, float, object]:
    """Wall and CPU seconds of one call, after a full collection so no earlier garbage is charged."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main(argv: list[str]) -> int:
    profile = "--profile" in argv
    numbers = [a for a in argv if a.isdigit()]
    tenants = int(numbers[0]) if numbers else DEFAULT_TENANTS
    with tempfile.TemporaryDirectory(prefix="paybill-bench-") as tmp:
        root = Path(tmp) / "specs"
        generated, _, files = timed(write_repository, tenants, root)
        print(f"generated {files} files ({tenants} tenants) in {generated:.2f} s")
        result = validate_repository(root)  # warm-up: page cache, imports, pydantic's lazy schema build
        if not result.ok:
            print(f"the synthetic repository does not validate: {len(result.diagnostics)} diagnostics, e.g.")
            for d in result.diagnostics[:5]:
                print(f"  {d.path}:{d.position.line}:{d.position.col}: {d.code} {d.message}")
            return 1
        floor(root)
        validate_command(root)
        floor_runs, validate_runs, command_runs = [], [], []
        for _ in range(ROUNDS):  # interleaved, so a busy neighbour slows all alike
            floor_runs.append(timed(floor, root)[:2])
            validate_runs.append(timed(validate_repository, root)[:2])
            command_runs.append(timed(validate_command, root)[:2])
        for label, column in (("wall", 0), ("cpu", 1)):
            best_floor = min(run[column] for run in floor_runs)
            best_validate = min(run[column] for run in validate_runs)
            best_command = min(run[column] for run in command_runs)
            ratio = best_command / best_floor
            print(f"[{label}] floor (read + libyaml compose): {best_floor:.3f} s  ({files / best_floor:,.0f} files/s)")
            print(f"[{label}] validation (load + rules):      {best_validate:.3f} s  "
                  f"({files / best_validate:,.0f} files/s)")
            print(f"[{label}] paybill validate (whole):       {best_command:.3f} s  "
                  f"({files / best_command:,.0f} files/s)")
            print(f"[{label}] ratio validate / floor:         {ratio:.2f} x  (target <= {TARGET_RATIO:.1f} x)  "
                  f"{'OK' if ratio <= TARGET_RATIO else 'OVER TARGET'}")
        print("wall seconds per round: floor " + ", ".join(f"{r[0]:.3f}" for r in floor_runs)
              + "; validation " + ", ".join(f"{r[0]:.3f}" for r in validate_runs)
              + "; paybill validate " + ", ".join(f"{r[0]:.3f}" for r in command_runs))
        if profile:
            profiler = cProfile.Profile()
            profiler.runcall(validate_command, root)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
