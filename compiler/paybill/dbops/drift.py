"""``paybill db drift``: compare the live database with the catalog git compiled.

What git says comes from ``migrations.json`` (roles, tables, columns, grants, timeouts, and the
policies 0004 creates); what the database has comes from :mod:`paybill.dbops.live`. Policy
conditions are compared the way PostgreSQL stores them: the compiled condition is given to
PostgreSQL on a temporary copy of the table (``CREATE TEMP TABLE ... (LIKE ...)``) inside a
transaction that is always rolled back, and its ``pg_get_expr`` text is compared with the live
policy's. So a policy is never reported because PostgreSQL spells ``'x'`` as ``'x'::text``, and an
edit that changes meaning is always reported. The check takes no lock a query would wait on (the
temporary copies are private to the session) and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from paybill.dbops import ledger
from paybill.dbops.connect import connect, database_error, set_timeouts
from paybill.dbops.folder import Catalog, Folder
from paybill.dbops.live import TYPES, LiveCatalog, read_live, read_policies

APPLICATION = "paybill db drift"
DRIFT_CODE = "PB1107"
SAFE_ROLE = {"rolsuper": False, "rolcreaterole": False, "rolcreatedb": False, "rolcanlogin": False,
             "rolreplication": False, "rolbypassrls": False}
ATTRIBUTE_WORDS = {"rolsuper": "SUPERUSER", "rolinherit": "INHERIT", "rolcreaterole": "CREATEROLE",
                   "rolcreatedb": "CREATEDB", "rolcanlogin": "LOGIN", "rolreplication": "REPLICATION",
                   "rolbypassrls": "BYPASSRLS"}


@dataclass(frozen=True, order=True)
class Difference:
    subject: str
    kind: str
    git: str
    database: str

    def to_json(self) -> dict[str, str]:
        return {"code": DRIFT_CODE, "subject": self.subject, "kind": self.kind, "git": self.git,
                "database": self.database}


@dataclass(frozen=True)
class DriftReport:
    database: str
    revision: str
    ledger_revision: str | None
    differences: tuple[Difference, ...]

    def to_json(self) -> dict[str, Any]:
        return {"database": self.database, "revision": self.revision, "ledgerRevision": self.ledger_revision,
                "drift": bool(self.differences), "differences": [d.to_json() for d in self.differences]}


def _privileges(grants: set[tuple[str, str, bool]] | set[tuple[str, str, str, bool]]) -> set[tuple[str | bool, ...]]:
    return {tuple(g) for g in grants}


def _describe_grant(entry: tuple[Any, ...]) -> str:
    if len(entry) == 4:
        grantee, privilege, column, grantable = entry
        return f"{privilege} ({column}) TO {grantee}" + (" WITH GRANT OPTION" if grantable else "")
    grantee, privilege, grantable = entry
    return f"{privilege} TO {grantee}" + (" WITH GRANT OPTION" if grantable else "")


def _compare_grants(out: list[Difference], subject: str, kind: str, expected: set[tuple[Any, ...]],
                    live: set[tuple[Any, ...]]) -> None:
    """One difference per grantee, privilege (and column): a grant git makes that the database holds
    ``WITH GRANT OPTION`` is one difference naming both, not "not granted" (it is) plus an extra grant."""
    want = {entry[:-1]: entry for entry in expected}
    have = {entry[:-1]: entry for entry in live}
    for key in sorted(want.keys() | have.keys()):
        git, database = want.get(key), have.get(key)
        if git != database:
            out.append(Difference(subject, kind, "GRANT " + _describe_grant(git) if git else "not granted",
                                  "GRANT " + _describe_grant(database) if database else "not granted"))


def expected_roles(catalog: Catalog) -> dict[str, dict[str, bool]]:
    roles = {catalog.guard: {**SAFE_ROLE, "rolinherit": False}}
    for role in (catalog.owner, catalog.app, *(a.role for a in catalog.agents)):
        roles[role] = {**SAFE_ROLE, "rolinherit": True}
    return roles


def compare(catalog: Catalog, live: LiveCatalog, normalised: dict[tuple[str, str], dict[str, Any]]) -> list[Difference]:
    out: list[Difference] = []
    roles = expected_roles(catalog)
    agents = {a.role for a in catalog.agents}
    for role, attributes in roles.items():
        have = live.roles.get(role)
        if have is None:
            out.append(Difference(f"role {role}", "role", "exists", "missing"))
            continue
        for attribute, value in attributes.items():
            if have[attribute] != value:
                word = ATTRIBUTE_WORDS[attribute]
                out.append(Difference(f"role {role}", "role attribute", word if value else "NO" + word,
                                      word if have[attribute] else "NO" + word))
    for role, member in sorted(live.memberships):
        if role in agents and member == catalog.guard:
            continue
        if member == catalog.guard and role.startswith("paybill_agent_"):
            continue  # the guard is a member of every agent role of the cluster
        if role in agents or member in roles:  # another member of an agent role, or a managed role inside another
            out.append(Difference(f"role {role}", "membership", f"{member} is not a member",
                                  f"{member} is a member"))
    for role in sorted(agents):
        if (role, catalog.guard) not in live.memberships and role in live.roles:
            out.append(Difference(f"role {role}", "membership", f"{catalog.guard} is a member",
                                  f"{catalog.guard} is not a member"))
    out.extend(_setting_differences(catalog, live))
    for schema in catalog.schemas:
        found = live.schemas.get(schema)
        if found is None:
            out.append(Difference(f"schema {schema}", "schema", "exists", "missing"))
            continue
        owner, grants = found
        if owner != catalog.owner:
            out.append(Difference(f"schema {schema}", "owner", catalog.owner, owner))
        granted_here = {t.name for t in catalog.tables if t.schema == schema}
        usage = {catalog.app} | {a.role for a in catalog.agents if any(g.table in granted_here for g in a.grants)}
        _compare_grants(out, f"schema {schema}", "schema grant", {(r, "USAGE", False) for r in usage}, grants)
    managed = {(t.schema, t.name) for t in catalog.tables}
    for schema, name in sorted(set(live.tables) - managed):
        if schema in catalog.schemas:
            out.append(Difference(f"table {schema}.{name}", "table", "not in the specs", "exists"))
    for table in catalog.tables:
        subject = f"table {table.schema}.{table.name}"
        have = live.tables.get((table.schema, table.name))
        if have is None:
            out.append(Difference(subject, "table", "exists", "missing"))
            continue
        if have.owner != catalog.owner:
            out.append(Difference(subject, "owner", catalog.owner, have.owner))
        if have.key != table.key:
            out.append(Difference(subject, "primary key", f"({', '.join(table.key)})",
                                  f"({', '.join(have.key)})" if have.key else "none"))
        if not have.rls:
            out.append(Difference(subject, "row-level security", "ENABLE ROW LEVEL SECURITY", "disabled"))
        if not have.forced:
            out.append(Difference(subject, "row-level security", "FORCE ROW LEVEL SECURITY", "not forced"))
        for column, type_, nullable in table.columns:
            live_column = have.columns.get(column)
            spelled = TYPES.get(type_, type_)
            if live_column is None:
                out.append(Difference(f"column {table.schema}.{table.name}.{column}", "column", spelled, "missing"))
            elif live_column != (spelled, nullable):
                out.append(Difference(f"column {table.schema}.{table.name}.{column}", "column",
                                      _column(spelled, nullable), _column(*live_column)))
        for column in sorted(set(have.columns) - {c for c, _, _ in table.columns}):
            out.append(Difference(f"column {table.schema}.{table.name}.{column}", "column", "not in the specs",
                                  _column(*have.columns[column])))
        app = ("SELECT", "INSERT", "UPDATE", "DELETE") if table.scope == "tenant" else ("SELECT",)
        table_grants = {(catalog.app, p, False) for p in app}
        column_grants: set[tuple[str, str, str, bool]] = set()
        for agent in catalog.agents:
            for grant in agent.grants:
                if grant.table != table.name:
                    continue
                if grant.delete:
                    table_grants.add((agent.role, "DELETE", False))
                for privilege, columns in (("SELECT", grant.read), ("INSERT", grant.insert), ("UPDATE", grant.update)):
                    column_grants |= {(agent.role, privilege, c, False) for c in columns}
        _compare_grants(out, subject, "table grant", table_grants, _privileges(have.grants))
        _compare_grants(out, subject, "column grant", column_grants, _privileges(have.column_grants))
        wanted = normalised.get((table.schema, table.name), {})
        for name in sorted(set(have.policies) - set(wanted)):
            out.append(Difference(f"policy {name} on {table.schema}.{table.name}", "policy", "not in the specs",
                                  _policy(have.policies[name])))
        for name in sorted(wanted):
            live_policy = have.policies.get(name)
            if live_policy is None:
                out.append(Difference(f"policy {name} on {table.schema}.{table.name}", "policy",
                                      _policy(wanted[name]), "missing"))
            elif live_policy != wanted[name]:
                out.append(Difference(f"policy {name} on {table.schema}.{table.name}", "policy",
                                      _policy(wanted[name]), _policy(live_policy)))
    return sorted(out)


def _column(type_: str, nullable: bool) -> str:
    return type_ + ("" if nullable else " NOT NULL")


def _policy(policy: tuple[bool, str, tuple[str, ...], str | None, str | None]) -> str:
    permissive, command, roles, using, check = policy
    commands = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
    kind = "PERMISSIVE" if permissive else "RESTRICTIVE"
    text = f"AS {kind} FOR {commands.get(command, command)} TO {', '.join(roles)}"
    return text + (f" USING ({using})" if using is not None else "") + (f" WITH CHECK ({check})" if check else "")


def normalise_policies(conn: psycopg.Connection[Any], catalog: Catalog, live: LiveCatalog
                       ) -> dict[tuple[str, str], dict[str, Any]]:
    """The compiled policies as PostgreSQL prints them, from temporary copies of the live tables.
    Must run inside a transaction the caller rolls back."""
    tables = {t.name: t for t in catalog.tables}
    probes: dict[str, tuple[str, str]] = {}
    for i, table in enumerate(catalog.tables):
        if (table.schema, table.name) not in live.tables or not any(p.table == table.name for p in catalog.policies):
            continue
        probe = f"paybill_drift_probe_{i}"
        conn.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {})").format(
            sql.Identifier(probe), sql.Identifier(table.schema, table.name)))
        probes[probe] = (table.schema, table.name)
    for policy in catalog.policies:
        table = tables.get(policy.table)
        probe = next((p for p, key in probes.items() if table and key == (table.schema, table.name)), None)
        if probe is None:
            continue
        role = sql.SQL("PUBLIC") if policy.role is None else sql.Identifier(policy.role)
        if policy.role is not None and policy.role not in live.roles:
            role = sql.SQL("PUBLIC")  # the missing role is reported as such; compare the rest
        statement = sql.SQL("CREATE POLICY {} ON pg_temp.{} AS {} FOR ALL TO {} USING ({}) WITH CHECK ({})").format(
            sql.Identifier(policy.name), sql.Identifier(probe),
            sql.SQL("PERMISSIVE" if policy.permissive else "RESTRICTIVE"), role,
            sql.SQL(policy.condition), sql.SQL(policy.condition))  # compiled, reviewed SQL
        conn.execute(statement)
    printed = read_policies(conn, "n.oid = pg_catalog.pg_my_temp_schema() AND c.relname = ANY(%s)", (list(probes),))
    result: dict[tuple[str, str], dict[str, Any]] = {}
    for (_, probe), policies in printed.items():
        key = probes[probe]
        for name, (permissive, command, roles, using, check) in policies.items():
            policy = next(p for p in catalog.policies if p.name == name and tables[p.table].name == key[1])
            if policy.role is not None:
                roles = (policy.role,)
            result.setdefault(key, {})[name] = (permissive, command, roles, using, check)
    return result


def check_drift(url: str, folder: Folder, *, statement_timeout: str = "1min") -> DriftReport:
    catalog = folder.catalog
    conn = connect(url, folder.display, APPLICATION)
    try:  # psycopg opens the transaction; it is always rolled back (the temporary copies go with it)
        set_timeouts(conn, "5s", statement_timeout)
        roles = sorted(expected_roles(catalog))
        live = read_live(conn, roles, list(catalog.schemas))
        normalised = normalise_policies(conn, catalog, live)
        history = ledger.history(conn) if ledger.exists(conn) else []
        mine = [a for a in history if a.database == folder.database]
        current = mine[-1].revision if mine else None
        conn.rollback()
    except psycopg.Error as exc:
        raise database_error(exc, folder.display, f"reading {folder.database}") from exc
    finally:
        conn.close()
    differences = compare(catalog, live, normalised)
    if current != folder.revision:
        differences.insert(0, Difference("ledger", "revision", folder.revision,
                                         current or "no paybill db migrate recorded"))
    return DriftReport(folder.database, folder.revision, current, tuple(differences))


REAPPLY_HINT = ("run 'paybill db migrate --reapply' to restore what git says, or change the specs if the database "
                "is right")
ROLE_HINT = ("set it back by hand (ALTER ROLE): 'paybill db migrate --reapply' refuses to change a role's attributes "
             "silently")


def hint(difference: Difference) -> str:
    """What to do about one difference (every diagnostic carries a hint)."""
    if difference.kind == "role attribute":
        return ROLE_HINT
    if difference.kind == "column" and difference.git.removesuffix(" NOT NULL") == \
            difference.database.removesuffix(" NOT NULL") != "not in the specs":
        # Only the nullability differs: 0003 sets it as the specs say (SET NOT NULL changes no data)
        return ("run 'paybill db migrate --reapply' to set it as git says (it fails, changing nothing, while a NULL "
                "is left in a column git says is NOT NULL: fill those first), or change the DataModel spec if the "
                "database is right")
    if difference.kind in {"column", "table"} and "missing" not in (difference.git, difference.database):
        retyped = difference.kind == "column" and difference.git != "not in the specs"
        return (f"{'alter' if retyped else 'drop'} it by hand after checking its data, or change the DataModel spec "
                "if the database is right: 'paybill db migrate --reapply' never drops or retypes what may hold data"
                + (" (it refuses to run while a column's type differs from git)" if retyped else ""))
    if difference.kind == "primary key":
        return ("change it by hand after checking the rows are unique under it (ALTER TABLE ... DROP CONSTRAINT ..., "
                "ADD PRIMARY KEY (...)), or change the DataModel spec if the database is right: 'paybill db migrate' "
                "never changes a primary key (it refuses to run while one differs from git)")
    if difference.subject == "ledger":
        return "run 'paybill db migrate' to apply the folder's revision (and record it in the ledger)"
    return REAPPLY_HINT


def _has(value: str) -> str:
    """What follows "the database has": "exists" and "missing" read as "has exists" / "has missing"."""
    return {"exists": "it", "missing": "none"}.get(value, value)


def render_text(report: DriftReport, path: str) -> str:
    lines = [f"{path}:1:1: error[{DRIFT_CODE}]: {d.subject}: {d.kind}: git says {d.git}; the database has "
             f"{_has(d.database)}"
             f"\n  hint: {hint(d)}" for d in report.differences]
    if report.differences:
        lines.append(f"drift: {len(report.differences)} difference{'s' if len(report.differences) != 1 else ''} "
                     f"between git (revision {report.revision[:12]}) and database {report.database}")
    else:
        lines.append(f"no drift: {report.database} matches git (revision {report.revision[:12]})")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DriftReport) -> str:
    if not report.differences:
        return f"### paybill db drift: `{report.database}`\n\nNo drift: the database matches git " \
               f"(revision `{report.revision[:12]}`).\n"
    lines = [f"### paybill db drift: `{report.database}`", "",
             f"{len(report.differences)} difference(s) between git (revision `{report.revision[:12]}`) and the "
             "database. Run `paybill db migrate --reapply` to restore what git says, or change the specs if the "
             "database is right.", "", "| object | what | git says | database has |", "| --- | --- | --- | --- |"]
    lines += [f"| {_cell(d.subject)} | {_cell(d.kind)} | `{_cell(d.git)}` | `{_cell(d.database)}` |"
              for d in report.differences]
    return "\n".join(lines) + "\n"


def _setting_differences(catalog: Catalog, live: LiveCatalog) -> list[Difference]:
    """Per-role settings, one difference per (role, scope, parameter).

    A parameter set to another value than git's (``statement_timeout=1h`` instead of ``600000``) is
    one difference naming both values, not a "not set" and an "unexpected" line about the same
    parameter, which reads as two changes when a human made one.
    """
    def keyed(settings: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        return {(role, scope, setting.partition("=")[0]): setting for role, scope, setting in settings}

    expected = keyed({(a.role, "database", f"statement_timeout={a.statement_timeout_ms}") for a in catalog.agents})
    found = keyed(live.settings)
    out = []
    for key in sorted(expected.keys() | found.keys()):
        role, scope, _ = key
        want, have = expected.get(key), found.get(key)
        if want != have:
            out.append(Difference(f"role {role}", "setting", f"{want} (in this {scope})" if want else "not set",
                                  f"{have} (in this {scope})" if have else "not set"))
    return out
