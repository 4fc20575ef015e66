"""The seeded pooled database the isolation and agreement proofs share, and the specs' oracle of it.

The oracle (:class:`World`) is derived from the *specs* (tenant scopes, ACLs, the workflow steps
that use them), never from the emitted SQL, so the tests compare PostgreSQL with the specs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pg_support import FIXTURE_POOL
from psycopg import sql

from paybill.contract.sql_names import agent_role, app_role, owner_role
from paybill.emit.sql.plan import scope_tenants
from paybill.validate import validate_repository

SCHEMA = "crm"
NOT_NULL_DEFAULTS = {"uuid": None, "text": "x", "integer": 2, "bigint": 2,
                     "timestamptz": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "date": dt.date(2024, 1, 1)}


@dataclass
class Actor:
    """What the specs say one role may do here. ``scope``: the tenants of this database the agent's
    tenantScope selects (``all`` included); None for the owner and app roles, which act for whichever
    tenant the session sets, and see global tables with or without one."""

    label: str
    role: str
    scope: frozenset[str] | None
    read: dict[str, set[str]] = field(default_factory=dict)
    insert: dict[str, set[str]] = field(default_factory=dict)
    update: dict[str, set[str]] = field(default_factory=dict)
    delete: set[str] = field(default_factory=set)


@dataclass
class World:
    tables: dict[str, dict[str, tuple[str, bool]]]  # table -> column -> (type, nullable)
    keys: dict[str, str]  # table -> single primary key column
    tenant_tables: set[str]
    tenants: list[str]
    actors: list[Actor]
    rows: dict[tuple[str, str | None], list[Any]]  # (table, tenant) -> primary keys; tenant None: global


def build_world(specs: Path) -> World:
    index = validate_repository(specs).index
    pool = "aws-use1-shared"
    tenants = sorted(d.name for d in index.of_kind("Tenant") if d.model.spec.lifecycle != "deleted"
                     and d.model.layer_placement("database") == "pooled" and d.model.spec.placement.pool == pool)
    tables = {name: {c.name: (c.type, c.nullable) for c in ref.table.columns} for name, ref in index.tables.items()}
    keys = {name: ref.table.primary_key[0] for name, ref in index.tables.items()}
    tenant_tables = {name for name, ref in index.tables.items() if ref.table.scope == "tenant"}
    actors = []
    for doc in index.of_kind("Agent"):
        _, scope = scope_tenants(index, doc)
        if not set(tenants) & scope:
            continue
        actor = Actor(doc.name, agent_role(doc.name), frozenset(scope) & set(tenants))
        # The ACL as far as the agent's workflow steps use it (what its Cedar bundle can permit).
        used = {(s.action, s.resource) for w in doc.model.spec.workflows for s in index.model("Workflow", w).spec.steps}
        for g in doc.model.spec.permissions.tables:
            for action in ("read", "insert", "update"):
                getattr(actor, action)[g.table] = set(getattr(g, action)) if (action, g.table) in used else set()
            if g.delete and ("delete", g.table) in used:
                actor.delete.add(g.table)
        actors.append(actor)
    everything = {t: set(cols) for t, cols in tables.items()}
    actors.append(Actor("owner", owner_role(FIXTURE_POOL), None, everything, everything, everything, set(tables)))
    dml = {t: set(tables[t]) for t in tenant_tables}
    actors.append(Actor("app", app_role(FIXTURE_POOL), None, everything, dml, dml, set(tenant_tables)))
    return World(tables, keys, tenant_tables, tenants, actors, {})


def value(sql_type: str) -> Any:
    return uuid.uuid4() if sql_type == "uuid" else NOT_NULL_DEFAULTS[sql_type]


def seed(conn: psycopg.Connection[Any], world: World) -> None:
    """Tenant i gets i + 2 rows per tenant table (distinct counts), plus three global rows."""
    for table, columns in sorted(world.tables.items()):
        owners: list[str | None] = list(world.tenants) if table in world.tenant_tables else [None]
        for i, tenant in enumerate(owners):
            for n in range(i + 2 if tenant else 3):
                row = {c: value(t) for c, (t, _) in columns.items()}
                key = world.keys[table]
                if columns[key][0] == "text":
                    row[key] = f"K{i}{n}"
                if tenant:
                    row["tenant_id"] = tenant
                conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(SCHEMA, table), sql.SQL(", ").join(map(sql.Identifier, row)),
                    sql.SQL(", ").join(sql.Placeholder() * len(row))), list(row.values()))
                world.rows.setdefault((table, tenant), []).append(row[key])
