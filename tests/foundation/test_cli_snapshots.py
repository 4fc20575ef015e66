"""What a user sees for a repository with several realistic mistakes, in every output format.

``broken_repo/`` overlays the base fixture with nine files carrying the mistakes people make: a typo
in a plan name, a quoted number, a duplicate key, an unknown field, a misplaced pool, a loop without
a bound. The snapshots were read as a user would before being accepted: one line per problem at its
place, sorted by file, each with a hint, and a summary line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from .support import build_repo, run_cli

BROKEN = Path(__file__).resolve().parent / "broken_repo"


@pytest.fixture(scope="module")
def broken_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(tmp_path_factory.mktemp("broken"), BROKEN).parent


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_validate_output_on_broken_repository(fmt: str, broken_repo: Path, snapshot: SnapshotAssertion) -> None:
    result = run_cli("validate", "specs", "--format", fmt, cwd=broken_repo)
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout == snapshot


def test_text_output_is_sorted_and_one_line_per_problem(broken_repo: Path) -> None:
    lines = run_cli("validate", "specs", cwd=broken_repo).stdout.splitlines()
    problems = [line for line in lines if not line.startswith("  hint: ")][:-1]
    keys = []
    for line in problems:
        path, line_no, col, _ = line.split(":", 3)
        keys.append((path, int(line_no), int(col)))
    assert keys == sorted(keys)
    assert len(problems) == 10
    assert lines[-1] == "10 errors in 16 files checked"


def test_output_is_identical_across_hash_seeds(broken_repo: Path) -> None:
    """Nothing in the output depends on set or dict iteration order."""
    outputs = {run_cli("validate", "specs", "--format", "json", cwd=broken_repo, seed=seed).stdout
               for seed in ("1", "2", "random")}
    assert len(outputs) == 1
