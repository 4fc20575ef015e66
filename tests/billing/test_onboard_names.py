"""Tenant names made from customer names: Latin letters that Unicode does not decompose are spelled out."""

from __future__ import annotations

import pytest

from paybill.billing.onboard import safe_name


@pytest.mark.parametrize(("customer", "tenant"), [
    ("Ünïcorn Labs, Inc.", "unicorn-labs-inc"),
    ("Größe & Söhne GmbH", "grosse-sohne-gmbh"),      # was "groe-sohne-gmbh": ß dropped as non-ASCII
    ("Ørsted A/S", "orsted-a-s"),                      # was "rsted-a-s"
    ("Łódź Logistics Sp. z o.o.", "lodz-logistics-sp-z-o-o"),
    ("Ægir Bryggeri", "aegir-bryggeri"),
    ("3M", "c-3m"),
    ("株式会社", None),
])
def test_customer_names_become_tenant_names(customer: str, tenant: str | None) -> None:
    assert safe_name(customer) == tenant
