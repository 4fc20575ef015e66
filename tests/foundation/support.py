"""Shared helpers for the foundation tests: fixture repositories, paths, and running the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SCHEMAS = ROOT / "schemas"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE = FIXTURES / "_base"
CLI_TIMEOUT = 20.0
"""Seconds before a CLI subprocess counts as hung; hazard tests assert a much tighter budget."""


def build_repo(tmp_path: Path, *overlays: Path, files: dict[str, str | bytes] | None = None) -> Path:
    """A spec repository at ``tmp_path/specs``: the base fixture, overlays on top, then ``files``.

    An overlay is a folder whose files replace or add to the base at the same relative path, so a
    fixture holds only the file that carries its mistake. The root is named ``specs`` so displayed
    paths read ``specs/tenants/x.yaml`` like in a real repository.
    """
    root = tmp_path / "specs"
    shutil.copytree(BASE, root)
    for overlay in overlays:
        shutil.copytree(overlay, root, dirs_exist_ok=True)
    for relative, content in (files or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def cli_env(seed: str = "0") -> dict[str, str]:
    """The environment for CLI subprocesses: no debug tracebacks, a given hash seed, no colour."""
    env = {k: v for k, v in os.environ.items() if k not in {"PAYBILL_DEBUG", "PYTHONWARNINGS"}}
    env.update({"PYTHONHASHSEED": seed, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    return env


def run_cli(
    *args: str, cwd: Path, timeout: float = CLI_TIMEOUT, seed: str = "0"
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m paybill ARGS`` in ``cwd`` (a real process: exit codes and stderr as users see them)."""
    return subprocess.run(
        [sys.executable, "-m", "paybill", *args],
        cwd=cwd, env=cli_env(seed), capture_output=True, text=True, timeout=timeout, check=False,
    )
