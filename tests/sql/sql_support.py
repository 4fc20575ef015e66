"""Helpers for the SQL emitter tests: emit from the example specs or from an edited copy of them.

A uniquely named module (not conftest) so test modules can import it without clashing with other
folders' conftest files; ``conftest.py`` re-exports the fixtures."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.emit.contract import EmitContext, OutputTree
from paybill.emit.sql import emit_sql
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"

Emitted = tuple[OutputTree, list[Diagnostic]]


def emit_from(specs: Path) -> Emitted:
    result = validate_repository(specs)
    assert result.ok, [str(d) for d in result.diagnostics]
    sink = DiagnosticSink()
    tree = emit_sql(EmitContext(index=result.index, sink=sink))
    return tree, sink.sorted()


@pytest.fixture(scope="session")
def example() -> Emitted:
    return emit_from(SPECS)


def folder(tree: OutputTree, database: str) -> dict[str, bytes]:
    prefix = f"sql/{database}/"
    return {path[len(prefix):]: body for path, body in tree.items() if path.startswith(prefix)}


def databases(tree: OutputTree) -> list[str]:
    return sorted({path.split("/")[1] for path in tree})


@pytest.fixture
def edited_specs(tmp_path: Path) -> Callable[[dict[str, Callable[[str], str] | str]], Path]:
    """Copy the example specs, then replace or rewrite files: ``{"agents/x.yaml": new_text_or_fn}``."""

    def make(edits: dict[str, Callable[[str], str] | str]) -> Path:
        root = tmp_path / "specs"
        if not root.exists():
            shutil.copytree(SPECS, root)
        for name, edit in edits.items():
            path = root / name
            if callable(edit):
                text = edit(path.read_text(encoding="utf-8"))
                assert text != path.read_text(encoding="utf-8"), f"edit of {name} changed nothing"
            else:
                text = edit
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make
