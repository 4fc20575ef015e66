"""A tenant is suspended while an agent is connected: `paybill serve` follows the database's migrates.

The flow a user runs, end to end: a spec repository compiled with `paybill compile`, its pool database
migrated with `paybill db migrate` on a real PostgreSQL, `paybill serve` over streamable HTTP and the
official `mcp` client holding one run. Billing suspends the tenant (its spec edited, compiled,
migrated) while the server runs; the agent's next read must be refused with the reason, not answered
with the empty rows row-level security now leaves it. A migrate the folders on disk cannot serve makes
the server refuse every call with the reason until they can (fail closed), and a bundle compiled
apart from its catalog is refused at start (PB1313).
"""

from __future__ import annotations

import collections
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from clients import call, http_client, run
from psycopg import sql
from serve_support import PAYBILL, ROOT, HttpServer, ServeWorld, wait_listening

pytestmark = pytest.mark.postgres

POOL = "pool-gcp-usc1-shared"
TENANT = "initech"
AGENT = "ops-agent"
TICKET = "11111111-1111-4111-8111-111111111111"


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A scratch database and a login that is only a member of paybill_guard (like a server's)."""
    from pg_support import dsn_for, require_server, scratch_database, unique

    require_server()
    login = unique("live")
    try:
        with scratch_database("live") as name:
            yield name, login
    finally:
        with psycopg.connect(dsn_for("test"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def _paybill(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([*PAYBILL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"paybill {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stderr


def _set_lifecycle(repo: Path, lifecycle: str, billing: str) -> None:
    """Edit the tenant's spec as billing's pull request does (lifecycle and billing status together)."""
    path = repo / "specs" / "tenants" / f"{TENANT}.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  lifecycle: \S+$", f"  lifecycle: {lifecycle}", text)
    text = re.sub(r"(?m)^    status: \S+$", f"    status: {billing}", text)
    path.write_text(text, encoding="utf-8")


def _spec_repo(tmp: Path) -> Path:
    repo = tmp / "repo"
    shutil.copytree(ROOT / "specs", repo / "specs")
    _set_lifecycle(repo, "active", "active")
    _paybill(repo, "compile", "specs")
    return repo


def _migrated_world(database: tuple[str, str], tmp: Path) -> tuple[Path, str, str]:
    """A compiled spec repository whose pool database is migrated, with one ticket of the tenant and a
    login that is only a member of paybill_guard: (repository, admin URL, the server's URL)."""
    from pg_support import dsn_for

    name, login = database
    admin_url = dsn_for(name)
    repo = _spec_repo(tmp)
    _paybill(repo, "db", "migrate", "--database-url", admin_url, f"generated/sql/{POOL}")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
        admin.execute("INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, status, priority, created_at)"
                      " VALUES (%s, %s, gen_random_uuid(), 'printer on fire', 'open', 'high', now())",
                      (TENANT, TICKET))
    return repo, admin_url, dsn_for(name, user=login)


def _start(repo: Path, url: str, extra: tuple[str, ...]) -> HttpServer:
    token = secrets.token_urlsafe(24)
    process = subprocess.Popen(
        [*PAYBILL, "serve", "--bundle", f"generated/bundles/{AGENT}", "--catalog", f"generated/sql/{POOL}",
         "--database-url", url, "--transport", "http", "--listen", "127.0.0.1:0", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=repo,
        env={**os.environ, "PAYBILL_SERVE_TOKEN": token})
    return wait_listening(process, token, None)


@pytest.mark.parametrize("extra", [
    (), ("--workers", "2"),
    ("--log", "decisions.jsonl", "--shadow", f"generated/bundles/{AGENT}", "--shadow-log", "shadow.jsonl"),
], ids=["one-process", "workers", "log-and-shadow"])
def test_an_agent_is_told_its_tenant_was_suspended_while_it_was_connected(database: tuple[str, str],
                                                                         tmp_path: Path, extra: tuple[str, ...]
                                                                         ) -> None:
    """Before: the server kept the bundle it loaded at start, in which the tenant was active. After the
    suspension was migrated, row-level security hid the tenant's rows and the agent's read came back
    allowed and empty, with no reason. With ``--workers`` each worker follows the ledger itself; with a
    decision log and a shadow, runs are read under their lock and the shadow wraps the reloaded guard."""
    repo, admin_url, url = _migrated_world(database, tmp_path)
    server = _start(repo, url, extra)
    elsewhere = tmp_path / "elsewhere"

    async def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with http_client(server.url, server.token) as client:
            ok, started = await call(client, "start_run", tenant=TENANT, workflow="incident-response")
            assert ok, started
            read = {"run_id": started["run_id"], "tenant": TENANT, "columns": ["id", "subject"]}
            seen["before"] = await call(client, "read_tickets", **read)

            # billing suspends the tenant: the spec change merges, is compiled, and migrated
            _set_lifecycle(repo, "suspended", "past_due")
            _paybill(repo, "compile", "specs")
            _paybill(repo, "db", "migrate", "--database-url", admin_url, f"generated/sql/{POOL}")
            seen["suspended"] = await call(client, "read_tickets", **read)

            # reactivated, but migrated from another checkout: the served folders are not that revision
            _set_lifecycle(repo, "active", "active")
            _paybill(repo, "compile", "specs", "--out", str(elsewhere))
            _paybill(repo, "db", "migrate", "--database-url", admin_url, str(elsewhere / "sql" / POOL))
            seen["elsewhere"] = await call(client, "read_tickets", **read)

            _paybill(repo, "compile", "specs")  # the served folders catch up
            time.sleep(1.2)  # the server reads the folders again at most once a second meanwhile
            seen["caught-up"] = await call(client, "read_tickets", **read)
        return seen

    try:
        seen = run(flow)
    finally:
        server.stop()
    ok, before = seen["before"]
    assert ok and before["rows"] == [{"id": TICKET, "subject": "printer on fire"}], before

    ok, suspended = seen["suspended"]
    assert not ok, f"the agent was answered, not told its tenant is suspended: {suspended}"
    assert suspended["error"] == "denied" and suspended["violations"] == ["tenant.lifecycle"], suspended
    assert f"tenant '{TENANT}' is suspended" in suspended["message"], suspended

    ok, refused = seen["elsewhere"]
    assert not ok and refused["error"] == "unavailable" and refused["reason"] == "revision", refused
    assert f"{POOL} was migrated to revision" in refused["message"], refused
    assert "generated/" not in refused["message"], refused  # the server's files are named in its log only

    ok, again = seen["caught-up"]
    assert ok and again["count"] == 1, again
    log = "".join(server.stderr)
    # twice per process that served a call (with --workers, a new connection may reach the other worker)
    assert log.count("now serving bundle revision") >= 2, log
    assert f"--catalog generated/sql/{POOL} holds revision" in log and "refusing every call" in log, log
    assert "Traceback" not in log, log
    if "--log" in extra:
        # every decision logged was made on the revision the database ran: the ledger check rides along
        # with the run's lock, so no decision of the stale bundle was logged and then rolled back
        checks = [json.loads(line) for line in (repo / "decisions.jsonl").read_text().splitlines()]
        reads = [(c["revision"], c["decision"]["allowed"]) for c in checks if c["op"] == "check"]
        active, suspended_revision = reads[0][0], reads[1][0]
        assert reads == [(active, True), (suspended_revision, False), (active, True)], reads


def test_a_bundle_compiled_apart_from_its_catalog_is_not_served(tmp_path: Path) -> None:
    """Before: serve never compared bundle and catalog, so the bundle of one compile (the tenant
    suspended) was served beside the catalog of another (the tenant active)."""
    repo = _spec_repo(tmp_path)
    _set_lifecycle(repo, "suspended", "past_due")
    other = tmp_path / "other"
    _paybill(repo, "compile", "specs", "--out", str(other))
    done = subprocess.run(
        [*PAYBILL, "serve", "--bundle", str(other / "bundles" / AGENT), "--catalog", f"generated/sql/{POOL}",
         "--database-url", "host=127.0.0.1 port=1 dbname=never-reached"],
        cwd=repo, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False,
        env={k: v for k, v in os.environ.items() if k != "PAYBILL_SERVE_TOKEN"})
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert ("error[PB1313]: bundle revision " in done.stderr
            and f"were compiled from different versions of specs/tenants/{TENANT}.yaml" in done.stderr), done.stderr
    assert "hint: serve the bundle and the catalog of the same `paybill compile`" in done.stderr


def test_a_catalog_that_admits_a_tenant_the_bundle_does_not_know_is_another_compile() -> None:
    from paybill.guard import load_bundle
    from paybill.serve import live

    bundle = load_bundle(ROOT / "generated" / "bundles" / AGENT)
    catalog = live.read_catalog(ROOT / "generated" / "sql" / POOL)
    assert live.mismatch(bundle, catalog) is None
    plan = catalog.plan
    agents = tuple(replace(a, tenants=(*a.tenants, "newco")) if a.name == AGENT else a for a in plan.agents)
    grown = replace(catalog, plan=replace(plan, agents=agents))
    refused = live.mismatch(bundle, grown)
    assert refused is not None and refused.code == "PB1313"
    assert "lets agent 'ops-agent' act for tenant 'newco', which bundle revision" in refused.message


def test_a_run_left_at_a_step_the_served_bundle_does_not_have_is_refused_with_the_reason(
        serve_world: ServeWorld) -> None:
    """After a reload the bundle may no longer have the step a run is at: the run is refused
    (``run.stale``) with the reason, not answered with an internal error."""
    from paybill.guard import Guard
    from paybill.serve.live import read_catalog
    from paybill.serve.service import ServeConfig, Service, new_clock

    service = Service(Guard.load(serve_world.bundle, clock=new_clock()), read_catalog(serve_world.catalog).plan,
                      serve_world.dsn, ServeConfig(pool_min=1, pool_max=1, run_cache=0))
    service.open()
    try:
        started = service.call("start_run", {"tenant": "beta-co", "workflow": "incident-response"})
        rid = started.data["run_id"]
        with psycopg.connect(serve_world.dsn, autocommit=True) as other:
            other.execute("UPDATE paybill.runs SET state = jsonb_set(state, '{step}', '\"triage\"') WHERE id = %s",
                          (rid,))
        refused = service.call("read_tickets", {"run_id": rid, "tenant": "beta-co", "columns": ["id"]})
    finally:
        service.close()
    assert refused.outcome == "denied" and refused.data["violations"] == ["run.stale"], refused.data
    assert "cannot continue under bundle revision" in refused.data["message"]
    assert "start a new run" in refused.data["message"]


def test_a_compile_swapping_the_folders_while_they_are_read_is_read_again(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog is read, then a compile swaps both folders, then the bundle is read: the pair is of
    two compiles. Loading reads the catalog again and starts over instead of refusing it (PB1313)."""
    from paybill.guard import Guard
    from paybill.guard.clock import default_clock
    from paybill.serve import live

    repo = _spec_repo(tmp_path)
    _set_lifecycle(repo, "suspended", "past_due")
    _paybill(repo, "compile", "specs", "--out", str(tmp_path / "next"))
    served = tmp_path / "served"
    shutil.copytree(repo / "generated", served)
    original = Guard.load
    swaps = []

    def load_during_a_swap(*args: Any, **kwargs: Any) -> Guard:
        if not swaps:  # the compile lands between the catalog's read and the bundle's
            swaps.append(1)
            shutil.rmtree(served)
            shutil.copytree(tmp_path / "next", served)
        return original(*args, **kwargs)

    monkeypatch.setattr(live.Guard, "load", load_during_a_swap)
    guard, catalog = live.load(live.Origin(served / "bundles" / AGENT, served / "sql" / POOL),
                               clock=default_clock, log=None)
    assert swaps and guard.bundle.tenant_lifecycles[TENANT] == "suspended"
    assert live.mismatch(guard.bundle, catalog) is None
    assert catalog.revision == live.read_catalog(tmp_path / "next" / "sql" / POOL).revision


def test_calls_racing_migrates_are_never_answered_with_the_other_revisions_rows(database: tuple[str, str],
                                                                                tmp_path: Path) -> None:
    """Four threads read while the tenant is suspended and reactivated four times (the served folders
    switched, then migrated): every read is the tenant's rows, the lifecycle refusal or (while the
    folders and the ledger disagree) ``unavailable`` - never allowed and empty (the old bundle deciding
    while PostgreSQL already hides the rows), never an internal error - and every migrate succeeds (the
    server's check takes no lock a migrate waits on)."""
    from pg_support import dsn_for

    from paybill.serve import live
    from paybill.serve.service import ServeConfig, Service, Watch, new_clock

    name, login = database
    admin_url = dsn_for(name)
    repo = _spec_repo(tmp_path)
    trees = {"active": repo / "generated", "suspended": tmp_path / "suspended"}
    _set_lifecycle(repo, "suspended", "past_due")
    _paybill(repo, "compile", "specs", "--out", str(trees["suspended"]))
    served = tmp_path / "served"  # a symlink switched as a deploy switches releases

    def deploy_and_migrate(state: str) -> None:
        link = tmp_path / "served.next"
        link.symlink_to(trees[state])
        os.replace(link, served)
        _paybill(repo, "db", "migrate", "--database-url", admin_url, str(served / "sql" / POOL))

    deploy_and_migrate("active")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
        admin.execute("INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, status, priority, created_at)"
                      " VALUES (%s, %s, gen_random_uuid(), 's', 'open', 'high', now())", (TENANT, TICKET))
    origin = live.Origin(served / "bundles" / AGENT, served / "sql" / POOL)
    guard, catalog = live.load(origin, clock=new_clock(), log=None)
    service = Service(guard, catalog.plan, dsn_for(name, user=login), ServeConfig(pool_min=4, pool_max=4))
    service.open()
    service.follow(Watch(origin, catalog.database), catalog.revision)
    answers: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    def agent() -> None:
        while not stop.is_set():
            started = service.call("start_run", {"tenant": TENANT, "workflow": "incident-response"})
            for _ in range(25):  # under the workflow's 30 calls a minute
                out = service.call("read_tickets", {"run_id": started.data["run_id"], "tenant": TENANT,
                                                    "columns": ["id"]})
                answers["rows" if out.ok and out.data["count"] == 1 else
                        "empty" if out.ok else ",".join([out.data["error"], *out.data.get("violations", [])])] += 1

    threads = [threading.Thread(target=agent) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for _ in range(4):
            time.sleep(0.3)
            deploy_and_migrate("suspended")
            time.sleep(0.3)
            deploy_and_migrate("active")
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        service.close()
    # "unavailable" is closed too: on a loaded machine a reload may start only after the next deploy
    # switched the folders (the ledger still at the previous revision), and is refused until it matches
    assert {"rows", "denied,tenant.lifecycle"} <= set(answers) <= {"rows", "denied,tenant.lifecycle",
                                                                   "unavailable"}, answers


def test_a_bundle_loaded_after_a_migrate_is_verified_as_at_start(database: tuple[str, str], tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """Served with --public-key: the suspension compiled without the signing key is not served (every
    call refused, the reason in the server's log); the same change compiled signed is."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from pg_support import dsn_for

    from paybill.serve import live
    from paybill.serve.service import ServeConfig, Service, Watch, new_clock

    private = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signing = {"PAYBILL_BUNDLE_SIGNING_KEY": private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()}
    public = tmp_path / "bundle-key.pub.pem"
    public.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    name, login = database
    admin_url = dsn_for(name)
    repo = _spec_repo(tmp_path)
    _paybill(repo, "compile", "specs", env=signing)
    _paybill(repo, "db", "migrate", "--database-url", admin_url, f"generated/sql/{POOL}")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
    origin = live.Origin(repo / "generated" / "bundles" / AGENT, repo / "generated" / "sql" / POOL, (public,), AGENT)
    guard, catalog = live.load(origin, clock=new_clock(), log=None)
    service = Service(guard, catalog.plan, dsn_for(name, user=login), ServeConfig(pool_min=1, pool_max=1))
    service.open()
    service.follow(Watch(origin, catalog.database), catalog.revision)
    try:
        rid = service.call("start_run", {"tenant": TENANT, "workflow": "incident-response"}).data["run_id"]
        read = {"run_id": rid, "tenant": TENANT, "columns": ["id"]}
        assert service.call("read_tickets", read).ok

        _set_lifecycle(repo, "suspended", "past_due")
        _paybill(repo, "compile", "specs", env={"PAYBILL_BUNDLE_SIGNING_KEY": ""})  # not signed
        _paybill(repo, "db", "migrate", "--database-url", admin_url, f"generated/sql/{POOL}")
        unsigned = service.call("read_tickets", read)
        _paybill(repo, "compile", "specs", env=signing)
        time.sleep(1.2)
        signed = service.call("read_tickets", read)
    finally:
        service.close()
    assert unsigned.outcome == "error" and unsigned.data["error"] == "unavailable", unsigned.data
    assert any("bundle refused (unsigned)" in r.getMessage() and "(PB1301)" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert signed.outcome == "denied" and signed.data["violations"] == ["tenant.lifecycle"], signed.data


def test_a_reactivated_tenant_is_served_again_under_a_revision_store(database: tuple[str, str],
                                                                     tmp_path: Path) -> None:
    """Revisions are content hashes: suspending a tenant and reactivating it compiles back to the
    revision of before the suspension, which ``--revision-store`` refused as a rollback. The server
    then refused every call after the reactivation was migrated, and would not start again. The
    database's ledger proves that revision is the deployed one (the catalog is its last migrate, the
    bundle of the same compile), so it is recorded as the newest again; a bundle seen before is still
    a rollback when nothing proves it (``tests/guard/test_binding.py``)."""
    repo, admin_url, url = _migrated_world(database, tmp_path)
    store = tmp_path / "revisions.json"
    server = _start(repo, url, ("--revision-store", str(store)))

    async def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with http_client(server.url, server.token) as client:
            for step, (lifecycle, billing) in (("active", ("active", "active")),
                                                ("suspended", ("suspended", "past_due")),
                                                ("reactivated", ("active", "active"))):
                if step != "active":
                    _set_lifecycle(repo, lifecycle, billing)
                    _paybill(repo, "compile", "specs")
                    _paybill(repo, "db", "migrate", "--database-url", admin_url, f"generated/sql/{POOL}")
                ok, started = await call(client, "start_run", tenant=TENANT, workflow="incident-response")
                seen[step] = (ok, started) if not ok else await call(
                    client, "read_tickets", run_id=started["run_id"], tenant=TENANT, columns=["id"])
        return seen

    try:
        seen = run(flow)
    finally:
        server.stop()
    assert seen["active"][0] and seen["active"][1]["count"] == 1, seen
    assert not seen["suspended"][0] and seen["suspended"][1]["error"] == "denied", seen
    ok, again = seen["reactivated"]
    assert ok and again["count"] == 1, f"the reactivated tenant's revision was refused: {again}"
    revisions = json.loads(store.read_text())["revisions"]
    assert len(revisions) == 2 and len(set(revisions)) == 2  # the suspended one, then the active one again
    restarted = _start(repo, url, ("--revision-store", str(store)))  # was PB1301: bundle refused (rollback)
    assert restarted.stop() == 0
