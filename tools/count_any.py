"""Count ``Any`` in the pipeline's stage interfaces (issue 11's "no Any between stages").

Usage::

    python tools/count_any.py [PACKAGE_DIR] [--list]

``PACKAGE_DIR`` defaults to ``compiler/paybill``; pass another checkout's (for example a
``git archive`` of an older commit) to compare. ``--list`` prints every counted place.

What counts, read from the source with :mod:`ast` (nothing is imported):

* the stages are the packages ``load``, ``validate``, ``resolve``, ``graph``, ``emit``, ``compile``
  and ``write``;
* a **stage interface** is a public (no leading underscore) module-level function or class of a
  stage that some module *outside its own package* imports by name (``from paybill.graph.model
  import DependencyGraph`` in ``paybill.emit``), i.e. what crosses a stage boundary;
* in a function: its parameters and return annotation; in a class: its annotated class-level
  fields (dataclass fields, pydantic fields) and the parameters and returns of its public methods
  and properties;
* each ``Any`` (``Any`` or ``typing.Any``) inside one of those annotations counts once, also when
  nested (``dict[str, Any]`` is one).

Two numbers are printed: ``Any`` in stage interfaces (the issue's measure) and, for context, in
every public signature and field of the stage packages.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STAGES = ("load", "validate", "resolve", "graph", "emit", "compile", "write")
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Place:
    module: str
    line: int
    where: str
    count: int


def module_name(package_dir: Path, path: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def any_count(node: ast.expr | None) -> int:
    if node is None:
        return 0
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return 0
    return sum(1 for sub in ast.walk(node)
               if (isinstance(sub, ast.Name) and sub.id == "Any")
               or (isinstance(sub, ast.Attribute) and sub.attr == "Any"))


def signature_any(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return sum(any_count(a.annotation) for a in every) + any_count(function.returns)


def public(name: str) -> bool:
    return not name.startswith("_")


def definitions(module: str, tree: ast.Module) -> Iterator[tuple[str, Place]]:
    """(public name, its Any count) for every module-level function and class."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and public(node.name):
            yield node.name, Place(module, node.lineno, node.name, signature_any(node))
        elif isinstance(node, ast.ClassDef) and public(node.name):
            count = 0
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    count += any_count(item.annotation)
                elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                        public(item.name) or item.name == "__init__"):
                    count += signature_any(item)
            yield node.name, Place(module, node.lineno, node.name, count)


def imported_from_outside(package_dir: Path, trees: dict[str, ast.Module]) -> set[tuple[str, str]]:
    """(module, name) pairs that a module of another top-level package imports by name."""
    found: set[tuple[str, str]] = set()
    for importer, tree in trees.items():
        importer_package = importer.split(".")[1] if "." in importer else ""
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            parts = node.module.split(".")
            if parts[0] != package_dir.name or len(parts) < 2 or parts[1] == importer_package:
                continue
            for alias in node.names:
                found.add((node.module, alias.name))
    return found


def exported(trees: dict[str, ast.Module], module: str, name: str, seen: set[tuple[str, str]]) -> str | None:
    """The module that defines ``name`` as imported from ``module`` (following re-exports in __init__)."""
    if (module, name) in seen or module not in trees:
        return None
    seen.add((module, name))
    tree = trees[module]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return module
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return exported(trees, node.module, alias.name, seen)
    return None


def main(argv: list[str]) -> int:
    show = "--list" in argv
    paths = [a for a in argv if not a.startswith("--")]
    package_dir = Path(paths[0]) if paths else ROOT / "compiler" / "paybill"
    if not (package_dir / "__init__.py").is_file():
        print(f"{package_dir} is not a package folder", file=sys.stderr)
        return 2
    trees = {module_name(package_dir, path): ast.parse(path.read_text(encoding="utf-8"), str(path))
             for path in sorted(package_dir.rglob("*.py"))}
    crossing = {(exported(trees, module, name, set()), name)
                for module, name in imported_from_outside(package_dir, trees)}
    interface: list[Place] = []
    every: list[Place] = []
    for module, tree in trees.items():
        if module.split(".")[1:2] and module.split(".")[1] in STAGES:
            for name, place in definitions(module, tree):
                if place.count:
                    every.append(place)
                    if (module, name) in crossing:
                        interface.append(place)
    total = sum(p.count for p in interface)
    print(f"Any in stage interfaces (crossing a package boundary): {total} in {len(interface)} definitions")
    print(f"Any in all public signatures and fields of {', '.join(STAGES)}: {sum(p.count for p in every)}")
    if show:
        for place in sorted(interface, key=lambda p: (-p.count, p.module, p.line)):
            print(f"  {place.count:3}  {place.module}:{place.line} {place.where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
