"""The example repository is the default input: it must validate cleanly from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_specs_validate_cleanly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paybill", "validate"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: ")
