"""What each database contains, decided from the spec index before any SQL text is written.

The plan is plain frozen data: which databases exist (one per pool that offers the database layer,
one per tenant whose database layer is silo), which tenants' rows live in each, which tables and
columns, and which agents may act there with which column grants. Rendering (``render_*``) and the
catalog the guard reads both come from this one plan, so the SQL that PostgreSQL enforces and the
names :mod:`paybill.guard.db` puts into statements cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from paybill.contract import sql_names as names
from paybill.contract.sql_catalog import (
    SQL_TYPES,
    AgentPlan,
    ColumnPlan,
    DatabaseKind,
    DatabasePlan,
    GrantPlan,
    Source,
    TablePlan,
)
from paybill.diagnostics import DiagnosticSink
from paybill.load.document import SpecDocument
from paybill.models.agent import AllTenants, TableGrant
from paybill.models.workflow import DATA_ACTIONS
from paybill.validate.index import SpecIndex
from paybill.validate.scope import live_scope


def effective_grant(grant: TableGrant, used: set[tuple[str, str]], tenants: tuple[str, ...] = ()) -> GrantPlan:
    """The part of one ACL entry that some workflow step uses (see ``_Planner.used_actions``), for
    ``tenants`` (see :attr:`GrantPlan.tenants`)."""

    def kept(action: str) -> tuple[str, ...]:
        return tuple(getattr(grant, action)) if (action, grant.table) in used else ()

    return GrantPlan(grant.table, kept("read"), kept("insert"), kept("update"),
                     grant.delete and ("delete", grant.table) in used, tenants)


def scope_tenants(index: SpecIndex, agent_doc: SpecDocument) -> tuple[bool, frozenset[str]]:
    """(all, names) of the non-deleted tenants an agent's scope selects. Deleted tenants have no data."""
    return isinstance(agent_doc.model.spec.tenant_scope, AllTenants), live_scope(index, agent_doc)


class _Planner:
    """Builds plans and reports PB08xx diagnostics at the spec positions that caused them."""

    def __init__(self, index: SpecIndex, sink: DiagnosticSink) -> None:
        self.index = index
        self.sink = sink
        self.ok = True
        # Per-database work that does not depend on the database, computed once: the tables (by
        # whether the database is pooled) and each agent's scope, role and acting steps. At 100,000
        # tenants there are ~8,500 databases; recomputing them per database cost seconds. Their
        # diagnostics were reported once per database, and the sink keeps one of identical reports.
        self._tables: dict[bool, list[TablePlan]] = {}
        self._agents: dict[int, tuple[bool, frozenset[str], set[tuple[str, str]], dict[str, frozenset[str]]]] = {}
        self._roles: dict[int, str | None] = {}

    def error(self, code: str, doc: SpecDocument, loc: tuple[str | int, ...], message: str, hint: str) -> None:
        self.ok = False
        self.sink.error(code, message, doc.path, doc.position(*loc), hint)

    def identifier(self, doc: SpecDocument, loc: tuple[str | int, ...], derive: Callable[..., str],
                   *args: str) -> str | None:
        try:
            return derive(*args)
        except names.IdentifierError as exc:
            self.error("PB0801", doc, loc, f"derived SQL identifier is unusable: {exc}",
                       "shorten the name so every identifier derived from it fits in 63 bytes")
            return None

    def databases(self) -> list[tuple[DatabaseKind, str, SpecDocument, tuple[str, ...]]]:
        """(kind, name, defining document, tenants) for every database, pools first, in name order."""
        live = [d for d in self.index.of_kind("Tenant") if d.model.spec.lifecycle != "deleted"]
        pooled: dict[str, list[str]] = {}
        for d in live:  # one pass, not one per pool: linear in tenants
            if d.model.holds("database", "pooled") and d.model.spec.placement.pool:
                pooled.setdefault(d.model.spec.placement.pool, []).append(d.name)
        found: list[tuple[DatabaseKind, str, SpecDocument, tuple[str, ...]]] = []
        for pool in self.index.of_kind("Pool"):
            if "database" not in pool.model.spec.layers:
                continue
            found.append(("pool", pool.name, pool, tuple(pooled.get(pool.name, ()))))
        for doc in live:
            if doc.model.layer_placement("database") == "silo":
                found.append(("tenant", doc.name, doc, (doc.name,)))
        return found

    def tables(self, pooled: bool) -> list[TablePlan]:
        """The tables of a pooled or a silo database (the same in every database of its kind)."""
        found = self._tables.get(pooled)
        if found is None:
            found = self._tables[pooled] = self._build_tables(pooled)
        return found

    def _build_tables(self, pooled: bool) -> list[TablePlan]:
        plans: list[TablePlan] = []
        for doc in self.index.of_kind("DataModel"):
            schema = self.identifier(doc, ("metadata", "name"), names.schema_for, doc.name)
            if schema is None:
                continue
            problem = names.schema_problem(schema)
            if problem:
                self.error("PB0802", doc, ("metadata", "name"), problem,
                           "rename the data model; its name becomes the PostgreSQL schema of its tables")
                continue
            for i, table in enumerate(doc.model.spec.tables):
                if self.index.tables.get(table.name) is None or self.index.tables[table.name].document is not doc:
                    continue  # a duplicate table name; PB0310 reports it
                ok = self.identifier(doc, ("spec", "tables", i, "name"), names.check_identifier, table.name)
                columns = []
                for j, column in enumerate(table.columns):
                    if self.identifier(doc, ("spec", "tables", i, "columns", j, "name"),
                                       names.check_identifier, column.name) is None:
                        ok = None
                    columns.append(ColumnPlan(column.name, SQL_TYPES[column.type], column.nullable))
                if ok is None:
                    continue
                plans.append(TablePlan(
                    name=table.name, schema=schema, scope=table.scope,
                    tenant_scoped=pooled and table.scope == "tenant",
                    primary_key=tuple(table.primary_key), columns=tuple(columns),
                ))
        return plans

    def used_actions(self, doc: SpecDocument) -> set[tuple[str, str]]:
        """(action, table) pairs some step of the agent's workflows performs.

        A grant no step uses is left out of the agent's Cedar bundle (PB0705 reports it), so it is
        left out of the database too: PostgreSQL grants what the bundle can ever allow, no more.
        """
        used: set[tuple[str, str]] = set()
        for name in doc.model.spec.workflows:
            workflow = self.index.model("Workflow", name)
            if workflow is not None:
                used |= {(step.action, str(step.resource)) for step in workflow.spec.steps}
        return used

    def acting_states(self, doc: SpecDocument) -> dict[str, frozenset[str]]:
        """Table -> the tenant lifecycle states in which some step of the agent's workflows acts on it.

        The Cedar bundle allows a data action on a table only at a step that performs it, for a run
        whose tenant is in a state that step acts in; the union over those steps is therefore every
        state in which the bundle can ever let the agent touch the table, and row-level security
        admits tenants in exactly those states (``deleted`` is never among them).
        """
        states: dict[str, set[str]] = {}
        for name in doc.model.spec.workflows:
            workflow = self.index.model("Workflow", name)
            if workflow is None:
                continue
            for step in workflow.spec.steps:
                if step.action in DATA_ACTIONS and step.resource is not None:
                    states.setdefault(str(step.resource), set()).update(workflow.spec.step_lifecycles(step))
        return {table: frozenset(found) for table, found in states.items()}

    def agents(self, pooled: bool, tenants: tuple[str, ...], tables: dict[str, TablePlan]) -> list[AgentPlan]:
        plans: list[AgentPlan] = []
        for doc in self.index.of_kind("Agent"):
            everyone, scope, used, states = self._agent(doc)
            here = tuple(t for t in tenants if t in scope)
            if not here:
                continue
            role = self._role(doc)  # only for an agent with tenants here: PB0801 as before
            if role is None:
                continue
            grants: list[GrantPlan] = []
            for i, grant in enumerate(doc.model.spec.permissions.tables):
                table = tables.get(grant.table)
                if table is None or any(g.table == grant.table for g in grants):
                    continue  # unknown table (PB0305) or a repeated grant (PB0709): the first one counts
                acts_in = states.get(grant.table, frozenset())
                effective = effective_grant(grant, used, tuple(t for t in here if self.lifecycle(t) in acts_in))
                if effective.read or effective.insert or effective.update or effective.delete:
                    grants.append(effective)
                    self.check_grant(doc, i, pooled, table, effective)
            spec = doc.model.spec
            plans.append(AgentPlan(
                name=doc.name, role=role, all_tenants=everyone, tenants=here,
                statement_timeout_ms=spec.limits.max_wall_time_seconds * 1000, grants=tuple(grants),
            ))
        return plans

    def _agent(self, doc: SpecDocument) -> tuple[bool, frozenset[str], set[tuple[str, str]], dict[str, frozenset[str]]]:
        """(all tenants, scope, used actions, acting states) of one agent: the same in every database."""
        found = self._agents.get(id(doc))
        if found is None:
            everyone, scope = scope_tenants(self.index, doc)
            found = self._agents[id(doc)] = (everyone, scope, self.used_actions(doc), self.acting_states(doc))
        return found

    def _role(self, doc: SpecDocument) -> str | None:
        """The agent's role name (None: PB0801 reported), derived once."""
        if id(doc) not in self._roles:
            self._roles[id(doc)] = self.identifier(doc, ("metadata", "name"), names.agent_role, doc.name)
        return self._roles[id(doc)]

    def lifecycle(self, tenant: str) -> str:
        document = self.index.get("Tenant", tenant)
        return document.model.spec.lifecycle if document is not None else "deleted"

    def check_grant(self, doc: SpecDocument, i: int, pooled: bool, table: TablePlan, grant: GrantPlan) -> None:
        """Warnings for grants PostgreSQL would enforce, but differently from what the author expects."""
        loc = ("spec", "permissions", "tables", i)
        if (grant.update or grant.delete) and not set(table.primary_key) <= set(grant.read):
            missing = ", ".join(c for c in table.primary_key if c not in grant.read)
            self.sink.warning(
                "PB0803", f"agent '{doc.name}' may change rows of '{table.name}' but may not read its primary "
                f"key ({missing}), so no row can be addressed", doc.path, doc.position(*loc),
                "guarded writes find rows by primary key; add the key columns to 'read'",
            )
        if pooled and table.scope == "global" and (grant.insert or grant.update or grant.delete):
            self.sink.warning(
                "PB0804", f"agent '{doc.name}' may write global table '{table.name}', which every tenant of "
                "a pooled database shares", doc.path, doc.position(*loc),
                "global tables hold reference data; grant only 'read' unless the agent maintains it",
            )

    def sources(self, defining: SpecDocument, tenants: tuple[str, ...], agents: list[AgentPlan]) -> tuple[Source, ...]:
        docs: list[SpecDocument | None] = [defining, *self.index.of_kind("DataModel")]
        docs += [self.index.get("Tenant", t) for t in tenants]
        docs += [self.index.get("Agent", a.name) for a in agents]
        # Workflows decide which lifecycle states each agent's row-level security admits.
        docs += [self.index.get("Workflow", w) for a in agents
                 for w in self.index.model("Agent", a.name).spec.workflows]  # type: ignore[union-attr]
        seen = {(d.path, d.text_hash) for d in docs if d is not None}
        return tuple(Source(path, digest) for path, digest in sorted(seen))

    def plan(self) -> list[DatabasePlan]:
        plans: list[DatabasePlan] = []
        for kind, name, doc, tenants in self.databases():
            key = names.database_key(kind, name)
            owner = self.identifier(doc, ("metadata", "name"), names.owner_role, key)
            app = self.identifier(doc, ("metadata", "name"), names.app_role, key)
            pooled = kind == "pool"
            tables = self.tables(pooled)
            agents = self.agents(pooled, tenants, {t.name: t for t in tables})
            if owner is None or app is None:
                continue
            plans.append(DatabasePlan(
                key=key, kind=kind, name=name, pooled=pooled, tenants=tenants, owner_role=owner, app_role=app,
                schemas=tuple(dict.fromkeys(t.schema for t in tables)), tables=tuple(tables),
                agents=tuple(agents), sources=self.sources(doc, tenants, agents),
            ))
        return plans


def plan_databases(index: SpecIndex, sink: DiagnosticSink) -> tuple[list[DatabasePlan], bool]:
    """Every database's plan in a stable order, and whether planning found no error.

    Tables and grants are the same in every database, so their diagnostics would repeat once per
    database; the sink de-duplicates identical reports.
    """
    planner = _Planner(index, sink)
    plans = planner.plan()
    return plans, planner.ok
