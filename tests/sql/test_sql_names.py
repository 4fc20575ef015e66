"""Identifier derivation: deterministic, quoted, validated, never truncated by PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybill.contract import sql_names as names
from paybill.contract.names import NAME_MAX, NAME_PATTERN

spec_names = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= NAME_MAX)


def test_agent_role_replaces_hyphens() -> None:
    assert names.agent_role("billing-agent") == "paybill_agent_billing_agent"
    assert names.owner_role("tenant-acme-corp") == "paybill_owner_tenant_acme_corp"
    assert names.app_role("pool-aws-use1-shared") == "paybill_app_pool_aws_use1_shared"


@given(spec_names)
def test_every_spec_name_yields_valid_role_names(name: str) -> None:
    for role in (names.agent_role(name), names.owner_role(names.database_key("tenant", name)),
                 names.app_role(names.database_key("pool", name))):
        assert len(role.encode()) <= names.MAX_IDENTIFIER_BYTES
        assert names.quote_ident(role) == f'"{role}"'


@given(spec_names, spec_names)
def test_distinct_names_yield_distinct_roles(a: str, b: str) -> None:
    assert (a == b) == (names.agent_role(a) == names.agent_role(b))


@pytest.mark.parametrize("bad", ['a"b', "A", "1abc", "a b", "a;drop", "", "x" * 64, "é"])
def test_quote_ident_refuses_unsafe_identifiers(bad: str) -> None:
    with pytest.raises(names.IdentifierError):
        names.quote_ident(bad)


def test_quote_literal_doubles_quotes() -> None:
    assert names.quote_literal("o'brien") == "'o''brien'"
    with pytest.raises(ValueError):
        names.quote_literal("a\x00b")


@pytest.mark.parametrize(("schema", "reserved"), [("crm", False), ("pg_x", True), ("public", True),
                                                  ("information_schema", True), ("billing", False)])
def test_schema_reservation(schema: str, reserved: bool) -> None:
    assert (names.schema_problem(schema) is not None) == reserved
