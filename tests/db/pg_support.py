"""Helpers for tests on a real PostgreSQL server: reach it (or fail under CI), scratch databases,
a login that acts like a guard's, applying emitted folders, and the richer spec fixture.

A uniquely named module (not conftest) so test modules can import it; ``conftest.py`` holds the
fixtures. The server is ``PAYBILL_TEST_PG`` (a libpq connection string), by default the local one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext, OutputTree
from paybill.emit.sql import emit_sql
from paybill.emit.sql.apply import apply, verify
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
DSN = os.environ.get("PAYBILL_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_server() -> None:
    """Connect once; without a server fail under CI=true, otherwise skip with a loud reason."""
    try:
        with psycopg.connect(DSN, connect_timeout=3, autocommit=True) as conn:
            version = conn.info.server_version
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at '{DSN}' ({str(exc).strip().splitlines()[0]})"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        print(f"\n*** SKIPPING PostgreSQL tests: {message} ***", file=sys.stderr)
        pytest.skip(f"{message}: database isolation is NOT proven in this run")
    if version < 150000:
        pytest.fail(f"PostgreSQL 15 or later required, server is {version}", pytrace=False)


def dsn_for(database: str, user: str | None = None) -> str:
    params = psycopg.conninfo.conninfo_to_dict(DSN)
    params["dbname"] = database
    if user:
        params["user"] = user
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def admin() -> psycopg.Connection[Any]:
    return psycopg.connect(DSN, autocommit=True)


def unique(prefix: str) -> str:
    return f"pbtest_{prefix}_{secrets.token_hex(4)}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A fresh database with a unique name, dropped (even with open sessions) afterwards."""
    name = unique(prefix)
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def paybill_roles() -> set[str]:
    with admin() as conn:
        return {r[0] for r in conn.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}


def drop_roles(roles: set[str]) -> None:
    """Best effort: a role still used by another session's database stays (and is harmless: NOLOGIN)."""
    with admin() as conn:
        for role in sorted(roles, key=lambda r: r == "paybill_guard"):
            with suppress(psycopg.Error):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def emit(specs: Path) -> OutputTree:
    result = validate_repository(specs)
    assert result.ok, [f"{d.path}:{d.position.line}: {d.code} {d.message}" for d in result.diagnostics]
    sink = DiagnosticSink()
    tree = emit_sql(EmitContext(index=result.index, sink=sink))
    assert not sink.has_errors, sink.sorted()
    return tree


def write_bundles(specs: Path, target: Path) -> Path:
    """Compile the agents' Cedar bundles (issue 4's emitter) for ``specs`` into ``target/bundles``."""
    from paybill.emit.bundles import emit_bundles

    sink = DiagnosticSink()
    tree = emit_bundles(EmitContext(index=validate_repository(specs).index, sink=sink))
    assert not sink.has_errors, sink.sorted()
    for path, body in tree.items():
        file = target / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body)
    return target / "bundles"


def folder(tree: OutputTree, database: str) -> dict[str, bytes]:
    prefix = f"sql/{database}/"
    return {path[len(prefix):]: body for path, body in tree.items() if path.startswith(prefix)}


def apply_folder(database: str, files: dict[str, bytes]) -> None:
    with psycopg.connect(dsn_for(database)) as conn:
        apply(conn, verify(files))


# -- the richer fixture: the example specs plus six pooled tenants in aws-use1-shared ---------------

EXTRA_TENANTS = {
    # name: support tier (support-assistant selects premium)
    "alpha-co": "premium", "beta-co": "premium", "gamma-co": "premium",
    "delta-co": "standard", "epsilon-co": "standard", "zeta-co": "standard",
}
FIXTURE_POOL = "pool-aws-use1-shared"
AGENTS_ACT_FOR = {"alpha-co", "beta-co", "gamma-co", "delta-co"}
"""The extra tenants the support assistant (premium) or ops-agent name: on growth, a plan with ai-agents
(PB0451); epsilon-co and zeta-co stay on starter."""


def build_fixture_specs(target: Path) -> Path:
    """Example specs + six tenants pooled in aws-use1-shared; ops-agent also scoped to two of them and
    allowed to insert and delete tickets (with incident-response steps that do so: a grant no step
    uses is not granted), so every action and every scope form meets row-level security."""
    root = target / "specs"
    shutil.copytree(SPECS, root)
    template = (root / "tenants" / "hooli.yaml").read_text(encoding="utf-8")
    for i, (name, tier) in enumerate(sorted(EXTRA_TENANTS.items())):
        text = (template.replace("name: hooli", f"name: {name}").replace("Hooli", name.title())
                .replace("hooli.example.com", f"{name}.example.com")
                .replace("labels: {segment: smb}", f"labels: {{segment: smb, support-tier: {tier}}}")
                .replace("plan: starter", "plan: growth" if name in AGENTS_ACT_FOR else "plan: starter")
                .replace("cus_60a9cc3a975f0b", f"cus_fixture{i:04d}"))
        (root / "tenants" / f"{name}.yaml").write_text(text, encoding="utf-8")
    ops = root / "agents" / "ops-agent.yaml"
    text = ops.read_text(encoding="utf-8")
    text = text.replace("tenants: [acme-corp, globex, initech, wayne-enterprises]",
                        "tenants: [acme-corp, globex, initech, wayne-enterprises, beta-co, delta-co]")
    text = text.replace("        update: [status, assignee]\n",
                        "        update: [status, assignee]\n"
                        "        insert: [id, customer_id, subject, status, priority, created_at]\n"
                        "        delete: true\n")
    ops.write_text(text, encoding="utf-8")
    workflow = root / "workflows" / "incident-response.yaml"
    text = workflow.read_text(encoding="utf-8").replace(
        "      next: [close-tickets, done]\n",
        "      next: [close-tickets, open-followup, purge-duplicates, done]\n"
        "    - id: open-followup\n      action: insert\n      resource: tickets\n      next: [done]\n"
        "    - id: purge-duplicates\n      action: delete\n      resource: tickets\n      next: [done]\n")
    workflow.write_text(text, encoding="utf-8")
    return root
