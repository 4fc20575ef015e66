"""Isolation proof on PostgreSQL 15: hypothesis drives random (actor, tenant, table, action, columns)
operations against one pooled database holding eight tenants' rows, and an oracle derived from the
*specs* (not from the emitted SQL) says what must happen.

Properties, checked on every example:

* with tenant A set, an actor reads only A's rows, and only if A is in its scope; it never reads,
  updates or deletes a row of another tenant B (rows written in the transaction are found by their
  ``xmin``, and per-tenant row counts are compared after deletes);
* with no tenant set it sees nothing and can write nothing;
* a column (or action) not granted raises ``insufficient_privilege``;
* the table owner is held by row-level security too (FORCE); so is the application role.

Each example runs in one transaction that is always rolled back, so the database is reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from pg_support import FIXTURE_POOL, dsn_for, unique
from pg_world import SCHEMA, Actor, World, value
from psycopg import errors, sql

from paybill.contract.sql_names import GUARD_ROLE, app_role, owner_role

pytestmark = pytest.mark.postgres

OUTSIDER = "acme-corp"  # a real tenant, but not one whose rows live in this pooled database


@pytest.fixture(scope="module")
def world(seeded_pool: tuple[World, str]) -> Iterator[tuple[World, psycopg.Connection[Any]]]:
    """The seeded pooled database, and one superuser connection (examples SET LOCAL ROLE in it)."""
    built, database = seeded_pool
    with psycopg.connect(dsn_for(database)) as conn:
        yield built, conn


@dataclass(frozen=True)
class Operation:
    actor: Actor
    tenant: str | None
    table: str
    action: str
    columns: tuple[str, ...]
    victim: str  # whose row a keyed update/delete aims at
    keyed: bool


@st.composite
def operations(draw: st.DrawFn, world: World) -> Operation:
    actor = draw(st.sampled_from(world.actors))
    table = draw(st.sampled_from(sorted(world.tables)))
    action = draw(st.sampled_from(["read", "update", "delete", "insert"]))
    # An update never targets the primary key: setting every row's key to one value is a unique
    # violation, which says nothing about isolation.
    skip = {world.keys[table]} if action == "update" else set()
    granted = sorted(getattr(actor, action, {}).get(table, set()) - skip) if action != "delete" else []
    pool = granted if granted and draw(st.booleans()) else sorted(set(world.tables[table]) - skip)
    shuffled = draw(st.permutations(pool))  # a prefix of a permutation: a non-empty subset, never rejected
    columns = tuple(shuffled[: draw(st.integers(1, len(pool)))])
    if action == "insert" and draw(st.booleans()):
        columns = tuple(sorted(set(columns) | {c for c, (_, nullable) in world.tables[table].items() if not nullable}))
    tenant = draw(st.sampled_from([*world.tenants, None, OUTSIDER]))
    return Operation(actor, tenant, table, action, columns, draw(st.sampled_from(world.tenants)), draw(st.booleans()))


def outcome(label: str) -> None:
    """Count an outcome in hypothesis' statistics (``--hypothesis-show-statistics``), when inside it."""
    with suppress(InvalidArgument):
        event(label)


def allowed_privilege(op: Operation, world: World) -> bool:
    a, key = op.actor, world.keys[op.table]
    readable = a.read.get(op.table, set())
    if op.action == "read":
        return set(op.columns) <= readable
    if op.action == "update":
        return set(op.columns) <= a.update.get(op.table, set()) and (not op.keyed or key in readable)
    if op.action == "delete":
        return op.table in a.delete and (not op.keyed or key in readable)
    return set(op.columns) <= a.insert.get(op.table, set())


def visible_tenant(op: Operation) -> str | None:
    """The one tenant whose rows the actor may touch in this session, or None for none."""
    if op.tenant is None:
        return None
    return op.tenant if op.actor.scope is None or op.tenant in op.actor.scope else None


def sees_global(op: Operation) -> bool:
    """Global rows: every role but an agent sees them; an agent only while acting for a tenant in its scope."""
    return op.actor.scope is None or op.tenant in op.actor.scope


def visible_rows(op: Operation, world: World) -> list[Any]:
    if op.table in world.tenant_tables:
        return world.rows.get((op.table, visible_tenant(op)), [])
    return world.rows[(op.table, None)] if sees_global(op) else []


def run(conn: psycopg.Connection[Any], op: Operation, world: World) -> None:
    target = sql.Identifier(SCHEMA, op.table)
    key = world.keys[op.table]
    tenant_table = op.table in world.tenant_tables
    mine = visible_tenant(op)
    cols = sql.SQL(", ").join(map(sql.Identifier, op.columns))
    expect_privilege = allowed_privilege(op, world)
    victim_key = world.rows[(op.table, op.victim if tenant_table else None)][0]
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(op.actor.role)))
        if op.tenant is not None:
            conn.execute("SELECT set_config('paybill.tenant_id', %s, true)", (op.tenant,))
        try:
            with conn.transaction():  # savepoint: the checks below still run after an expected error
                cur = execute(conn, op, target, cols, key, victim_key, world)
        except psycopg.Error as exc:
            # Column privileges and RLS WITH CHECK share SQLSTATE 42501; the message tells them apart.
            if isinstance(exc, errors.InsufficientPrivilege) and "permission denied" in str(exc):
                assert not expect_privilege, f"denied but granted: {op}: {exc}"
                outcome(f"{op.action}: permission denied")
                return
            assert expect_privilege, f"expected a permission error: {op}: {exc}"
            assert op.action == "insert" and not insert_succeeds(op, world, mine), f"{op}: {exc}"
            outcome(f"insert: refused ({type(exc).__name__})")
            return
        assert expect_privilege, f"allowed but not granted: {op}"
        expected_rows = visible_rows(op, world)
        outcome(f"{op.action}: allowed, {'rows' if expected_rows else 'no rows'} visible")
        if op.action == "read":
            got = cur.fetchall()
            assert len(got) == len(expected_rows), (op, got)
            if key in op.columns:
                assert {r[op.columns.index(key)] for r in got} == set(expected_rows)
        elif op.action in ("update", "delete"):
            if op.keyed:
                hit = sees_global(op) if not tenant_table else (mine is not None and mine == op.victim)
                assert cur.rowcount == int(hit), (op, cur.rowcount)
            else:
                assert cur.rowcount == len(expected_rows), (op, cur.rowcount)
        else:
            assert insert_succeeds(op, world, mine), f"insert should have failed: {op}"
            assert cur.rowcount == 1
        conn.execute("RESET ROLE")  # back to the superuser: see every tenant's rows
        check_untouched(conn, op, world, target, mine, tenant_table)


def insert_succeeds(op: Operation, world: World, mine: str | None) -> bool:
    """A privileged insert works when every NOT NULL column is given and, for a tenant table, the
    session's tenant is one the actor may write (tenant_id defaults to it; WITH CHECK enforces it)."""
    complete = set(nonnull(world, op.table)) <= set(op.columns)
    return complete and (mine is not None if op.table in world.tenant_tables else sees_global(op))


def nonnull(world: World, table: str) -> list[str]:
    return [c for c, (_, nullable) in world.tables[table].items() if not nullable]


def execute(conn: psycopg.Connection[Any], op: Operation, target: sql.Composable, cols: sql.Composable, key: str,
            victim_key: Any, world: World) -> psycopg.Cursor[Any]:
    types = world.tables[op.table]
    where = sql.SQL(" WHERE {} = %s").format(sql.Identifier(key)) if op.keyed else sql.SQL("")
    if op.action == "read":
        return conn.execute(sql.SQL("SELECT {} FROM {}").format(cols, target))
    if op.action == "update":
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in op.columns)
        params = [value(types[c][0]) for c in op.columns] + ([victim_key] if op.keyed else [])
        return conn.execute(sql.SQL("UPDATE {} SET {}").format(target, sets) + where, params)
    if op.action == "delete":
        return conn.execute(sql.SQL("DELETE FROM {}").format(target) + where, [victim_key] if op.keyed else [])
    row = [f"N{uuid.uuid4().hex[:8]}" if c == key and types[c][0] == "text" else value(types[c][0])
           for c in op.columns]
    return conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        target, cols, sql.SQL(", ").join(sql.Placeholder() * len(row))), row)


def check_untouched(conn: psycopg.Connection[Any], op: Operation, world: World, target: sql.Composable,
                    mine: str | None, tenant_table: bool) -> None:
    """As superuser, inside the same transaction: no other tenant's row was written or removed."""
    if not tenant_table:
        return
    written = {r[0] for r in conn.execute(sql.SQL(
        "SELECT DISTINCT tenant_id FROM {} WHERE xmin = pg_current_xact_id()::xid").format(target))}
    assert written <= ({mine} if mine else set()), (op, written)
    counts = dict(conn.execute(sql.SQL("SELECT tenant_id, count(*) FROM {} GROUP BY 1").format(target)).fetchall())
    for tenant in world.tenants:
        seeded = len(world.rows[(op.table, tenant)])
        if tenant != mine:
            assert counts.get(tenant, 0) == seeded, (op, tenant, counts)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=False)
@given(data=st.data())
def test_isolation_holds_for_random_operations(world: tuple[World, psycopg.Connection[Any]],
                                               data: st.DataObject) -> None:
    built, conn = world
    run(conn, data.draw(operations(built)), built)


def test_oracle_exercises_every_outcome(world: tuple[World, psycopg.Connection[Any]]) -> None:
    """The property above is not vacuous: hand-picked operations hit each branch of the oracle."""
    built, conn = world
    by = {a.label: a for a in built.actors}
    ops = [
        Operation(by["ops-agent"], "beta-co", "tickets", "read", ("id", "subject"), "beta-co", False),
        Operation(by["ops-agent"], "alpha-co", "tickets", "read", ("id",), "alpha-co", False),  # out of scope
        Operation(by["ops-agent"], None, "tickets", "read", ("id",), "beta-co", False),  # no tenant
        Operation(by["ops-agent"], "beta-co", "tickets", "read", ("body",), "beta-co", False),  # not granted
        Operation(by["ops-agent"], "beta-co", "tickets", "update", ("status",), "delta-co", True),  # other's row
        Operation(by["ops-agent"], "beta-co", "tickets", "delete", ("id",), "beta-co", False),
        Operation(by["ops-agent"], "beta-co", "tickets", "insert", tuple(nonnull(built, "tickets")), "beta-co", False),
        Operation(by["ops-agent"], OUTSIDER, "tickets", "insert", tuple(nonnull(built, "tickets")), "beta-co", False),
        Operation(by["owner"], "zeta-co", "invoices", "delete", ("id",), "zeta-co", False),
        Operation(by["owner"], None, "invoices", "read", ("id",), "zeta-co", False),
        Operation(by["billing-agent"], "hooli", "currencies", "read", ("code",), "hooli", False),
    ]
    for op in ops:
        run(conn, op, built)


def test_guard_login_can_become_an_agent_but_holds_nothing_itself(
    pool_database: str, world: tuple[World, psycopg.Connection[Any]]
) -> None:
    """The path guard.db takes: a LOGIN role in paybill_guard (NOINHERIT) may SET ROLE to an agent,
    has no table privileges of its own, and cannot become the owner or app role."""
    login = unique("login")
    with psycopg.connect(dsn_for("test"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(login),
                                                                        sql.Identifier(GUARD_ROLE)))
    try:
        with psycopg.connect(dsn_for(pool_database, user=login)) as conn:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("SELECT id FROM crm.tickets")
            conn.rollback()
            conn.execute("SET LOCAL ROLE paybill_agent_ops_agent")
            conn.execute("SELECT set_config('paybill.tenant_id', 'beta-co', true)")
            seen = conn.execute("SELECT id FROM crm.tickets").fetchall()
            assert len(seen) == len(world[0].rows[("tickets", "beta-co")])
            conn.rollback()
            for forbidden in (owner_role(FIXTURE_POOL), app_role(FIXTURE_POOL)):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(forbidden)))
                conn.rollback()
    finally:
        with psycopg.connect(dsn_for("test"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
