"""Every emitted file parses with PostgreSQL's own parser (pglast), DO blocks included, and the parse
trees say what the specs say: the grants read back from the SQL are exactly the agents' ACLs."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from pglast.parser import parse_plpgsql_json, parse_sql_json, split
from sql_support import SPECS, Emitted, databases, folder

from paybill.contract.sql_names import agent_role
from paybill.emit.sql.plan import scope_tenants
from paybill.validate import validate_repository


def walk(node: Any, kind: str) -> list[dict[str, Any]]:
    """Every ``{kind: {...}}`` node under ``node`` in pglast's JSON parse tree."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == kind:
                found.append(value)
            found += walk(value, kind)
    elif isinstance(node, list):
        for value in node:
            found += walk(value, kind)
    return found


def parse(sql: str) -> list[dict[str, Any]]:
    return [s["stmt"] for s in json.loads(parse_sql_json(sql))["stmts"]]


def test_every_file_and_every_do_block_parses(example: Emitted) -> None:
    tree, _ = example
    checked = do_blocks = 0
    for path, body in tree.items():
        if not path.endswith(".sql"):
            continue
        sql = body.decode("utf-8")
        statements = parse(sql)  # raises pglast.parser.ParseError on any syntax error
        assert statements, path
        for text, stmt in zip(split(sql), statements, strict=True):
            if "DoStmt" in stmt:
                parse_plpgsql_json(text + ";")  # the PL/pgSQL body, including its embedded SQL
                do_blocks += 1
        checked += 1
    assert checked == 12 * 5 and do_blocks > 0


def test_plpgsql_parser_rejects_a_broken_body() -> None:
    """The DO-block check above can fail: a body with a syntax error is rejected."""
    with pytest.raises(Exception, match="syntax error"):
        parse_plpgsql_json("DO $paybill$ BEGIN IF true THEN CREATE ROLE; END IF; END $paybill$;")


def test_every_relation_is_schema_qualified_and_from_the_data_model(example: Emitted) -> None:
    tree, _ = example
    models = validate_repository(SPECS).index.of_kind("DataModel")
    tables = {("crm", t.name) for d in models for t in d.model.spec.tables}
    for path, body in tree.items():
        if path.endswith(".sql"):
            for stmt in parse(body.decode()):
                for rv in walk(stmt, "RangeVar"):
                    assert (rv.get("schemaname"), rv["relname"]) in tables, (path, rv)


def grants_in_sql(sql: str) -> dict[str, dict[tuple[str, str], set[str] | None]]:
    """role -> (table, privilege) -> granted columns (None for a table-level privilege)."""
    found: dict[str, dict[tuple[str, str], set[str] | None]] = defaultdict(dict)
    for stmt in parse(sql):
        grant = stmt.get("GrantStmt")
        if not grant or not grant.get("is_grant") or grant["objtype"] != "OBJECT_TABLE":
            continue
        for rv in grant["objects"]:
            for priv in grant["privileges"]:
                access = priv["AccessPriv"]
                cols = {c["String"]["sval"] for c in access.get("cols", [])} or None
                for grantee in grant["grantees"]:
                    found[grantee["RoleSpec"]["rolename"]][(rv["RangeVar"]["relname"], access["priv_name"])] = cols
    return found


def test_grants_read_back_from_the_sql_equal_the_acls(example: Emitted) -> None:
    """Independent of the renderer: re-derive each agent's expected grants from the spec models."""
    tree, _ = example
    index = validate_repository(SPECS).index
    for database in databases(tree):
        files = folder(tree, database)
        tenants = set(json.loads(files["migrations.json"])["catalog"]["tenants"])
        granted = grants_in_sql(files["0005_grants.sql"].decode())
        for doc in index.of_kind("Agent"):
            role = agent_role(doc.name)
            if not tenants & scope_tenants(index, doc)[1]:
                assert role not in granted, (database, role)
                continue
            # The ACL, as far as a step of the agent's workflows uses it (what its Cedar bundle permits).
            used = {(s.action, s.resource) for w in doc.model.spec.workflows
                    for s in index.model("Workflow", w).spec.steps}
            expected: dict[tuple[str, str], set[str] | None] = {}
            for g in doc.model.spec.permissions.tables:
                for action, priv, cols in (("read", "select", g.read), ("insert", "insert", g.insert),
                                           ("update", "update", g.update)):
                    if cols and (action, g.table) in used:
                        expected[(g.table, priv)] = set(cols)
                if g.delete and ("delete", g.table) in used:
                    expected[(g.table, "delete")] = None
            assert granted.get(role, {}) == expected, (database, role)
