"""Emitted SQL is byte-identical across runs, hash seeds and machines (no paths, no timestamps)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from sql_support import ROOT, Emitted, emit_from

SCRIPT = """
import hashlib, sys
from pathlib import Path
from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.sql import emit_sql
from paybill.validate import validate_repository
tree = emit_sql(EmitContext(index=validate_repository(Path('specs')).index, sink=DiagnosticSink()))
digest = hashlib.sha256()
for path, body in tree.items():
    digest.update(path.encode() + b"\\0" + body + b"\\0")
print(digest.hexdigest())
"""


def digest(tree: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path, body in tree.items():
        h.update(path.encode() + b"\0" + body + b"\0")
    return h.hexdigest()


def test_same_bytes_twice_in_process(example: Emitted) -> None:
    again, _ = emit_from(ROOT / "specs")
    assert again == example[0]
    assert list(again) == sorted(again)


def test_same_bytes_under_other_hash_seeds(example: Emitted) -> None:
    expected = digest(example[0])
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        assert out.stdout.strip() == expected


def test_no_absolute_paths_or_timestamps(example: Emitted) -> None:
    for path, body in example[0].items():
        text = body.decode()
        assert str(ROOT) not in text, path
        assert "/tmp" not in text and "T00:" not in text, path
