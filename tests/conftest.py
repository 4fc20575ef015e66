"""Suite-wide hooks: how the suite shares two cores (pytest-xdist, ``-n 2 --dist loadgroup`` in the
Makefile's ``test``) without two tests stepping on the same cluster-wide state.

PostgreSQL roles are cluster-wide, not per database: every emitted migration 0001 creates the same
``paybill_*`` roles when missing, migration 0005 walks every ``paybill_agent_*`` role of the cluster,
and each worker's ``pg_server`` fixture drops the roles its session created. Two workers doing that
at once race (a role created twice, or dropped under another worker's migration), and some modules'
tests build on what the earlier tests of the module did to a shared server (tests/serve's metrics).
So every test marked ``postgres`` runs in one xdist group: on one worker, in file order, as it did
before the suite ran in parallel. Everything else is spread over both workers, test by test.
"""

from __future__ import annotations

import os

import pytest

POSTGRES_GROUP = "postgres"


def _worker_groups(config: pytest.Config) -> bool:
    """True in an xdist worker of a ``--dist loadgroup`` run (the only place groups mean anything)."""
    # a worker's own `dist` option is "no"; xdist sets `loadgroup` in the worker's options instead
    return bool(os.environ.get("PYTEST_XDIST_WORKER")) and bool(getattr(config.option, "loadgroup", False))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put PostgreSQL tests in one group. ``tryfirst``: xdist reads the groups in its own
    ``pytest_collection_modifyitems`` (it appends ``@group`` to the node ids it schedules by)."""
    for item in items:
        if item.get_closest_marker("postgres") is not None or "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(POSTGRES_GROUP))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a grouped test that xdist did not group. xdist groups by appending ``@group`` to node ids,
    which pytest 9.2's structured ids silently ignore (pytest-dev/pytest-xdist#1386): the PostgreSQL
    tests would then run on both workers at once and fail only now and then; this fails every time."""
    groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                     for mark in item.iter_markers("xdist_group")})
    if not groups or not _worker_groups(item.config):
        return
    if not item.nodeid.endswith("@" + "_".join(groups)):
        pytest.fail(f"pytest-xdist did not put this test in its group {'_'.join(groups)!r} (pytest "
                    f"{pytest.__version__}: --dist loadgroup no longer groups); run with `-n 0`, or with a "
                    "pytest that the test extras in pyproject.toml allow", pytrace=False)
