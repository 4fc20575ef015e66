"""Cloud quotas over the whole fleet: warn at 80 %, fail at 100 %, at the tenant that crosses the line.

Runs right after the emitters, on the counts each stack recorded (:mod:`paybill.quotas.usage`), so
what is counted is exactly what ``terraform apply`` would create. A fleet that cannot be applied
fails in the pull request (``compile --check`` in the PR workflow), not halfway through an apply.

Counts are kept per quota scope: the cloud account (clouds sharing an account id share the count,
and the lowest override among them applies), the account and the stack's region, or the resource a
reference points at (a pool's KMS key, a resource group). Stacks are added pools first, then tenants,
each in name order, so the same repository always blames the same tenant; only the first stack to
reach each threshold is reported (one warning, one error per quota and scope).

Reaching 100 % (PB0682) is an error under ``paybill compile --strict-quotas`` (what the PR workflow
runs) and a warning otherwise: a benchmark or a local experiment may exceed documented defaults that
the real account has raised without saying so in ``spec.quotas``, and its output must still be
written (the shared 10,000-tenant benchmark fleet does exceed GCP's 100 service accounts per project).
:func:`strict` turns the warnings into errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from paybill.diagnostics import DiagnosticSink
from paybill.diagnostics.model import Diagnostic, Severity
from paybill.load.document import SpecDocument
from paybill.quotas import QUOTAS, Quota, Scope
from paybill.validate.index import SpecIndex

WARNING = "PB0681"
ERROR = "PB0682"
WARN_AT = 0.8

ACCOUNT_FIELDS = {"aws": ("aws", "account_id"), "azure": ("azure", "subscription_id"), "gcp": ("gcp", "project_id"),
                  "oci": ("oci", "tenancy_ocid"), "ibm": ("ibm", "account_id")}


class StackRecord(Protocol):
    """The parts of an emitted stack's record this check reads (``StackInfo``)."""

    @property
    def address(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def cloud(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def depends_on(self) -> tuple[str, ...]: ...
    @property
    def quota_usage(self) -> tuple[tuple[str, str, int], ...]: ...


@dataclass(slots=True)
class _Tally:
    quota: Quota
    limit: int
    where: str
    overridden_by: str | None
    used: int = 0
    warned: bool = False
    failed: bool = False


def _account(index: SpecIndex, cloud_name: str) -> tuple[str, str] | None:
    cloud = index.model("Cloud", cloud_name)
    if cloud is None:
        return None
    fields = ACCOUNT_FIELDS.get(cloud.spec.provider)
    if fields is None:
        return None  # a cloud with no quota table (a sixth cloud registered without one)
    block, attribute = fields
    return cloud.spec.provider, str(getattr(getattr(cloud.spec, block), attribute))


def _limits(index: SpecIndex) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    """(provider, account, quota) -> (limit, the Cloud whose override set it, if any)."""
    limits: dict[tuple[str, str, str], tuple[int, str | None]] = {}
    for doc in index.of_kind("Cloud"):
        account = _account(index, doc.name)
        if account is None:
            continue
        for quota in QUOTAS.get(account[0], ()):
            key = (*account, quota.name)
            override = doc.model.spec.quotas.get(quota.name)
            value = (override, doc.name) if override is not None else (quota.default, None)
            if key not in limits or value[0] < limits[key][0]:
                limits[key] = value
    return limits


def _owner(index: SpecIndex, address: str) -> SpecDocument | None:
    kind, _, name = address.partition("/")
    return index.get("Tenant" if kind == "tenant" else "Pool", name)


def _region(document: SpecDocument) -> str:
    spec = document.model.spec
    region: str = spec.placement.region if document.kind == "Tenant" else spec.region
    return region


def check_quotas(stacks: Iterable[StackRecord], index: SpecIndex, sink: DiagnosticSink) -> None:
    limits = _limits(index)
    by_name = {q.name: q for quotas in QUOTAS.values() for q in quotas}
    tallies: dict[tuple[str, ...], _Tally] = {}
    ordered = sorted(stacks, key=lambda s: (s.kind != "pool", s.address))
    for stack in ordered:
        if not stack.quota_usage:
            continue
        account = _account(index, stack.cloud)
        owner = _owner(index, stack.address)
        if account is None or owner is None:
            continue
        crossed: list[tuple[str, _Tally]] = []
        for name, reference, count in stack.quota_usage:
            quota = by_name.get(name)
            if quota is None:
                continue
            limit, overridden_by = limits.get((*account, name), (quota.default, None))
            if quota.scope is Scope.ACCOUNT:
                key, where = (*account, name), f"{_account_label(account)}"
            elif quota.scope is Scope.REGION:
                region = _region(owner)
                key, where = (*account, region, name), f"{_account_label(account)}, region {region}"
            else:
                holder = next((d for d in stack.depends_on if d.startswith("pool/")), stack.address) \
                    if reference == "pool" else stack.address
                key, where = (*account, holder, name), f"{holder}'s {_holder_label(quota)}"
            tally = tallies.get(key)
            if tally is None:
                tally = tallies[key] = _Tally(quota, limit, where, overridden_by)
            tally.used += count
            if not tally.failed and tally.used >= tally.limit:
                tally.failed = tally.warned = True
                crossed.append((ERROR, tally))
            elif not tally.warned and tally.used >= WARN_AT * tally.limit:
                tally.warned = True
                crossed.append((WARNING, tally))
        for code, tally in crossed:
            _report(sink, code, stack, owner, tally)


def _account_label(account: tuple[str, str]) -> str:
    provider, identity = account
    what = {"aws": "AWS account", "azure": "Azure subscription", "gcp": "GCP project", "oci": "OCI tenancy",
            "ibm": "IBM Cloud account"}[provider]
    return f"{what} {identity}"


def _holder_label(quota: Quota) -> str:
    return "KMS key" if quota.reference_attribute == "key_id" else "resource group"


def _report(sink: DiagnosticSink, code: str, stack: StackRecord, owner: SpecDocument, tally: _Tally) -> None:
    quota = tally.quota
    kind = "tenant" if owner.kind == "Tenant" else "pool"
    percent = tally.used * 100 // tally.limit
    source = f"your override on Cloud/{tally.overridden_by}" if tally.overridden_by else \
        f"the documented default {quota.scope_label}, {quota.doc}" + ("" if quota.verified else " (unverified)")
    message = (f"{kind} '{owner.name}' brings {quota.description} in {tally.where} to {tally.used:,} of "
               f"{tally.limit:,} ({percent} %; quota {quota.name}, {source})")
    if code == ERROR:
        hint = (f"this fleet cannot be applied: raise the quota with the provider and set "
                f"spec.quotas.{quota.name} on Cloud/{stack.cloud}, or place tenants in another account")
        sink.warning(code, message, owner.path, owner.position("metadata", "name"), hint)
    else:
        hint = (f"80 % used: ask the provider to raise {quota.name} before the next tenants, then set "
                f"spec.quotas.{quota.name} on Cloud/{stack.cloud}")
        sink.warning(code, message, owner.path, owner.position("metadata", "name"), hint)


def strict(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """``diagnostics`` with every PB0682 (a quota reached) made an error (``--strict-quotas``)."""
    return [dataclasses.replace(d, severity=Severity.ERROR) if d.code == ERROR else d for d in diagnostics]
