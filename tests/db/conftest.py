"""Fixtures for tests on a real PostgreSQL server (helpers live in :mod:`pg_support`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import (
    FIXTURE_POOL,
    build_fixture_specs,
    drop_roles,
    emit,
    folder,
    paybill_roles,
    require_server,
    scratch_database,
)
from pg_world import World, build_world, seed

from paybill.emit.contract import OutputTree


@pytest.fixture(scope="session")
def pg_server() -> Iterator[None]:
    """The server is there (or the test fails under CI / skips loudly); paybill roles this session
    created are dropped at the end, so the cluster is left as found."""
    require_server()
    before = paybill_roles()
    yield
    drop_roles(paybill_roles() - before)


@pytest.fixture(scope="session")
def fixture_specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_fixture_specs(tmp_path_factory.mktemp("pbdb"))


@pytest.fixture(scope="session")
def fixture_tree(fixture_specs: Path) -> OutputTree:
    return emit(fixture_specs)


@pytest.fixture(scope="session")
def fixture_bundles(fixture_specs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pg_support import write_bundles

    return write_bundles(fixture_specs, tmp_path_factory.mktemp("bundles"))


@pytest.fixture(scope="session")
def pool_database(pg_server: None, fixture_tree: OutputTree) -> Iterator[str]:
    """One pooled database (the fixture's aws-use1-shared, eight tenants) with the SQL applied."""
    from pg_support import apply_folder

    with scratch_database("pool") as name:
        apply_folder(name, folder(fixture_tree, FIXTURE_POOL))
        yield name


@pytest.fixture(scope="session")
def seeded_pool(pool_database: str, fixture_specs: Path) -> tuple[World, str]:
    """The pooled database with rows for each of its eight tenants (see :func:`pg_world.seed`).
    Tests that use it must roll back whatever they do, so every test sees exactly these rows."""
    import psycopg
    from pg_support import dsn_for

    world = build_world(fixture_specs)
    with psycopg.connect(dsn_for(pool_database), autocommit=True) as conn:
        seed(conn, world)
    return world, pool_database
