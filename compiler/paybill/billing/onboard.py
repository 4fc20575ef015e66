"""A new customer's Tenant spec, from the BillingPolicy's onboarding rules, or what is missing.

Nothing is guessed: the name comes from the customer (``paybill_tenant`` metadata, else the
customer's name made safe), the region from a residency rule for the customer's country, the pool from
that region's pools with free capacity, the isolation from the plan's default. When a rule does not
decide, the result lists what is missing and no tenant is proposed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import yaml

from paybill.billing.events import CustomerInfo
from paybill.billing.policy import BillingFacts
from paybill.models.base import NAME_MAX, NAME_RE, TEXT_MAX
from paybill.models.billing import Onboarding, ResidencyRule
from paybill.models.plan import Plan

_NON_NAME = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"^[^@\s\"'`$]+@[a-z0-9.-]+\.[a-z]{2,}$")
ONBOARDED_FROM = "paybill.dev/onboarded-from"
"""The annotation naming the Stripe customer a proposed tenant was made for (finds an open onboarding)."""
_SPACES = re.compile(r"\s+")
_SHOWN_MAX = 80


def _visible(text: str) -> str:
    """``text`` without control or format characters (a display name and a contact's name).

    Format characters (category Cf: bidirectional overrides such as U+202E, zero-width joiners) let a
    customer name read differently in review than it is (``Evil<U+202E>Corp``); control characters break
    the YAML line and the pull-request body. Each becomes a space, runs of spaces one.
    """
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    return _SPACES.sub(" ", cleaned).strip()


def _shown(text: str) -> str:
    """Customer-controlled text quoted in a diagnostic: one line, invisible characters escaped, bounded."""
    escaped = "".join(c if unicodedata.category(c) not in ("Cc", "Cf") else f"\\u{ord(c):04x}" for c in text)
    return escaped if len(escaped) <= _SHOWN_MAX else escaped[:_SHOWN_MAX] + "..."


@dataclass
class NewTenant:
    name: str = ""
    document: dict = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    pool: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing


_LATIN = str.maketrans({"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
                        "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D",
                        "ı": "i"})
"""Latin letters NFKD does not decompose: dropped as non-ASCII, ``Größe`` became ``groe``."""


def safe_name(text: str) -> str | None:
    """``Ünïcorn Labs, Inc.`` -> ``unicorn-labs-inc``: the name grammar, at most 40 characters."""
    ascii_text = unicodedata.normalize("NFKD", text.translate(_LATIN)).encode("ascii", "ignore").decode().lower()
    slug = _NON_NAME.sub("-", ascii_text).strip("-")[:NAME_MAX].rstrip("-")
    if slug and not slug[0].isalpha():
        slug = ("c-" + slug)[:NAME_MAX].rstrip("-")
    return slug if slug and NAME_RE.fullmatch(slug) else None


def free_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... (shortened to stay within 40): never an existing name."""
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        name = base[: NAME_MAX - len(suffix)].rstrip("-") + suffix
        if name not in taken:
            return name
        n += 1


def _rule_for(country: str, rules: list[ResidencyRule]) -> ResidencyRule | None:
    return next((r for r in rules if country in r.countries), None)


def _pool_load(facts: BillingFacts, reserved_pools: dict[str, int]) -> dict[str, int]:
    load: dict[str, int] = dict(reserved_pools)
    for doc in facts.index.of_kind("Tenant"):
        spec = doc.model.spec
        if spec.placement.pool and spec.lifecycle != "deleted":
            load[spec.placement.pool] = load.get(spec.placement.pool, 0) + 1
    return load


def build_tenant(customer: CustomerInfo | None, customer_id: str, plan_name: str, status: str,
                 onboarding: Onboarding, facts: BillingFacts, taken: set[str],
                 reserved_pools: dict[str, int]) -> NewTenant:
    result = NewTenant()
    if customer is None:
        result.missing.append(f"the customer's details (no customer.created or customer.updated event for "
                              f"'{customer_id}' yet, and the subscription does not expand its customer)")
        return result
    plan: Plan = facts.plans[plan_name]
    # name
    wanted = customer.meta("paybill_tenant")
    if wanted is not None:
        if not NAME_RE.fullmatch(wanted) or len(wanted) > NAME_MAX:
            result.missing.append(f"a valid tenant name: metadata paybill_tenant '{_shown(wanted)}' is not one "
                                  "(lower case, digits, single hyphens, starts with a letter, <= 40)")
        elif wanted in taken:
            result.missing.append(f"a free tenant name: metadata paybill_tenant '{wanted}' is taken (a tenant, "
                                  "a file of that name in the tenants folder, or another new customer's proposal)")
        else:
            result.name = wanted
    elif customer.name is None:
        result.missing.append("the customer's name (or a paybill_tenant metadata key) to name the tenant")
    else:
        base = safe_name(customer.name)
        if base is None:
            result.missing.append(f"a tenant name: customer name '{_shown(customer.name)}' has no Latin letters or "
                                  "digits to make one from (set the customer's metadata paybill_tenant in Stripe "
                                  "to the tenant name)")
        else:
            result.name = free_name(base, taken)
    display = _visible(customer.name or "")[:TEXT_MAX].rstrip() or None
    if display is None:
        result.missing.append("a display name (the customer's name)")
    email = (customer.email or "").lower()
    if not _EMAIL.fullmatch(email):
        result.missing.append("a contact email (the customer's email)")
    # placement
    placement: dict | None = None
    isolation = plan.spec.isolation.default
    rule = None
    if customer.country is None:
        result.missing.append("the customer's country (address.country or metadata paybill_country)")
    else:
        rule = _rule_for(customer.country, onboarding.residency)
        if rule is None:
            result.missing.append(f"a residency rule for country '{_shown(customer.country)}' in the BillingPolicy's "
                                  "onboarding.residency")
    if rule is not None:
        regions = list(rule.regions)
        preferred = customer.meta("paybill_region")
        if preferred is not None:
            if preferred not in regions:
                result.missing.append(f"metadata paybill_region '{_shown(preferred)}' is outside the residency regions "
                                      f"{', '.join(regions)} for '{customer.country}'")
            else:
                regions = [preferred]
        if isolation == "bridge":
            result.missing.append(f"per-layer isolation: plan '{plan_name}' defaults to bridge, whose layers a "
                                  "person chooses")
        elif isolation == "pooled":
            load = _pool_load(facts, reserved_pools)
            why: list[str] = []
            for region in regions:
                pools = sorted((d for d in facts.index.of_kind("Pool") if d.model.spec.region == region
                                and (rule.cloud is None or d.model.spec.cloud == rule.cloud)), key=lambda d: d.name)
                free = [d for d in pools if load.get(d.name, 0) < d.model.spec.capacity.max_tenants]
                if free:
                    pool = free[0]
                    placement = {"cloud": pool.model.spec.cloud, "region": region, "pool": pool.name}
                    result.pool = pool.name
                    break
                # which of the two it is decides the fix: add a Pool, or raise a full one's capacity
                why.append(f"{region}: " + ("no Pool" if not pools else ", ".join(
                    f"pool '{d.name}' full ({load.get(d.name, 0)}/{d.model.spec.capacity.max_tenants} tenants, "
                    "open onboarding proposals included)" for d in pools)))
            if placement is None:
                chosen = " (metadata paybill_region)" if preferred is not None else ""
                result.missing.append(f"a pool with free capacity in {', '.join(regions)}{chosen}"
                                      + (f" on cloud '{rule.cloud}'" if rule.cloud else "") + f" ({'; '.join(why)})")
        else:
            region = regions[0]
            clouds = sorted(d.name for d in facts.index.of_kind("Cloud") if region in d.model.spec.regions
                            and (rule.cloud is None or d.name == rule.cloud))
            if len(clouds) == 1:
                placement = {"cloud": clouds[0], "region": region}
            else:
                result.missing.append(f"one cloud for region '{region}' (set cloud on the residency rule; "
                                      f"candidates: {', '.join(clouds) or 'none'})")
    if result.missing:
        return result
    assert rule is not None and placement is not None and display is not None
    result.document = {
        "apiVersion": "paybill.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": result.name, "annotations": {ONBOARDED_FROM: customer_id}},
        "spec": {
            "displayName": display,
            "plan": plan_name,
            "placement": placement,
            "isolation": {"model": isolation},
            "lifecycle": "onboarding",
            "billing": {"status": status, "customerId": customer_id},
            "dataResidency": {"allowedRegions": list(rule.regions)},
            "contacts": [{"name": display, "email": email, "role": onboarding.contact_role}],
        },
    }
    return result


def render(document: dict, schema_path: str) -> bytes:
    """The new spec file: deterministic YAML with the editor schema comment the examples carry."""
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096)
    header = (f"# yaml-language-server: $schema={schema_path}\n"
              "# Proposed by paybill billing from a new subscription; review placement and contacts.\n")
    return (header + body).encode("utf-8")
