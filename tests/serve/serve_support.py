"""Fixtures for `paybill serve` tests: a real PostgreSQL database with the compiled SQL applied and
seeded, a login that is only a member of ``paybill_guard`` (plus CREATE on the database for the run
state schema), the ops-agent bundle, and server processes started the way users start them.

The specs are the database tests' fixture plus three tenants of ops-agent's scope in the aws pool in
the states an agent must be refused in: ``susp-co`` (suspended), ``offb-co`` (offboarding) and
``del-co`` (deleted).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "db"))

from pg_support import (
    FIXTURE_POOL,
    apply_folder,
    build_fixture_specs,
    drop_roles,
    dsn_for,
    emit,
    folder,
    paybill_roles,
    require_server,
    scratch_database,
    unique,
    write_bundles,
)
from pg_world import World, build_world, seed

ROOT = Path(__file__).resolve().parents[2]
PAYBILL = [sys.executable, "-m", "paybill"]
REFUSED_STATES = {"susp-co": "suspended", "offb-co": "offboarding", "del-co": "deleted"}


@dataclass
class ServeWorld:
    database: str
    login: str
    dsn: str
    """The login's connection string (a member of paybill_guard only)."""
    bundle: Path
    catalog: Path
    world: World
    specs: Path


def build_serve_specs(target: Path) -> Path:
    root = build_fixture_specs(target)
    template = (root / "tenants" / "hooli.yaml").read_text(encoding="utf-8")
    for i, (name, state) in enumerate(sorted(REFUSED_STATES.items())):
        text = (template.replace("name: hooli", f"name: {name}").replace("Hooli", name.title())
                .replace("hooli.example.com", f"{name}.example.com")
                .replace("cus_60a9cc3a975f0b", f"cus_serve{i:04d}")
                .replace("plan: starter", "plan: growth")  # ops-agent acts for them: a plan with ai-agents
                .replace("status: trialing", "status: " + ("past_due" if state == "suspended" else "cancelled"))
                .replace("lifecycle: active", f"lifecycle: {state}"
                         + ("\n  lifecycleSince: \"2026-11-20\"" if state != "suspended" else "")))
        (root / "tenants" / f"{name}.yaml").write_text(text, encoding="utf-8")
    ops = root / "agents" / "ops-agent.yaml"
    text = ops.read_text(encoding="utf-8").replace(
        "beta-co, delta-co]", "beta-co, delta-co, susp-co, offb-co, del-co]")
    ops.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def serve_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeWorld]:
    require_server()
    roles_before = paybill_roles()
    base = tmp_path_factory.mktemp("serve")
    specs = build_serve_specs(base)
    tree = emit(specs)
    bundles = write_bundles(specs, base / "out")
    files = folder(tree, FIXTURE_POOL)
    catalog = base / "sql" / FIXTURE_POOL
    catalog.mkdir(parents=True)
    for name, body in files.items():
        (catalog / name).write_bytes(body)
    login = unique("serve")
    try:
        with scratch_database("serve") as database:
            apply_folder(database, files)
            world = build_world(specs)
            with psycopg.connect(dsn_for(database), autocommit=True) as admin:
                seed(admin, world)
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
                admin.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                                   sql.Identifier(login)))
            try:
                yield ServeWorld(database, login, dsn_for(database, user=login), bundles / "ops-agent", catalog,
                                 world, specs)
            finally:
                with psycopg.connect(dsn_for(database), autocommit=True) as admin:
                    admin.execute("DROP SCHEMA IF EXISTS paybill CASCADE")
                    admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(database),
                                                                                       sql.Identifier(login)))
    finally:
        with psycopg.connect(dsn_for("test"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
        drop_roles(paybill_roles() - roles_before)


def free_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class HttpServer:
    process: subprocess.Popen[str]
    url: str
    token: str
    log: Path | None
    stderr: list[str] = field(default_factory=list)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(timeout=10)
        return self.process.returncode


def _drain(process: subprocess.Popen[str], into: list[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        into.append(line)


def start_http(world: ServeWorld, tmp: Path, *, token: str | None = None, extra: tuple[str, ...] = (),
               env: dict[str, str] | None = None, log: bool = True) -> HttpServer:
    """`paybill serve --transport http --listen 127.0.0.1:0` as a process; waits for its address.

    ``log``: with a decision log (``--log``) the server reads every run under its row lock; without
    one it continues runs from the state it stored last, versioned (``paybill.serve.state``).
    """
    token = token or free_token()
    path = tmp / f"decisions-{secrets.token_hex(3)}.jsonl" if log else None
    process = subprocess.Popen(
        [*PAYBILL, "serve", "--bundle", str(world.bundle), "--catalog", str(world.catalog), "--database-url",
         world.dsn, "--transport", "http", "--listen", "127.0.0.1:0", *(("--log", str(path)) if path else ()),
         *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PAYBILL_SERVE_TOKEN": token, **(env or {})}, cwd=ROOT)
    return wait_listening(process, token, path)


def wait_listening(process: subprocess.Popen[str], token: str, log: Path | None) -> HttpServer:
    """The server ``process`` (``--listen 127.0.0.1:0``) once it printed its address; its standard error
    is then drained into :attr:`HttpServer.stderr` (the lines before the address included)."""
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            server = HttpServer(process, found.group(1), token, log, lines)
            threading.Thread(target=_drain, args=(process, server.stderr), daemon=True).start()
            return server
    process.kill()
    raise AssertionError("paybill serve did not start:\n" + "".join(lines))


@pytest.fixture
def http_server(serve_world: ServeWorld, tmp_path: Path) -> Iterator[HttpServer]:
    server = start_http(serve_world, tmp_path)
    yield server
    server.stop()
