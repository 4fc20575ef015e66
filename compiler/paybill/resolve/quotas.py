"""Cloud quotas over the whole fleet: the stack that brings a quota to 80 % and to 100 %.

Every stack's usage is predicted by its cloud's quota plan (:attr:`CloudProfile.quota_usage`, counted
in :mod:`paybill.resolve.names`), so this runs at ``paybill validate`` (the pre-commit hook and the PR
check): a fleet that cannot be applied fails in the pull request, not halfway through an apply.
``tests/resolve/test_quota_usage.py`` proves the prediction equals what the emitters build.

Counts are kept per quota scope: the cloud account (clouds sharing an account id share the count,
and the lowest override among them applies), the account and the stack's region, or the resource a
reference points at (a pool's KMS key or resource group, or the stack's own). Stacks are added pools
first, then tenants, each in name order, so the same repository always blames the same spec; only
the first stack to reach each threshold is reported (one warning, one error per quota and scope).

Deleted tenants whose destroy is not recorded yet are counted with their decommission configuration
(their last live stack): until it is applied, their resources still hold the quota.

This is a pure function of the model; the rules PB0681 and PB0682 (``resolve/rules/``) report its
findings, like the network rules report the allocation's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from paybill.clouds.quotas import Usage
from paybill.load.document import SpecDocument
from paybill.quotas import QUOTAS, Quota, Scope
from paybill.resolve.model import QuotaFinding, ResolvedCloud, ResolvedModel

WARNING = "PB0681"
ERROR = "PB0682"
WARN_AT = 0.8


@dataclass(slots=True)
class _Tally:
    quota: Quota
    limit: int
    where: str
    overridden_by: str | None
    used: int = 0
    warned: bool = False
    failed: bool = False


Account = tuple[str, str]
"""(provider, the account's id: its cloud's first account field)."""


def _account(cloud: ResolvedCloud) -> Account | None:
    if cloud.profile.quota_usage is None or not cloud.profile.account:
        return None  # a cloud counting no quotas (a sixth cloud registered without a quota plan)
    return cloud.provider, cloud.account[cloud.profile.account[0].name]


def _limits(model: ResolvedModel) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    """(provider, account, quota) -> (limit, the Cloud whose override set it, if any)."""
    limits: dict[tuple[str, str, str], tuple[int, str | None]] = {}
    for cloud in model.clouds.values():
        account = _account(cloud)
        if account is None:
            continue
        for quota in QUOTAS.get(account[0], ()):
            key = (*account, quota.name)
            override = cloud.cloud.spec.quotas.get(quota.name)
            value = (override, cloud.name) if override is not None else (quota.default, None)
            if key not in limits or value[0] < limits[key][0]:
                limits[key] = value
    return limits


@dataclass(frozen=True, slots=True)
class _Counted:
    """One stack's usage with what its scopes need: its owner, address, region, pool and cloud."""

    document: SpecDocument
    kind: str
    """How messages name the owner: ``pool``, ``tenant`` or ``deleted tenant`` (awaiting its destroy)."""
    address: str
    region: str
    pool: str | None
    cloud: ResolvedCloud
    usage: Usage


def _counted(model: ResolvedModel) -> Iterator[_Counted]:
    """Every stack that uses quotas, pools then tenants (live or awaiting destroy), each in name order."""
    for name in sorted(model.pools):
        pool = model.pools[name]
        if pool.usage:
            yield _Counted(pool.document, "pool", pool.address, pool.pool.spec.region, None, pool.cloud, pool.usage)
    for name in sorted(model.tenants):
        tenant = model.tenants[name]
        if tenant.usage:
            kind = "tenant" if tenant.live else "deleted tenant"
            yield _Counted(tenant.document, kind, f"tenant/{name}", tenant.tenant.spec.placement.region,
                           tenant.pool.address if tenant.pool is not None else None, tenant.cloud, tenant.usage)


def quota_findings(model: ResolvedModel) -> tuple[QuotaFinding, ...]:
    """The 80 % and 100 % crossings of every quota scope, in stack order."""
    limits = _limits(model)
    by_name = {q.name: q for quotas in QUOTAS.values() for q in quotas}
    tallies: dict[tuple[str, ...], _Tally] = {}
    findings: list[QuotaFinding] = []
    errors: list[tuple[int, _Tally, int]] = []
    """(index in findings, tally, its count then) of each error, to name the whole fleet's need below."""
    for stack in _counted(model):
        account = _account(stack.cloud)
        if account is None:
            continue
        for name, holder, count in stack.usage:
            quota = by_name.get(name)
            if quota is None:
                raise KeyError(f"internal: {stack.cloud.provider}'s quota plan counts {name!r}, which no "
                               "paybill.quotas table declares")
            if quota.scope is Scope.ACCOUNT:
                key, where = (*account, name), _account_label(stack.cloud, account)
            elif quota.scope is Scope.REGION:
                key = (*account, stack.region, name)
                where = f"{_account_label(stack.cloud, account)}, region {stack.region}"
            else:
                owner = stack.pool if holder == "pool" and stack.pool is not None else stack.address
                key, where = (*account, owner, name), f"{owner}'s {_holder_label(quota)}"
            tally = tallies.get(key)
            if tally is None:
                limit, overridden_by = limits.get((*account, name), (quota.default, None))
                tally = tallies[key] = _Tally(quota, limit, where, overridden_by)
            tally.used += count
            if not tally.failed and tally.used >= tally.limit:
                tally.failed = tally.warned = True
                errors.append((len(findings), tally, tally.used))
                findings.append(_finding(ERROR, stack, tally))
            elif not tally.warned and tally.used >= WARN_AT * tally.limit:
                tally.warned = True
                findings.append(_finding(WARNING, stack, tally))
    for index, tally, then in errors:
        if tally.used > then:  # only the stack that reached 100 % is blamed; the raise must cover them all
            found, needs = findings[index], f"{tally.used:,}"
            findings[index] = replace(found, message=f"{found.message}; the whole fleet needs {needs}",
                                      hint=found.hint.replace("raise the quota with the provider",
                                                              f"raise the quota above {needs} with the provider"))
    return tuple(findings)


def _account_label(cloud: ResolvedCloud, account: Account) -> str:
    plan = cloud.profile.quota_usage
    assert plan is not None
    return f"{plan.account_label} {account[1]}"


def _holder_label(quota: Quota) -> str:
    return "KMS key" if quota.reference_attribute == "key_id" else "resource group"


def _finding(code: str, stack: _Counted, tally: _Tally) -> QuotaFinding:
    quota = tally.quota
    percent = tally.used * 100 // tally.limit
    source = f"your override on Cloud/{tally.overridden_by}" if tally.overridden_by else \
        f"the documented default {quota.scope_label}, {quota.doc}" + ("" if quota.verified else " (unverified)")
    message = (f"{stack.kind} '{stack.document.name}' brings {quota.description} in {tally.where} to "
               f"{tally.used:,} of {tally.limit:,} ({percent} %; quota {quota.name}, {source})")
    cloud = stack.cloud.name
    if code == ERROR:
        hint = (f"this fleet cannot be applied: raise the quota with the provider and set "
                f"spec.quotas.{quota.name} on Cloud/{cloud}, or place tenants in another account")
    else:
        hint = (f"80 % used: ask the provider to raise {quota.name} before the next tenants, then set "
                f"spec.quotas.{quota.name} on Cloud/{cloud}")
    return QuotaFinding(code, stack.document, message, hint)
