"""Monthly recurring revenue (MRR) from plan prices, before and after a change.

Rules (documented because finance reads this number):

* A tenant pays when its billing status is ``active`` or ``past_due`` and its lifecycle is not
  ``deleted``. Trials (``trialing``) and ``cancelled`` subscriptions contribute nothing.
* A tenant pays its plan's price; a yearly price counts as one twelfth per month.
* Amounts stay in minor units (cents) as exact fractions and are summed per currency (no exchange
  rates: mixing currencies would invent a number). Totals are rounded half-to-even once, at the end.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from paybill.changes.model import CurrencyRevenue, Finding, Revenue, TenantRevenue
from paybill.validate.index import SpecIndex

PAYING_STATUSES = frozenset({"active", "past_due"})
CODE_REVENUE = "PB0950"
MINOR_UNITS = {"JPY": 0}


def monthly(plan) -> Fraction:
    price = plan.spec.price
    return Fraction(price.amount, 12) if price.interval == "year" else Fraction(price.amount)


Contribution = tuple[str, Fraction, str, str, str]
"""(currency, monthly amount, plan, billing status, lifecycle) of one tenant."""


_ZERO = Fraction(0)


class Prices:
    """Each plan's (currency, monthly price) on one side, looked up once per plan, not once per tenant."""

    def __init__(self, index: SpecIndex) -> None:
        self.index = index
        self._prices: dict[str, tuple[str, Fraction] | None] = {}

    def __call__(self, plan_name: str) -> tuple[str, Fraction] | None:
        if plan_name not in self._prices:
            plan = self.index.model("Plan", plan_name)
            self._prices[plan_name] = (plan.spec.price.currency, monthly(plan)) if plan is not None else None
        return self._prices[plan_name]

    def looked_up(self) -> dict[str, tuple[str, Fraction] | None]:
        """Every plan asked for so far -> its (currency, monthly price), or None when not on this side."""
        return dict(self._prices)


def contribution(prices: Prices, plan_name: str, status: str, lifecycle: str) -> Contribution | None:
    """One tenant's share on one side (None when its plan is not on that side); 0 when not paying."""
    price = prices(plan_name)
    if price is None:
        return None
    paying = status in PAYING_STATUSES and lifecycle != "deleted"
    return (price[0], price[1] if paying else _ZERO, plan_name, status, lifecycle)


def contributions(index: SpecIndex, prices: Prices | None = None) -> dict[str, Contribution]:
    """tenant -> its :func:`contribution`, for every tenant of ``index`` whose plan is there."""
    prices = prices or Prices(index)
    out: dict[str, Contribution] = {}
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        share = contribution(prices, spec.plan, spec.billing.status, spec.lifecycle)
        if share is not None:
            out[doc.name] = share
    return out


def _reason(before, after, base: SpecIndex, head: SpecIndex) -> str:
    if before is None:
        return "new tenant"
    if after is None:
        return "tenant removed"
    reasons = []
    if before[2] != after[2]:
        reasons.append(f"plan {before[2]} -> {after[2]}")
    elif (old_plan := base.model("Plan", before[2])) is not None and (
            new_plan := head.model("Plan", after[2])) is not None:
        old_price, new_price = old_plan.spec.price, new_plan.spec.price
        if old_price != new_price:
            reasons.append(f"price of plan {after[2]} changed")
    if before[3] != after[3]:
        reasons.append(f"billing {before[3]} -> {after[3]}")
    if before[4] != after[4]:
        reasons.append(f"lifecycle {before[4]} -> {after[4]}")
    return "; ".join(reasons) or "price changed"


def _round(value: Fraction) -> int:
    return round(value)


def compute_revenue(base: SpecIndex, head: SpecIndex) -> Revenue:
    return revenue_of(contributions(base), contributions(head), base, head)


def revenue_of(old: dict[str, Contribution], new: dict[str, Contribution], base: SpecIndex,
               head: SpecIndex) -> Revenue:
    """Totals and moved shares from each side's contributions (``base``/``head`` name the reasons).

    Split from :func:`compute_revenue` so a plan that indexes only the documents a change touches
    (:mod:`paybill.plan.committed`) can pass every tenant's share, the unchanged ones from plain data."""
    totals: dict[str, list[Fraction]] = {}
    for side, shares in ((0, old), (1, new)):
        # summed as (count x amount) per distinct amount: exact, and one Fraction sum per plan price
        counted = Counter((currency, amount.numerator, amount.denominator) for currency, amount, *_ in shares.values())
        for (currency, numerator, denominator), count in counted.items():
            totals.setdefault(currency, [Fraction(0), Fraction(0)])[side] += Fraction(numerator, denominator) * count
    tenants: list[TenantRevenue] = []
    # only the tenants whose share differs are sorted (a one-tenant change: one of 10,000)
    for name in sorted([name for name in old.keys() | new.keys() if old.get(name) != new.get(name)]):
        before, after = old.get(name), new.get(name)
        b_cur, b_amt = (before[0], before[1]) if before else (None, Fraction(0))
        a_cur, a_amt = (after[0], after[1]) if after else (None, Fraction(0))
        if b_cur == a_cur and b_amt == a_amt:
            continue
        reason = _reason(before, after, base, head)
        if b_cur == a_cur or b_cur is None or a_cur is None:
            currency = a_cur or b_cur or ""  # never "": a side without a currency contributes 0 (skipped above)
            if b_amt != a_amt:
                tenants.append(TenantRevenue(name, currency, _round(b_amt), _round(a_amt), reason))
        else:
            tenants.append(TenantRevenue(name, b_cur, _round(b_amt), 0, reason))
            tenants.append(TenantRevenue(name, a_cur, 0, _round(a_amt), reason))
    rows = tuple(CurrencyRevenue(c, _round(v[0]), _round(v[1])) for c, v in sorted(totals.items()))
    return Revenue(rows, tuple(tenants))


def format_money(amount: int, currency: str, signed: bool = False) -> str:
    """``12,345.67 USD`` from minor units (``+``/``-`` with ``signed``)."""
    digits = MINOR_UNITS.get(currency, 2)
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    value = abs(amount)
    if digits:
        whole, cents = divmod(value, 10**digits)
        return f"{sign}{whole:,}.{cents:0{digits}d} {currency}"
    return f"{sign}{value:,} {currency}"


def revenue_findings(revenue: Revenue) -> list[Finding]:
    findings = []
    for row in revenue.totals:
        if row.delta:
            findings.append(Finding(
                CODE_REVENUE, "notice", "revenue", f"MRR/{row.currency}",
                f"monthly recurring revenue {format_money(row.delta, row.currency, signed=True)} "
                f"({format_money(row.before, row.currency)} -> {format_money(row.after, row.currency)})"))
    return findings
