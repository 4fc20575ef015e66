"""paybill.guard.db on PostgreSQL 15, logged in the way production is: a LOGIN role whose only
membership is ``paybill_guard``. Each test runs real workflow runs of the fixture's ops-agent
(scope beta-co and delta-co in the aws pool) through a real Cedar bundle."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_support import FIXTURE_POOL, apply_folder, dsn_for, folder, scratch_database, unique
from pg_world import World, build_world, seed
from psycopg import sql

from paybill.contract.sql_catalog import DatabasePlan, plan_from_catalog
from paybill.contract.sql_names import GUARD_ROLE
from paybill.emit.contract import OutputTree
from paybill.guard import Guard, ManualClock
from paybill.guard.db import AccessDenied, GuardedDatabase, SetupError, UsageError
from paybill.guard.run import Run

pytestmark = pytest.mark.postgres


class Tracing:
    """Wraps the connection and records every statement, to prove what never reached PostgreSQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.statements: list[tuple[Any, Any]] = []

    def execute(self, query: Any, params: Any = None) -> Any:
        self.statements.append((query, params))
        return self.conn.execute(query, params)

    def transaction(self) -> Any:
        return self.conn.transaction()

    def __getattr__(self, name: str) -> Any:
        """Everything else (the adapters statements are rendered with, ``info``, ``close``) is the
        connection's own; only statements sent go through :meth:`execute` and are recorded."""
        return getattr(self.conn, name)


@dataclasses.dataclass
class Setup:
    database: str
    plan: DatabasePlan
    world: World
    login: str
    bundles: Path


@pytest.fixture(scope="module")
def setup(pg_server: None, fixture_tree: OutputTree, fixture_specs: Path, fixture_bundles: Path) -> Iterator[Setup]:
    """Its own database (these tests commit writes) and a login that is only in paybill_guard."""
    files = folder(fixture_tree, FIXTURE_POOL)
    login = unique("guard")
    with scratch_database("guard") as name:
        apply_folder(name, files)
        world = build_world(fixture_specs)
        with psycopg.connect(dsn_for(name), autocommit=True) as admin:
            seed(admin, world)
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(login),
                                                                            sql.Identifier(GUARD_ROLE)))
        try:
            yield Setup(name, plan_from_catalog(json.loads(files["migrations.json"])["catalog"]), world, login,
                        fixture_bundles)
        finally:
            with psycopg.connect(dsn_for("test"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


@pytest.fixture
def db(setup: Setup) -> Iterator[tuple[GuardedDatabase, Tracing]]:
    conn = psycopg.connect(dsn_for(setup.database, user=setup.login), autocommit=True)
    tracing = Tracing(conn)
    guarded = GuardedDatabase(tracing, setup.plan)  # type: ignore[arg-type]
    tracing.statements.clear()
    yield guarded, tracing
    conn.close()


@pytest.fixture
def ops(setup: Setup) -> Guard:
    return Guard.load(setup.bundles / "ops-agent", clock=ManualClock())


def superuser_rows(setup: Setup, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn_for(setup.database), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def test_read_sees_only_the_runs_tenant_and_charges_what_it_read(db: tuple[GuardedDatabase, Tracing],
                                                                   ops: Guard, setup: Setup) -> None:
    guarded, _ = db
    run = ops.start(tenant="beta-co", workflow="incident-response")
    result = guarded.read(run, "tickets", ["id", "status"])
    assert {r[0] for r in result.rows} == set(setup.world.rows[("tickets", "beta-co")])
    assert result.dicts()[0].keys() == {"id", "status"}
    assert result.decision.allowed and result.decision.reasons
    # checked for the whole remaining allowance, charged the rows it really returned
    assert (run.rows_read, run.budget_spent) == (len(result.rows), len(result.rows))


@pytest.mark.parametrize(("tenant", "action", "columns", "violation"), [
    ("beta-co", "read", ["id", "body"], "acl.pii-column"),
    ("beta-co", "read", ["id", "customer_id"], "acl.column-not-granted"),
    ("beta-co", "update", None, "workflow.step-action"),  # inspect is a read step
    ("alpha-co", "read", ["id"], "tenant.out-of-scope"),
])
def test_a_guard_denial_sends_no_statement(db: tuple[GuardedDatabase, Tracing], ops: Guard, tenant: str,
                                           action: str, columns: list[str] | None, violation: str) -> None:
    guarded, tracing = db
    run = ops.start(tenant=tenant, workflow="incident-response")
    with pytest.raises(AccessDenied) as denied:
        if action == "read":
            guarded.read(run, "tickets", columns or [])
        else:
            guarded.update(run, "tickets", {"status": "closed"}, where={"id": uuid.uuid4()})
    assert denied.value.source == "guard" and violation in denied.value.violations
    assert tracing.statements == []
    assert (run.rows_read, run.rows_written) == (0, 0)


@pytest.mark.parametrize(("table", "columns", "where", "order_by"), [
    ("tickets; DROP TABLE crm.tickets", ["id"], None, ()),
    ("tickets", ['id" FROM crm.customers --'], None, ()),
    ("tickets", ["id"], {"1=1 OR status": "x"}, ()),
    ("tickets", ["id"], None, ["id DESC; --"]),
    ("tickets", "id", None, ()),
    ("pg_authid", ["rolpassword"], None, ()),
])
def test_names_not_in_the_catalog_are_refused_before_anything(
    db: tuple[GuardedDatabase, Tracing], ops: Guard, table: str, columns: Any, where: Any, order_by: Any
) -> None:
    guarded, tracing = db
    run = ops.start(tenant="beta-co", workflow="incident-response")
    with pytest.raises(UsageError):
        guarded.read(run, table, columns, where=where, order_by=order_by)
    assert tracing.statements == [] and run.counters()["callsLastMinute"] == 0


def test_values_are_bind_parameters(db: tuple[GuardedDatabase, Tracing], ops: Guard, setup: Setup) -> None:
    guarded, tracing = db
    run = ops.start(tenant="beta-co", workflow="incident-response")
    hostile = "x'; DROP TABLE crm.tickets; --"
    assert guarded.read(run, "tickets", ["id"], where={"subject": hostile}).rows == []
    assert hostile not in str(tracing.statements[-1][0]) and hostile in tracing.statements[-1][1]
    assert superuser_rows(setup, "SELECT count(*) FROM crm.tickets")[0][0] > 0


def test_tenant_elsewhere_agent_elsewhere_and_wrong_database_are_setup_errors(
    db: tuple[GuardedDatabase, Tracing], ops: Guard, setup: Setup
) -> None:
    guarded, tracing = db
    with pytest.raises(SetupError, match="'acme-corp' is not stored"):
        guarded.read(ops.start(tenant="acme-corp", workflow="incident-response"), "tickets", ["id"])
    without_ops = dataclasses.replace(setup.plan, agents=tuple(a for a in setup.plan.agents if a.name != "ops-agent"))
    with pytest.raises(SetupError, match="no role"):
        GuardedDatabase(tracing, without_ops, verify=False).read(  # type: ignore[arg-type]
            ops.start(tenant="beta-co", workflow="incident-response"), "tickets", ["id"])
    assert tracing.statements == []
    elsewhere = dataclasses.replace(setup.plan, key="pool-gcp-usc1-shared")
    with pytest.raises(SetupError, match="not 'pool-gcp-usc1-shared'"):
        GuardedDatabase(tracing, elsewhere)  # type: ignore[arg-type]


def test_session_is_set_for_the_transaction_only(db: tuple[GuardedDatabase, Tracing], setup: Setup) -> None:
    guarded, tracing = db
    clock = ManualClock()
    ops = Guard.load(setup.bundles / "ops-agent", clock=clock)
    run = ops.start(tenant="delta-co", workflow="incident-response")
    guarded.read(run, "tickets", ["id"])
    assert tracing.statements[0][1] == ("paybill_agent_ops_agent", "delta-co", "300000ms", "on")
    clock.advance(299.75)  # the statement timeout never outlives the run's wall-time limit
    guarded.read(run, "tickets", ["id"])
    assert tracing.statements[2][1] == ("paybill_agent_ops_agent", "delta-co", "250ms", "on")
    # after the transaction, the login is itself again: no role, no tenant
    row = guarded.conn.execute("SELECT current_user, current_setting('paybill.tenant_id', true)").fetchone()
    assert row == (setup.login, "")


def test_reads_over_the_cap_are_denied_and_rolled_back(db: tuple[GuardedDatabase, Tracing], ops: Guard,
                                                        setup: Setup) -> None:
    guarded, _ = db
    run = ops.start(tenant="beta-co", workflow="incident-response")
    present = len(setup.world.rows[("tickets", "beta-co")])
    with pytest.raises(AccessDenied) as denied:
        guarded.read(run, "tickets", ["id"], limit=present - 1)
    assert denied.value.source == "limit" and denied.value.violations == ("limit.requested",)
    assert (run.rows_read, run.budget_spent) == (0, 1)  # nothing delivered; the call still costs one unit
    assert len(guarded.read(run, "tickets", ["id"], limit=present).rows) == present
    run.rows_read = ops.limits["maxRowsRead"] - 1  # as if earlier reads used all but one row
    with pytest.raises(AccessDenied) as denied:
        guarded.read(run, "tickets", ["id"])
    assert denied.value.violations == ("limit.maxRowsRead",)
    assert run.rows_read == ops.limits["maxRowsRead"] - 1


def test_writes_in_their_steps_touch_only_the_tenant(db: tuple[GuardedDatabase, Tracing], ops: Guard,
                                                     setup: Setup) -> None:
    guarded, _ = db
    before = dict(superuser_rows(setup, "SELECT tenant_id, count(*) FROM crm.tickets GROUP BY 1"))
    # insert, in the fixture's open-followup step: tenant_id comes from the session, never the caller
    run = ops.start(tenant="delta-co", workflow="incident-response")
    assert run.advance("open-followup").allowed
    new_id = uuid.uuid4()
    values = {"id": new_id, "customer_id": uuid.uuid4(), "subject": "follow up", "status": "open",
              "priority": "p2", "created_at": "2024-05-01T00:00:00Z"}
    assert guarded.insert(run, "tickets", values).rows == 1
    assert superuser_rows(setup, "SELECT tenant_id FROM crm.tickets WHERE id = %s", (new_id,)) == [("delta-co",)]
    # update, after approval, by primary key: at most one row is checked and charged
    run = ops.start(tenant="delta-co", workflow="incident-response")
    assert run.approve("close-tickets", by="oncall@example.com").allowed and run.advance("close-tickets").allowed
    assert guarded.update(run, "tickets", {"status": "closed"}, where={"id": new_id}).rows == 1
    assert run.rows_written == 1
    victim = setup.world.rows[("tickets", "beta-co")][0]  # another tenant's row: not found, not changed
    assert guarded.update(run, "tickets", {"status": "closed"}, where={"id": victim}).rows == 0
    # a bulk update over the cap rolls back
    open_rows = superuser_rows(setup, "SELECT count(*) FROM crm.tickets WHERE tenant_id = 'delta-co' "
                                      "AND status <> 'closed'")[0][0]
    assert open_rows >= 2
    with pytest.raises(AccessDenied, match="rolled back"):
        guarded.update(run, "tickets", {"status": "closed"}, where={}, limit=1)
    assert superuser_rows(setup, "SELECT count(*) FROM crm.tickets WHERE tenant_id = 'delta-co' "
                                 "AND status <> 'closed'")[0][0] == open_rows
    # delete, in purge-duplicates
    run = ops.start(tenant="delta-co", workflow="incident-response")
    assert run.advance("purge-duplicates").allowed
    assert guarded.delete(run, "tickets", where={"id": new_id}).rows == 1
    assert dict(superuser_rows(setup, "SELECT tenant_id, count(*) FROM crm.tickets GROUP BY 1")) == before
    with pytest.raises(UsageError):
        guarded.delete(run, "tickets", where=None)  # type: ignore[arg-type]


def test_where_columns_must_be_readable(db: tuple[GuardedDatabase, Tracing], ops: Guard) -> None:
    guarded, tracing = db
    run = ops.start(tenant="beta-co", workflow="incident-response")
    assert run.approve("close-tickets", by="oncall@example.com").allowed and run.advance("close-tickets").allowed
    with pytest.raises(AccessDenied, match="not readable"):
        guarded.update(run, "tickets", {"status": "closed"}, where={"body": "secret"})
    assert tracing.statements == []


def test_postgres_refusing_what_the_guard_allowed_is_reported(db: tuple[GuardedDatabase, Tracing], ops: Guard,
                                                               setup: Setup) -> None:
    """Drift between bundle and database (here: a column revoked by hand) fails closed."""
    guarded, _ = db
    with psycopg.connect(dsn_for(setup.database), autocommit=True) as admin:
        admin.execute('REVOKE SELECT ("subject") ON crm.tickets FROM paybill_agent_ops_agent')
        try:
            run: Run = ops.start(tenant="beta-co", workflow="incident-response")
            with pytest.raises(AccessDenied) as denied:
                guarded.read(run, "tickets", ["id", "subject"])
            assert denied.value.source == "database" and denied.value.sqlstate == "42501"
            assert run.rows_read == 0
        finally:
            admin.execute('GRANT SELECT ("subject") ON crm.tickets TO paybill_agent_ops_agent')
