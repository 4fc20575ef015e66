"""Helpers for the bundle emitter tests: emit bundles from the example specs or an edited copy.

A uniquely named module (not conftest) so test modules can import it without clashing with other
folders' helpers; ``conftest.py`` re-exports the fixtures.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.emit.bundles import emit_bundles
from paybill.emit.contract import EmitContext, OutputTree
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"

Emitted = tuple[OutputTree, list[Diagnostic]]
Edits = dict[str, Callable[[str], str] | str]


def emit_from(specs: Path, *, require_valid: bool = True, signing_key: Any = None) -> Emitted:
    """Validate ``specs`` and run the bundle emitter on the index (even with validation errors when asked)."""
    result = validate_repository(specs)
    if require_valid:
        assert result.ok, [str(d) for d in result.diagnostics]
    sink = DiagnosticSink()
    tree = emit_bundles(EmitContext(index=result.index, sink=sink, signing_key=signing_key))
    return tree, sink.sorted()


def bundle_files(tree: OutputTree, agent: str) -> dict[str, bytes]:
    prefix = f"bundles/{agent}/"
    return {path[len(prefix):]: data for path, data in tree.items() if path.startswith(prefix)}


def write_bundle(tree: OutputTree, agent: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in bundle_files(tree, agent).items():
        (dest / name).write_bytes(data)
    return dest


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


@pytest.fixture(scope="session")
def example() -> Emitted:
    return emit_from(SPECS)


@pytest.fixture
def edited_specs(tmp_path: Path) -> Callable[[Edits], Path]:
    """Copy the example specs, then replace or rewrite files: ``{"agents/x.yaml": new_text_or_fn}``."""

    def make(edits: Edits) -> Path:
        root = tmp_path / "specs"
        if not root.exists():
            shutil.copytree(SPECS, root)
        for name, edit in edits.items():
            path = root / name
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            text = edit(old) if callable(edit) else edit
            assert text != old, f"edit of {name} changed nothing"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make
