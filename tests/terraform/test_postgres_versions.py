"""Every managed PostgreSQL paybill emits runs the major of the one table (``postgres_versions.py``).

The table is only "the one table" if no emitter keeps its own literal: this compiles ``specs/`` and
reads the version argument of every PostgreSQL resource back, for each cloud in the table.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import emit_terraform
from paybill.emit.terraform.postgres_versions import POSTGRES_SERVICES, postgres_major
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]

# (resource type, version argument, how the provider spells major N) per cloud.
SPELLING: dict[str, tuple[str, str, str]] = {
    "aws": ("aws_db_instance", "engine_version", "{n}"),
    "azure": ("azurerm_postgresql_flexible_server", "version", "{n}"),
    "gcp": ("google_sql_database_instance", "database_version", "POSTGRES_{n}"),
    "oci": ("oci_psql_db_system", "db_version", "{n}"),
    "ibm": ("ibm_database", "version", "{n}"),
}


@cache
def emitted() -> dict[str, dict[str, Any]]:
    result = validate_repository(ROOT / "specs")
    assert result.ok, "specs/ must validate"
    sink = DiagnosticSink()
    tree = emit_terraform(EmitContext(result.index, sink))
    assert not sink.has_errors, [str(d) for d in sink.sorted()]
    return {path: json.loads(content) for path, content in sorted(tree.items())}


def test_table_covers_every_cloud() -> None:
    assert set(POSTGRES_SERVICES) == set(CLOUD_EMITTERS) == set(SPELLING)
    assert all(14 <= s.major <= 18 for s in POSTGRES_SERVICES.values()), "a supported, GA PostgreSQL major"


@pytest.mark.parametrize("cloud", sorted(SPELLING))
def test_emitted_databases_use_the_table(cloud: str) -> None:
    type_, argument, spelling = SPELLING[cloud]
    expected = spelling.format(n=postgres_major(cloud))
    seen = {
        f"{path}: {type_}.{name}": body.get(argument)
        for path, stack in emitted().items()
        for name, body in stack.get("resource", {}).get(type_, {}).items()
        if type_ != "ibm_database" or body.get("service") == "databases-for-postgresql"
    }
    assert seen, f"specs/ emit no {type_} (the test would prove nothing)"
    wrong = {address: value for address, value in seen.items() if value != expected}
    assert not wrong, f"expected {argument} = {expected!r} (postgres_versions.py), got: {wrong}"


def test_rds_parameter_group_family_follows_the_major() -> None:
    families = {body["family"] for stack in emitted().values()
                for body in stack.get("resource", {}).get("aws_db_parameter_group", {}).values()}
    assert families == {f"postgres{postgres_major('aws')}"}
