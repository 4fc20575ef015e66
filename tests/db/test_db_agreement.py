"""Cedar and PostgreSQL agree: for random (agent, tenant, table, columns, action) tuples, the agent's
compiled bundle allows the operation if and only if the same operation, run as the agent's role with
the tenant set, succeeds on the seeded pooled database.

Cedar is asked at the workflow step that performs that action on that table (a bundle allows an
action only in such steps; with no such step it denies everywhere, and the database, which grants
only what some step uses, refuses as well). "Succeeds" means: no error, and the tenant's rows were
actually reached (read: rows returned; update and delete: rows changed; insert: the row stored).
Statements are the ACL's shape only (no WHERE), so the comparison is about tenants, tables and
columns, not about filters; every example is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pg_support import dsn_for
from pg_world import SCHEMA, World, value
from psycopg import sql

from paybill.guard import Guard
from paybill.validate import validate_repository

pytestmark = pytest.mark.postgres

ACTIONS = ("read", "insert", "update", "delete")


class Agreement:
    """The seeded database, one loaded bundle per agent, and where each (action, table) is performed."""

    def __init__(self, world: World, conn: psycopg.Connection[Any], specs: Path, bundles: Path) -> None:
        self.world = world
        self.conn = conn
        index = validate_repository(specs).index
        self.agents = [a for a in world.actors if a.label not in ("owner", "app")]
        self.guards = {a.label: Guard.load(bundles / a.label) for a in self.agents}
        self.steps: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.start: dict[str, tuple[str, str]] = {}
        for agent in self.agents:
            for name in index.model("Agent", agent.label).spec.workflows:
                workflow = index.model("Workflow", name).spec
                self.start.setdefault(agent.label, (name, workflow.start))
                for step in workflow.steps:
                    self.steps.setdefault((agent.label, step.action, str(step.resource)), (name, step.id))

    def cedar(self, agent: str, tenant: str, table: str, action: str, columns: tuple[str, ...]) -> bool:
        workflow, step = self.steps.get((agent, action, table), self.start[agent])
        decision = self.guards[agent].evaluate(tenant=tenant, workflow=workflow, step=step, action=action,
                                               resource=table, columns=columns, rows=1)
        return decision.allowed

    def postgres(self, role: str, tenant: str, table: str, action: str, columns: tuple[str, ...]) -> bool:
        conn, types = self.conn, self.world.tables[table]
        target = sql.Identifier(SCHEMA, table)
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            conn.execute("SELECT set_config('paybill.tenant_id', %s, true)", (tenant,))
            try:
                with conn.transaction():
                    if action == "read":
                        return bool(conn.execute(sql.SQL("SELECT {} FROM {}").format(names, target)).fetchall())
                    if action == "update":
                        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
                        cur = conn.execute(sql.SQL("UPDATE {} SET {}").format(target, sets),
                                           [value(types[c][0]) for c in columns])
                        return cur.rowcount > 0
                    if action == "delete":
                        return conn.execute(sql.SQL("DELETE FROM {}").format(target)).rowcount > 0
                    row = [f"N{i}" if c == self.world.keys[table] and types[c][0] == "text" else value(types[c][0])
                           for i, c in enumerate(columns)]
                    cur = conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        target, names, sql.SQL(", ").join(sql.Placeholder() * len(row))), row)
                    return cur.rowcount == 1
            except psycopg.errors.InsufficientPrivilege:
                return False  # a column or table not granted, or row-level security's WITH CHECK


@pytest.fixture(scope="module")
def agreement(seeded_pool: tuple[World, str], fixture_specs: Path, fixture_bundles: Path) -> Iterator[Agreement]:
    world, database = seeded_pool
    with psycopg.connect(dsn_for(database)) as conn:
        yield Agreement(world, conn, fixture_specs, fixture_bundles)


@st.composite
def tuples(draw: st.DrawFn, agreement: Agreement) -> tuple[Any, str, str, str, tuple[str, ...]]:
    world = agreement.world
    agent = draw(st.sampled_from(agreement.agents))
    # Half the time aim at something the agent may do (a granted table and action, a tenant in scope),
    # so both sides of the equivalence are exercised often; the other half is anything at all.
    granted_pairs = sorted({(t, a) for a in ("read", "insert", "update") for t, c in getattr(agent, a).items() if c}
                           | {(t, "delete") for t in agent.delete})
    if granted_pairs and draw(st.booleans()):
        table, action = draw(st.sampled_from(granted_pairs))
        tenant = draw(st.sampled_from(sorted(agent.scope or world.tenants)))
    else:
        table = draw(st.sampled_from(sorted(world.tables)))
        action = draw(st.sampled_from(ACTIONS))
        tenant = draw(st.sampled_from(world.tenants))
    candidates = sorted(set(world.tables[table]) - ({world.keys[table]} if action == "update" else set()))
    granted = sorted(set(getattr(agent, action, {}).get(table, set())) & set(candidates)) if action != "delete" else []
    pool = granted if granted and draw(st.booleans()) else candidates
    shuffled = draw(st.permutations(pool))
    columns = tuple(shuffled[: draw(st.integers(1, len(pool)))])
    if action == "insert":  # the NOT NULL columns are always given, so only the ACL can refuse
        columns = tuple(sorted(set(columns) | {c for c, (_, nullable) in world.tables[table].items() if not nullable}))
    if action == "delete":
        columns = ()
    return agent, tenant, table, action, columns


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_cedar_allows_exactly_what_postgres_executes(agreement: Agreement, data: st.DataObject) -> None:
    agent, tenant, table, action, columns = data.draw(tuples(agreement))
    cedar = agreement.cedar(agent.label, tenant, table, action, columns)
    postgres = agreement.postgres(agent.role, tenant, table, action, columns)
    event(f"{action}: {'both allow' if cedar and postgres else 'both deny' if not (cedar or postgres) else 'DISAGREE'}")
    assert cedar == postgres, (f"Cedar {'allows' if cedar else 'denies'} but PostgreSQL "
                               f"{'executes' if postgres else 'refuses'}: {agent.label} {action} {table}{columns} "
                               f"for {tenant}")


def test_both_outcomes_occur(agreement: Agreement) -> None:
    """The property is not vacuous: hand-picked tuples on each side of it."""
    assert agreement.cedar("ops-agent", "beta-co", "tickets", "read", ("id", "status"))
    assert agreement.postgres("paybill_agent_ops_agent", "beta-co", "tickets", "read", ("id", "status"))
    assert not agreement.cedar("ops-agent", "alpha-co", "tickets", "read", ("id",))
    assert not agreement.postgres("paybill_agent_ops_agent", "alpha-co", "tickets", "read", ("id",))
    assert not agreement.cedar("billing-agent", "hooli", "invoices", "update", ("amount_cents",))
    assert not agreement.postgres("paybill_agent_billing_agent", "hooli", "invoices", "update", ("amount_cents",))
