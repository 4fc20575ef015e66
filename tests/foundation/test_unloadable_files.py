"""Files that cannot be loaded: reported once, at the root cause, and never half-used.

A spec file whose name is not UTF-8 is reported, never read, and never reaches any output.

Such a name reaches Python as lone surrogates; written into manifest.json, a Cedar string or a
diagnostic it would crash the writer or corrupt the output, so discovery stops it at the door.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .support import SPECS, run_cli


def test_a_non_utf8_file_name_is_one_clean_diagnostic(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    bad = os.path.join(os.fsencode(specs / "tenants"), b"bad\xff.yaml")
    with open(bad, "wb") as handle:
        handle.write((SPECS / "tenants" / "hooli.yaml").read_bytes())
    result = run_cli("compile", "specs", "--out", "generated", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines()[:2] == [
        "specs/tenants/bad\ufffd.yaml:1:1: error[PB0114]: cannot read file: its name is not valid UTF-8",
        "  hint: rename the file: spec file names must be UTF-8",
    ]
    assert not (tmp_path / "generated").exists()


def test_a_spec_that_fails_to_load_causes_no_follow_on_reference_errors(tmp_path: Path) -> None:
    """A duplicate key in the growth Plan is one error, not one more per tenant on that plan."""
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    plan = specs / "plans" / "growth.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + "  tier: 9\n", encoding="utf-8")
    for command in ("validate", "compile"):
        result = run_cli(command, "specs", cwd=tmp_path)
        assert result.returncode == 1
        errors = [line.split(": ")[1] for line in result.stdout.splitlines() if ": error[" in line]
        assert errors == ["error[PB0102]"], (command, result.stdout)
