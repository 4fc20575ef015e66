"""Fixtures for the ``paybill db`` tests: a reachable server (fails under CI=true without one) and
paybill roles this session created dropped at the end (roles are cluster-wide)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "db"))
from pg_support import drop_roles, paybill_roles, require_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[None]:
    require_server()
    before = paybill_roles()
    yield
    drop_roles(paybill_roles() - before)
