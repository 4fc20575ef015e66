"""Single-point mutation testing of the guard runtime: do its tests notice when one operator changes?

Usage (``make mutate`` runs every guard module)::

    .venv/bin/python tools/mutate.py compiler/paybill/guard/run.py [more modules] [--tests tests/guard] [-j 2]

For each module it lists every single-point mutant (below), runs the tests that execute the mutated
line, and reports per module ``killed / total`` and each surviving mutant by line. Exit status 0
when every module reaches ``--min-score`` (default 95 %), 1 otherwise, 2 for usage errors.

Why not mutmut: mutmut 3 copies the tree into ``mutants/`` and starts pytest per mutant, which on the
2 shared cores of our machines took minutes per module. This runner imports the test dependencies
once, records which tests execute which lines of the target modules (``sys.settrace``, one run),
then forks one child per mutant that swaps in the mutated module (an import hook) and runs only
those tests with ``-x``. A mutant on a line no test executes survives without a run; a mutant
outside any function (module constants, default values) runs the whole test folder. A child that
runs longer than ``--timeout`` is killed, which counts as killed (the mutant hangs).

Mutation operators (deterministic order, one mutant per site and operator):

* comparison: ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``is``/``is not``, ``in``/``not in`` swapped;
* boolean: ``and``/``or`` swapped; ``not x`` becomes ``x``;
* arithmetic: ``+``/``-`` swapped (also in ``+=``/``-=``);
* constants: an integer ``n`` becomes ``n + 1``, ``True``/``False`` swapped (strings are left
  alone: messages are not behaviour, and the labels the guard returns come from Cedar);
* statements: a ``raise`` becomes ``pass``.

Docstrings, annotations, ``TYPE_CHECKING`` blocks and lines marked ``# pragma: no mutate`` are skipped.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.abc
import importlib.util
import json
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOT = ROOT / "compiler"

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}
_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
            ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+", ast.Sub: "-"}


@dataclass(frozen=True)
class Mutant:
    module: str
    """Dotted module name (``paybill.guard.run``)."""
    index: int
    line: int
    description: str
    in_function: bool


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, ``if TYPE_CHECKING:`` bodies."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(n) for n in ast.walk(node))
        for name in ("annotation", "returns"):
            annotation = getattr(node, name, None)
            if isinstance(annotation, ast.AST):
                skipped.update(id(n) for n in ast.walk(annotation))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            skipped.add(id(node.value))  # attribute docstrings
    return skipped


def _function_lines(tree: ast.Module) -> set[int]:
    """Lines inside a function body (executed when called, so per-test coverage applies)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            body = node.body if isinstance(node.body, list) else [node.body]
            for statement in body:
                lines.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    return lines


class _Sites(ast.NodeTransformer):
    """Walks the tree in a fixed order; applies the ``target``-th mutation (or only counts, target -1)."""

    def __init__(self, skipped: set[int], no_mutate: set[int], target: int = -1) -> None:
        self.skipped = skipped
        self.no_mutate = no_mutate
        self.target = target
        self.count = 0
        self.found: list[tuple[int, str]] = []

    def _site(self, node: ast.AST, description: str) -> bool:
        line = getattr(node, "lineno", 0)
        if id(node) in self.skipped or line in self.no_mutate:
            return False
        index = self.count
        self.count += 1
        self.found.append((line, description))
        return index == self.target

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swapped = _COMPARE_SWAPS.get(type(op))
            if swapped and self._site(node, f"{_SYMBOLS[type(op)]} -> {_SYMBOLS[swapped]}"):
                node.ops[i] = swapped()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._site(node, f"{type(node.op).__name__.lower()} -> {other.__name__.lower()}"):
            node.op = other()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, "not x -> x"):
            return node.operand
        return node

    def _swap_add_sub(self, node: ast.BinOp | ast.AugAssign, suffix: str) -> ast.AST:
        """``+`` <-> ``-`` (``suffix`` is ``=`` for ``+=``/``-=``, so the two sites read differently)."""
        self.generic_visit(node)
        if isinstance(node.op, ast.Add | ast.Sub):
            other = ast.Sub if isinstance(node.op, ast.Add) else ast.Add
            if self._site(node, f"{_SYMBOLS[type(node.op)]}{suffix} -> {_SYMBOLS[other]}{suffix}"):
                node.op = other()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        return self._swap_add_sub(node, "")

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        return self._swap_add_sub(node, "=")

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int) and self._site(node, f"{value} -> {value + 1}"):
            return ast.copy_location(ast.Constant(value + 1), node)
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        self.generic_visit(node)
        if self._site(node, "raise -> pass"):
            return ast.copy_location(ast.Pass(), node)
        return node


def _module_name(path: Path) -> str:
    relative = path.resolve().relative_to(SOURCE_ROOT).with_suffix("")
    return ".".join(relative.parts)


def _prepare(path: Path) -> tuple[ast.Module, set[int], set[int]]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    no_mutate = {n for n, line in enumerate(source.splitlines(), start=1) if "pragma: no mutate" in line}
    return tree, _skipped_nodes(tree), no_mutate


def mutants_of(path: Path) -> list[Mutant]:
    tree, skipped, no_mutate = _prepare(path)
    sites = _Sites(skipped, no_mutate)
    sites.visit(tree)
    inside = _function_lines(tree)
    module = _module_name(path)
    return [Mutant(module, i, line, description, line in inside) for i, (line, description) in enumerate(sites.found)]


def mutated_code(path: Path, index: int) -> Any:
    tree, skipped, no_mutate = _prepare(path)
    sites = _Sites(skipped, no_mutate, target=index)
    tree = ast.fix_missing_locations(sites.visit(tree))
    return compile(tree, str(path), "exec")


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the mutated code object for one module name; every other import is untouched."""

    def __init__(self, name: str, path: Path, code: Any) -> None:
        self.name, self.path, self.code = name, path, code

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=str(self.path))

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        module.__file__ = str(self.path)
        exec(self.code, module.__dict__)


class _LineRecorder:
    """A pytest plugin recording, per test, the lines of the target files it executes."""

    def __init__(self, files: set[str]) -> None:
        self.files = files
        self.current: str | None = None
        self.hits: dict[tuple[str, int], set[str]] = {}

    def _trace(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename not in self.files:
            return None
        hits, current = self.hits, self.current

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line" and current is not None:
                hits.setdefault((frame.f_code.co_filename, frame.f_lineno), set()).add(current)
            return local

        return local(frame, event, arg)

    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> None:
        self.current = item.nodeid
        threading.settrace(self._trace)
        sys.settrace(self._trace)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        self.current = None


def _pytest_args(tests: list[str]) -> list[str]:
    return ["-q", "-x", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", *tests]


def _silence() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def record_coverage(tests: str, files: set[str]) -> dict[tuple[str, int], set[str]]:
    """Run the tests once (in a child) and return which tests execute each line of ``files``."""
    import pytest

    out = Path(tempfile.mkdtemp(prefix="mutate-")) / "coverage.json"
    pid = os.fork()
    if pid == 0:
        _silence()
        recorder = _LineRecorder(files)

        code = pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", tests], plugins=[recorder])
        data = {"hits": [[f, n, sorted(ids)] for (f, n), ids in recorder.hits.items()]}
        out.write_text(json.dumps(data))
        os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"mutate: the tests do not pass unmutated (exit {os.waitstatus_to_exitcode(status)}); fix them first")
    data = json.loads(out.read_text())
    return {(f, n): set(ids) for f, n, ids in data["hits"]}


def _run_mutant(path: Path, mutant: Mutant, tests: list[str]) -> int:
    """Fork a child running ``tests`` against the mutant; returns its pid."""
    import pytest

    pid = os.fork()
    if pid != 0:
        return pid
    try:
        _silence()
        code = mutated_code(path, mutant.index)
        for name in [n for n in sys.modules if n == "paybill" or n.startswith("paybill.")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _MutantFinder(mutant.module, path, code))
        os._exit(int(pytest.main(_pytest_args(tests))))
    except BaseException:
        os._exit(99)


def run(paths: list[Path], tests: str, jobs: int, timeout: float) -> dict[str, Any]:
    import hypothesis.configuration
    import pytest  # noqa: F401  (imported once here, shared by every forked child)

    hypothesis.configuration.set_hypothesis_home_dir(tempfile.mkdtemp(prefix="mutate-hypothesis-"))
    for heavy in ("cedarpy", "orjson", "cryptography.hazmat.primitives.asymmetric.ed25519", "psycopg", "click",
                  "syrupy", "hypothesis", "pydantic", "yaml", "ruamel.yaml", "jsonschema", "networkx"):
        with contextlib.suppress(ImportError):
            __import__(heavy)
    files = {str(p.resolve()) for p in paths}
    hits = record_coverage(tests, files)
    queue: list[tuple[Path, Mutant, list[str]]] = []
    results: dict[str, Any] = {}
    for path in paths:
        mutants = mutants_of(path)
        results[mutants[0].module if mutants else _module_name(path)] = {"path": path.relative_to(ROOT).as_posix(),
                                                                          "total": len(mutants), "killed": 0,
                                                                          "survived": []}
        for mutant in mutants:
            # a line outside functions runs at import: every test depends on it
            selected = sorted(hits.get((str(path.resolve()), mutant.line), set())) if mutant.in_function else [tests]
            queue.append((path, mutant, selected))
    running: dict[int, tuple[Mutant, float]] = {}
    pending = list(queue)

    done = [0]

    def finish(mutant: Mutant, killed: bool, note: str = "") -> None:
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == len(queue):
            print(f"mutate: {done[0]}/{len(queue)} mutants run", file=sys.stderr, flush=True)
        entry = results[mutant.module]
        if killed:
            entry["killed"] += 1
        else:
            entry["survived"].append(f"{entry['path']}:{mutant.line}: {mutant.description}{note}")

    while pending or running:
        while pending and len(running) < jobs:
            path, mutant, selected = pending.pop(0)
            if not selected:
                finish(mutant, False, " (no test executes this line)")
                continue
            running[_run_mutant(path, mutant, selected)] = (mutant, time.monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG) if running else (0, 0)
        if pid == 0:
            for child, (_, started) in list(running.items()):
                if time.monotonic() - started > timeout:
                    os.kill(child, signal.SIGKILL)
            time.sleep(0.05)
            continue
        mutant, _ = running.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        # 4, 5: pytest usage error / nothing collected: not a kill, but shown so it can be looked into
        finish(mutant, code not in (0, 4, 5), "" if code == 0 else f" (pytest exit {code})")
    for entry in results.values():
        entry["survived"].sort(key=lambda line: int(line.split(":")[1]))
        entry["score"] = round(100 * entry["killed"] / entry["total"], 1) if entry["total"] else 100.0
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", type=Path, help="Python files under compiler/ to mutate.")
    parser.add_argument("--tests", default="tests/guard", help="Test folder or file to run (default tests/guard).")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="Mutants run at once (default 2).")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds before a mutant counts as hanging.")
    parser.add_argument("--min-score", type=float, default=95.0, help="Score every module must reach (percent).")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON to this file.")
    args = parser.parse_args(argv)
    for path in args.modules:
        if not path.is_file() or SOURCE_ROOT not in path.resolve().parents:
            parser.error(f"{path} is not a Python file under compiler/")
    os.chdir(ROOT)
    results = run([p.resolve() for p in args.modules], args.tests, max(1, args.jobs), args.timeout)
    failed = False
    for entry in results.values():
        failed |= entry["score"] < args.min_score
        print(f"{entry['path']}: {entry['killed']}/{entry['total']} mutants killed ({entry['score']}%)")
        for survivor in entry["survived"]:
            print(f"  survived {survivor}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
