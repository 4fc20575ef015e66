"""The write and record bookkeeping of a one-tenant ``paybill compile``, without the compile stages.

The delta compile (docs/cache.md, issue 14) hands the writer a result whose files are nearly all
*kept* (``CompileResult.kept``: path -> SHA-256, bytes left in ``out``) plus the handful a tenant
edit changes. What ``paybill compile`` does around that result is timed here, step by step, exactly
as :mod:`paybill.cli.compile_cmd` calls it:

* ``check``   - scan the spec files and check the whole-compile record (:mod:`paybill.write.shortcut`);
* ``forget``  - delete the record before writing;
* ``journal`` - read ``out``'s journal (:func:`paybill.write.journal.load_journal`) and the folder hint;
* ``write``   - :func:`paybill.write.journal.write_tree_linked` with the delta result (the spare patched
  and exchanged, :mod:`paybill.write.spare`);
* ``save``    - save the record (:func:`paybill.write.shortcut.save`);
* ``prune``   - prune the cache folder and its unit store as the CLI does.

Setup: a generated repository of ``BENCH_TENANTS`` (default 10,000) tenants, compiled whole, then
two one-tenant compiles (so a spare tree of this code exists), all by ``paybill compile``
subprocesses; with ``BENCH_WORK=<folder>`` holding ``specs/`` (and maybe ``out/`` and ``cache/`` of
an earlier run, used in place: pass a scratch copy), only the two one-tenant compiles. Each
round edits another tenant's spec file (its display name) and changes the bytes of that tenant's
output files (``tenants/<name>.json``, its stack, ``manifest.json``), keeps every other file in
place, and runs the steps: CPU (``time.process_time``) and wall seconds each, median over
``BENCH_ROUNDS`` (default 7) rounds after one warm-up. The output folder ends as the result says,
so ``compile --check`` would disagree: the workspace is a scratch copy.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

STEPS = ("check", "forget", "journal", "write", "save", "prune")


def _prepare(work: Path, tenants: int, generate: bool) -> None:
    from generate import write_repository

    specs, out, cache = work / "specs", work / "out", work / "cache"
    if generate:
        write_repository(tenants, specs)
    env = {**os.environ, "PAYBILL_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "paybill", "compile", str(specs), "--out", str(out)]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    names = sorted((specs / "tenants").iterdir())
    for index in (1, 2):
        path = names[index * len(names) // 5]
        path.write_text(path.read_text().replace("displayName: ", "displayName: Warm ", 1))
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)


def _round(specs: Path, out: Path, cache: Path, spec_file: Path, tenant: str,
           serial: int) -> dict[str, tuple[float, float]]:
    from paybill.store import UNITS_FOLDER, prune
    from paybill.write import shortcut
    from paybill.write.journal import load_journal, write_tree_linked

    spec_file.write_text(spec_file.read_text().replace("displayName: ", f"displayName: R{serial} ", 1))
    try:  # each round as a new `paybill compile` process: nothing read by the round before is at hand
        from paybill.write import ledger

        ledger.forget_memory()
    except ImportError:  # the code before paybill.write.ledger
        pass
    marks: list[tuple[float, float]] = [(time.perf_counter(), time.process_time())]

    def mark() -> None:
        marks.append((time.perf_counter(), time.process_time()))

    started_ns = time.time_ns()
    scan = shortcut.scan_specs(specs)
    params = shortcut.parameters(specs, out, "text", {"strict_quotas": False})
    printed, hint = shortcut.check(cache, out, params, scan, started_ns)
    assert printed is None, "a spec file was edited: the short cut must not apply"
    mark()
    shortcut.forget(cache, out)
    mark()
    journal = load_journal(cache, out)
    in_place = {path: entry[3] for path, entry in journal.items()}
    folders = hint.serves(cache, out, journal) if hint is not None else None
    mark()
    # The delta result: this tenant's files (and the manifest) with new bytes, every other file kept.
    changed = [path for path in in_place
               if path == "manifest.json" or path == f"tenants/{tenant}.json" or f"/{tenant}/" in path]
    tree = {path: (out / path).read_bytes() + f"\n{serial}".encode() for path in changed}
    digests = {path: hashlib.sha256(data).digest() for path, data in tree.items()}
    kept = {path: digest for path, digest in in_place.items() if path not in tree}
    marks[-1] = (time.perf_counter(), time.process_time())  # building the stand-in result is not timed
    final: dict[str, tuple[int, int, int, bytes]] = {}
    final_folders: dict[str, tuple[int, int, int]] = {}
    new_api = "final_folders" in inspect.signature(write_tree_linked).parameters  # not in the code before
    extra = {"final_folders": final_folders} if new_api else {}
    write_tree_linked(tree, out, cache, digests=digests, kept=kept, journal=journal, folders=folders, final=final,
                      **extra)
    mark()
    assert scan is not None
    previous = _spec_digests.setdefault(str(specs), {})  # CompileResult.sources: not timed
    for path in scan.files:
        if path not in previous or path.endswith("/" + spec_file.name):
            previous[path] = hashlib.sha256(Path(scan.base, path).read_bytes()).hexdigest()
    sources = dict(previous)
    marks[-1] = (time.perf_counter(), time.process_time())
    shortcut.save(cache, out, params, started_ns, scan, sources, "printed\n", final or None,
                  *([final_folders] if extra else []))
    mark()
    prune(cache)
    prune(cache / UNITS_FOLDER)
    mark()
    return {step: (marks[i + 1][0] - marks[i][0], marks[i + 1][1] - marks[i][1]) for i, step in enumerate(STEPS)}


_spec_digests: dict[str, dict[str, str]] = {}


def main() -> int:
    tenants = int(os.environ.get("BENCH_TENANTS", "10000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "7"))
    with tempfile.TemporaryDirectory(prefix="bench-bookkeeping-") as folder:
        given = os.environ.get("BENCH_WORK")
        work = Path(given) if given else Path(folder) / "work"
        if not given:
            work.mkdir()
        _prepare(work, tenants, generate=not given)
        specs, out, cache = work / "specs", work / "out", work / "cache"
        names = sorted((specs / "tenants").iterdir())
        import gc

        gc.disable()  # as paybill compile runs (paybill.gcpause)
        results: list[dict[str, tuple[float, float]]] = []
        for serial in range(rounds + 1):
            spec_file = names[(serial * 7919 + 13) % len(names)]
            tenant = spec_file.name.rsplit(".", 1)[0]
            results.append(_round(specs, out, cache, spec_file, tenant, serial))
        measured = results[1:]
        parts = []
        for step in STEPS:
            wall = statistics.median(r[step][0] for r in measured)
            cpu = statistics.median(r[step][1] for r in measured)
            parts.append(f"{step} {wall:.3f}/{cpu:.3f}")
        total_wall = statistics.median(sum(v[0] for v in r.values()) for r in measured)
        total_cpu = statistics.median(sum(v[1] for v in r.values()) for r in measured)
        print(f"bookkeeping ({len(names)} tenant files, median of {len(measured)} rounds, wall/CPU s): "
              + "  ".join(parts) + f"  total {total_wall:.3f}/{total_cpu:.3f}  (load {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
