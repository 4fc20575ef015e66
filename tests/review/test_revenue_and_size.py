"""MRR rules (yearly prices, currencies, who pays) and the pull-request comment size budget."""

from __future__ import annotations

import json

from paybill.changes.model import FieldChange, PlanReport, SpecChange
from paybill.diagnostics import Position
from paybill.plan.render.markdown import BUDGET, render_markdown
from paybill.plan.revenue import format_money

ENTERPRISE = "specs/plans/enterprise.yaml"


def mrr(run, repo) -> dict:
    report = json.loads(run(repo.root, "plan", "specs", "--no-terraform", "--format", "json", "--base", "HEAD")[1])
    return report["revenue"]


def test_yearly_price_counts_one_twelfth_and_nothing_moves_when_equivalent(repo, run) -> None:
    repo.edit(ENTERPRISE, "amount: 499900", "amount: 5998800")
    repo.edit(ENTERPRISE, "interval: month", "interval: year")
    assert mrr(run, repo) == {"totals": [{"currency": "USD", "before": 999800, "after": 999800, "delta": 0}],
                              "tenants": []}


def test_currencies_are_never_mixed(repo, run) -> None:
    repo.edit(ENTERPRISE, "currency: USD", "currency: EUR")
    revenue = mrr(run, repo)
    assert revenue["totals"] == [{"currency": "EUR", "before": 0, "after": 999800, "delta": 999800},
                                 {"currency": "USD", "before": 999800, "after": 0, "delta": -999800}]
    assert [(t["tenant"], t["currency"]) for t in revenue["tenants"]] == [
        ("acme-corp", "USD"), ("acme-corp", "EUR"), ("nakatomi", "USD"), ("nakatomi", "EUR")]


def test_trials_and_cancelled_tenants_do_not_pay(repo, run) -> None:
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: growth")  # hooli is trialing
    assert mrr(run, repo)["tenants"] == []


def test_money_formatting() -> None:
    assert format_money(123456, "USD") == "1,234.56 USD"
    assert format_money(-5, "EUR", signed=True) == "-0.05 EUR"
    assert format_money(1500, "JPY", signed=True) == "+1,500 JPY"


def test_markdown_stays_under_githubs_comment_limit() -> None:
    report = PlanReport("base", "head", None, None)
    for i in range(5000):
        fields = tuple(FieldChange(f"spec.field{j}", "changed", "x" * 30, "y" * 30, f"specs/tenants/t{i}.yaml",
                                   Position(9, 9)) for j in range(3))
        report.changes.append(SpecChange("Tenant", f"t{i:05d}", "modified", f"specs/tenants/t{i}.yaml",
                                         Position(9, 9), None, fields))
    text = render_markdown(report)
    assert len(text) < 65_536 and len(text) > BUDGET // 2
    assert "more tenants not shown to keep this comment under GitHub's size limit" in text
