"""Helpers for the guard tests: bundles compiled from the example specs (or an edited copy), keys.

A uniquely named module (not conftest) so test modules can import it without clashing with other
folders' helpers; ``conftest.py`` re-exports the fixtures.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from paybill.diagnostics import DiagnosticSink
from paybill.emit.bundles import emit_bundles
from paybill.emit.contract import EmitContext, OutputTree
from paybill.guard import Guard, ManualClock
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def compile_bundles(specs: Path, out: Path, signing_key: Any = None) -> Path:
    """Validate ``specs``, emit every bundle and write them under ``out/bundles``; returns that folder."""
    result = validate_repository(specs)
    assert result.ok, [str(d) for d in result.diagnostics]
    sink = DiagnosticSink()
    tree: OutputTree = emit_bundles(EmitContext(result.index, sink, signing_key=signing_key))
    assert not sink.has_errors, [str(d) for d in sink.sorted()]
    for path, data in tree.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return out / "bundles"


def copy_bundle(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example specs' bundles (read-only: copy one before tampering with it)."""
    return compile_bundles(SPECS, tmp_path_factory.mktemp("example"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def load(bundles: Path, clock: ManualClock) -> Callable[..., Guard]:
    """``load("ops-agent", **options)``: a guard on an example bundle, driven by the manual clock."""

    def make(agent: str, **options: Any) -> Guard:
        return Guard.load(bundles / agent, clock=clock, **options)

    return make


@pytest.fixture
def edited_bundles(tmp_path: Path) -> Callable[[dict[str, Callable[[str], str]]], Path]:
    """Compile bundles from a copy of the example specs with some files rewritten."""

    def make(edits: dict[str, Callable[[str], str]]) -> Path:
        specs = tmp_path / "specs"
        shutil.copytree(SPECS, specs)
        for name, edit in edits.items():
            path = specs / name
            text = edit(path.read_text(encoding="utf-8"))
            assert text != path.read_text(encoding="utf-8"), f"edit of {name} changed nothing"
            path.write_text(text, encoding="utf-8")
        return compile_bundles(specs, tmp_path / "out")

    return make


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fixed Ed25519 key pair (PEM files and objects) and a second, unrelated public key."""
    folder = tmp_path_factory.mktemp("keys")
    private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (folder / "bundle-key.pem").write_bytes(pem)
    for name, key in (("bundle-key.pub.pem", private), ("other.pub.pem", other)):
        (folder / name).write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"private": private, "private_pem": folder / "bundle-key.pem", "public_pem": folder / "bundle-key.pub.pem",
            "other_pem": folder / "other.pub.pem", "public": private.public_key()}


@pytest.fixture(scope="session")
def signed_bundles(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Any]) -> Path:
    return compile_bundles(SPECS, tmp_path_factory.mktemp("signed"), signing_key=keys["private"])
