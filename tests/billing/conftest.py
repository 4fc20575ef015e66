"""Billing tests: a real git repository of specs with price ids and a BillingPolicy, and Stripe
events shaped like recorded webhooks (``stripe`` objects or JSON fixtures; never the network).

Stripe itself cannot run here: events are built as Stripe sends them and signed with the ``stripe``
library's own ``WebhookSignature``, which is the process boundary of the receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stripe

from paybill.billing.engine import run_pass
from paybill.billing.proposal import open_repo
from paybill.billing.store import FileStore
from review.conftest import SpecRepo, isolated_git, run  # noqa: F401 - fixtures reused as they are

T0 = 1_767_225_600 + 10 * 86_400  # 2026-01-11, after the repository's commits
DAY = 86_400
SECRET = "whsec_test_billing_secret"

CUSTOMERS = {"vandelay": "cus_131127a9895ffb", "hooli": "cus_60a9cc3a975f0b", "acme": "cus_7c879ad6a7611d",
             "nakatomi": "cus_9bed6a85dc7016"}

POLICY = """\
apiVersion: paybill.dev/v1alpha1
kind: BillingPolicy
metadata:
  name: stripe
spec:
  provider: stripe
  agent: billing-agent
  dunning:
    suspendAfterPastDueDays: 14
    offboardAfterCancelledDays: 30
    suspendOnTrialEndWithoutPayment: true
    reactivateOnPayment: true
  review:
    autoMerge: [billing-status, suspend, reactivate, upgrade]
    requireHuman: [downgrade, offboard, onboard]
  onboarding:
    residency:
      - {countries: [US, CA], regions: [us-east-1], cloud: aws-prod}
      - {countries: [DE], regions: [eu-west-1], cloud: aws-prod}
"""

PRICES = {"free": ["price_free_monthly"], "starter": ["price_starter_monthly", "price_starter_yearly"],
          "growth": ["price_growth_monthly"], "enterprise": ["price_enterprise_monthly"]}


def seed_billing(repo: SpecRepo) -> SpecRepo:
    """The tests' own price ids and policy, in place of the ones `paybill init` ships."""
    for plan, ids in PRICES.items():
        path = f"specs/plans/{plan}.yaml"
        kept = [line for line in repo.read(path).splitlines()
                if not line.lstrip().startswith(("priceIds:", "# The Stripe prices"))]
        repo.write(path, "\n".join(kept) + f"\n  priceIds: [{', '.join(ids)}]\n")
    repo.write("specs/billing/stripe.yaml", POLICY)
    repo.commit("Billing policy and price ids")
    return repo


@pytest.fixture
def brepo(tmp_path: Path) -> SpecRepo:
    repo = SpecRepo(tmp_path / "platform").seed()
    repo.commit("Initial specs")
    return seed_billing(repo)


def event(evt: str, kind: str, created: int, obj: dict) -> dict:
    return {"id": evt, "object": "event", "api_version": "2025-09-30.clover", "type": kind, "created": created,
            "livemode": False, "pending_webhooks": 1, "data": {"object": obj}}


def subscription(evt: str, kind: str, created: int, customer: str, *, sub: str | None = None,
                 status: str = "active", price: str | None = "price_starter_monthly") -> dict:
    items = {"object": "list", "data": [{"id": "si_1", "object": "subscription_item",
                                         "price": {"id": price, "object": "price"}}] if price else []}
    return event(evt, kind, created, {"id": sub or f"sub_{customer}", "object": "subscription", "customer": customer,
                                      "status": status, "items": items})


def invoice(evt: str, kind: str, created: int, customer: str, *, sub: str | None = None) -> dict:
    return event(evt, kind, created, {"id": f"in_{evt}", "object": "invoice", "customer": customer,
                                      "parent": {"type": "subscription_details",
                                                 "subscription_details": {"subscription": sub or f"sub_{customer}"}}})


def customer(evt: str, created: int, cid: str, *, name: str | None = "Initrode Inc.",
             email: str | None = "ap@initrode.example.com", country: str | None = "US", metadata=None) -> dict:
    return event(evt, "customer.created", created, {"id": cid, "object": "customer", "name": name, "email": email,
                                                    "address": {"country": country} if country else None,
                                                    "metadata": metadata or {}})


def signed(payload: dict, timestamp: int | None = None, secret: str = SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return body.encode(), header


class Billing:
    """Runs passes against one repository and one state file, as ``paybill billing sync`` does."""

    def __init__(self, repo: SpecRepo, state: Path) -> None:
        self.repo = repo
        self.store = FileStore(state)

    def ctx(self):
        return open_repo(self.repo.root / "specs", "main", None, None, terraform=False)

    def sync(self, events: list[dict], now: int):
        from paybill.billing.events import parse_event

        self.store.enqueue([parse_event(e) for e in events])
        return run_pass(self.store, self.ctx, now)

    def branches(self) -> list[str]:
        return self.repo.git("branch", "--list", "paybill/*", "--format=%(refname:short)").split()

    def merge(self, branch: str) -> None:
        self.repo.git("merge", "--quiet", "--ff-only", branch)


@pytest.fixture
def billing(brepo: SpecRepo, tmp_path: Path) -> Billing:
    return Billing(brepo, tmp_path / "state" / "billing.json")
