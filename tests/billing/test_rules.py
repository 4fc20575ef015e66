"""PB1001-PB1004: price ids and the BillingPolicy, checked by ``paybill validate`` with exact positions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from paybill.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def validate(tmp_path: Path, edits: dict[str, tuple[str, str]], extra: dict[str, str] | None = None) -> str:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    for rel, (old, new) in edits.items():
        text = (specs / rel).read_text(encoding="utf-8")
        assert old in text, (rel, old)
        (specs / rel).write_text(text.replace(old, new, 1), encoding="utf-8")
    for rel, text in (extra or {}).items():
        (specs / rel).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(specs)], catch_exceptions=False)
    return result.stdout.replace(str(tmp_path) + "/", "")


def test_the_example_specs_are_clean(tmp_path) -> None:
    assert validate(tmp_path, {}).startswith("ok:")


def test_a_price_id_on_two_plans(tmp_path) -> None:
    out = validate(tmp_path, {"plans/starter.yaml": ("price_starter_yearly]", "price_growth_monthly]")})
    assert "specs/plans/starter.yaml:34:37: error[PB1001]: price id 'price_growth_monthly' is already declared by " \
           "plan 'growth' at specs/plans/growth.yaml:43:14" in out, out


def test_two_billing_policies(tmp_path) -> None:
    policy = (ROOT / "specs/billing/stripe.yaml").read_text(encoding="utf-8").replace("name: stripe", "name: other")
    out = validate(tmp_path, {}, {"billing/other.yaml": policy})
    assert "error[PB1002]: a second BillingPolicy 'stripe'; the repository already has 'other'" in out, out


@pytest.mark.parametrize(("old", "new", "message"), [
    ("agent: billing-agent", "agent: biling-agent", "unknown agent 'biling-agent'"),
    ("cloud: azure-prod", "cloud: azure-test", "unknown cloud 'azure-test'"),
    ("regions: [us-east-1]", "regions: [westeurope]", "region 'westeurope' is not offered by cloud 'aws-prod'"),
])
def test_policy_references(tmp_path, old, new, message) -> None:
    out = validate(tmp_path, {"billing/stripe.yaml": (old, new)})
    assert "error[PB1003]: " + message in out, out


def test_an_agent_that_does_not_reach_every_tenant_is_a_warning(tmp_path) -> None:
    """Billing proposals outside the agent's scope, onboarding included, are refused (PB0979): said at
    validate, not when a customer's event comes."""
    out = validate(tmp_path, {"billing/stripe.yaml": ("agent: billing-agent", "agent: ops-agent")})
    expected = ("specs/billing/stripe.yaml:9:10: warning[PB1005]: agent 'ops-agent' does not reach every tenant: "
                "billing proposals for tenants outside its tenantScope, onboarding included, are refused (PB0979)")
    assert expected in out, out
    assert "error[" not in out, out


def test_a_class_in_both_review_lists(tmp_path) -> None:
    edit = ("autoMerge: [billing-status,", "autoMerge: [offboard, billing-status,")
    out = validate(tmp_path, {"billing/stripe.yaml": edit})
    assert "specs/billing/stripe.yaml:17:17: error[PB1004]: change class 'offboard' is listed in both autoMerge and " \
           "requireHuman" in out, out
