"""Conditional replacements: the one-directional changes providers force new in CustomizeDiff."""

from __future__ import annotations

import pytest

from paybill.clouds import registry
from paybill.plan.replace_rules import (
    changes_not_made,
    conditional_rules,
    forcing_arguments,
    known_type,
    replace_arguments,
)
from paybill.plan.replace_when import holds


@pytest.mark.parametrize(("when", "before", "after", "replaces"), [
    ("shrinks", 500, 200, True),
    ("shrinks", 200, 500, False),
    ("shrinks", 2.5, 2.0, True),
    ("shrinks", None, 200, False),  # unset before (Computed): nothing to shrink
    ("shrinks", 200, None, False),  # the provider keeps the size it has
    ("shrinks", True, False, False),  # booleans are not sizes
    ("shrinks", "16", "15", True),  # azurerm compares a version string as a number
    ("shrinks", "16", "17", False),
    ("shrinks", "10.0.0.0/24", "10.0.0.0/23", False),  # widened in place
    ("shrinks", "10.0.0.0/24", "10.0.0.0/25", True),
    ("shrinks", "10.0.0.0/24", "10.0.1.0/24", True),  # moved: the new range does not contain the old one
    ("shrinks", "10.0.0.0/24", "fd00::/64", True),
    ("shrinks", "10.0.0.0/24", "${var.range}", False),  # known only at apply time
    ("removed", "projects/p/global/networks/n", None, True),
    ("removed", "projects/p/global/networks/n", "", True),
    ("removed", "projects/p/global/networks/n", "projects/p/global/networks/m", False),
    ("removed", None, "projects/p/global/networks/n", False),
    ("turned_off", True, False, True),
    ("turned_off", True, None, True),
    ("turned_off", False, True, False),
])
def test_conditions(when, before, after, replaces) -> None:
    assert holds(when, before, after) is replaces


def test_a_shrinking_subnetwork_and_a_removed_private_network_are_replacements() -> None:
    before = {"ip_cidr_range": "10.20.0.0/20"}
    assert forcing_arguments("google_compute_subnetwork", before, {"ip_cidr_range": "10.20.0.0/19"},
                             ("ip_cidr_range",)) == ()
    assert forcing_arguments("google_compute_subnetwork", before, {"ip_cidr_range": "10.20.0.0/21"},
                             ("ip_cidr_range",)) == \
        ("ip_cidr_range 10.20.0.0/20 -> 10.20.0.0/21 no longer contains the old range",)
    sql = {"settings": [{"ip_configuration": [{"private_network": "projects/p/global/networks/n"}]}]}
    assert forcing_arguments("google_sql_database_instance", sql, {"settings": [{"ip_configuration": [{}]}]},
                             ("settings",)) == ("settings.ip_configuration.private_network removed",)


@pytest.mark.parametrize(("autoresize", "replaced"), [(False, True), (True, False), (None, False)])
def test_a_smaller_cloud_sql_disk_replaces_the_instance_only_without_autoresize(autoresize, replaced) -> None:
    """google 8.x ``diskSizeCutomizeDiff``: ForceNew when autoresize is off, the diff cleared when on (the default)."""
    def sql(size: int) -> dict:
        settings: dict = {"disk_size": size}
        if autoresize is not None:
            settings["disk_autoresize"] = autoresize
        return {"settings": [settings]}

    forcing = forcing_arguments("google_sql_database_instance", sql(100), sql(50), ("settings",))
    not_made = changes_not_made("google_sql_database_instance", sql(100), sql(50), ("settings",))
    assert forcing == (("settings.disk_size shrinks 100 -> 50",) if replaced else ())
    assert bool(not_made) is not replaced
    assert forcing_arguments("google_sql_database_instance", sql(50), sql(100), ("settings",)) == ()
    assert changes_not_made("google_sql_database_instance", sql(50), sql(100), ("settings",)) == ()


def test_every_conditional_rule_names_a_known_type_and_says_where_it_was_read() -> None:
    for provider in registry.terraform_providers().values():
        for rule in provider.conditional:
            assert known_type(rule.type), rule
            assert rule.path not in replace_arguments()[rule.type], f"{rule.path} is already ForceNew"
            assert rule.source, rule
    assert "google_sql_database_instance" in conditional_rules()
