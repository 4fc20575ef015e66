"""Fixtures shared by the foundation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import build_repo


@pytest.fixture
def base_repo(tmp_path: Path) -> Path:
    """A copy of the small valid base repository at ``tmp_path/specs``."""
    return build_repo(tmp_path)
