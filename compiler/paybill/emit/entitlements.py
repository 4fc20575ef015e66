"""``tenants/<tenant>.json``: the entitlements the application reads at runtime.

One small file per live tenant, so the application (or a sidecar) can load exactly one tenant's
facts without parsing the whole manifest: plan features and quotas to enforce, lifecycle and billing
status to gate access, isolation per layer to route data. A deleted tenant keeps its file with
``"lifecycle": "deleted"`` (and no stacks): ``paybill db erase`` reads it at HEAD to know that the
tenant is deleted and until when its data must be retained (``retainUntil``).

This JSON is read by the application, not by Terraform, so user text (display names) is written as
plain JSON strings; Terraform template escaping (``$${``) would corrupt it here.
"""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

from paybill import API_VERSION
from paybill.emit.cache import document_fingerprint, memo, unit_key
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.entitlement_text import entitlement_bytes, identity_fields
from paybill.emit.files import ChunkedOutput
from paybill.models.tenant import Tenant, isolation_placements
from paybill.resolve import ResolvedTenant


def entitlements(resolved: ResolvedTenant, stacks: list[str]) -> dict[str, Any]:
    """The entitlement document of one tenant (a plain dict; camelCase like the specs)."""
    doc, tenant = resolved.document, resolved.tenant
    spec = tenant.spec
    plan_doc = resolved.plan.document
    plan = resolved.plan.plan.spec
    identity = identity_fields(spec.display_name, spec.billing.customer_id)
    billing: dict[str, Any] = {"status": spec.billing.status, **identity["billing"]}
    if spec.billing.status == "trialing":
        billing["trialDays"] = plan.trial_days
    return {
        "apiVersion": API_VERSION,
        "kind": "TenantEntitlements",
        "tenant": doc.name,
        "displayName": identity["displayName"],
        "labels": dict(tenant.metadata.labels),
        "plan": {"name": plan_doc.name, "displayName": plan.display_name, "tier": plan.tier},
        "features": sorted(set(plan.features)),
        "quotas": plan.quotas.model_dump(mode="json", by_alias=True),
        "lifecycle": spec.lifecycle,
        "billing": billing,
        "isolation": _isolation(tenant),
        "placement": {
            "cloud": spec.placement.cloud,
            "provider": resolved.cloud.provider,
            "region": spec.placement.region,
            "pool": spec.placement.pool,
        },
        "dataResidency": (
            {"allowedRegions": list(spec.data_residency.allowed_regions)} if spec.data_residency else None
        ),
        "stacks": stacks,
        **_retention(tenant, plan.sizing.database.backup_retention_days),
    }


def _retention(tenant: Tenant, retention_days: int) -> dict[str, str]:
    """``lifecycleSince`` and ``retainUntil`` (that day + the plan's backup retention) for a tenant
    leaving: the day its data may be erased. Absent when the spec does not say since when."""
    until = tenant.retain_until(retention_days)
    if until is None or tenant.spec.lifecycle_since is None:
        return {}
    return {"lifecycleSince": tenant.spec.lifecycle_since, "retainUntil": until}


def _isolation(tenant: Tenant) -> dict[str, Any]:
    """The isolation the application should use. During a migration (``spec.isolation.migration``)
    that is the ``from`` isolation until ``cutover`` and the target from then on; ``migration`` tells
    the application both sides and which old layers are still kept."""
    isolation = tenant.spec.isolation
    target = {"model": isolation.model, "layers": dict(tenant.placements)}
    migration = isolation.migration
    if migration is None:
        return target
    before = {"model": migration.from_.model, "layers": isolation_placements(migration.from_)}
    active = before if migration.phase in ("provision", "copy") else target
    return {**active, "migration": {"phase": migration.phase, "from": before, "to": target,
                                    "kept": sorted(tenant.kept_placements)}}


def _stacks_by_tenant(ctx: EmitContext) -> dict[str, list[str]]:
    """Tenant -> the stacks it lives in (its own, and its pool's when a layer is pooled)."""
    units = ctx.units
    return {
        unit.owner.name: sorted([unit.address, *unit.depends_on]) for unit in units if unit.kind == "tenant"
    }


NAMESPACE = "entitlements"
"""The unit store index of entitlement files: tenant -> (key of its inputs, SHA-256 of its bytes)."""


def emit_entitlements(ctx: EmitContext) -> OutputTree:
    """One file per tenant. A file whose inputs (:func:`_fingerprint`) are those it was rendered
    from by an earlier compile into this output folder, and which the folder's journal records
    with the digest it had then, is kept in place (:attr:`EmitContext.kept`: not rendered, read
    or hashed; the writer checks it by digest before relying on it), as unchanged stacks are."""
    cache = ctx.cache
    store = ctx.store
    in_place = store.in_place if store is not None and store.content_root is not None else None
    index = store.load_index(NAMESPACE) if store is not None and in_place is not None else {}
    now: dict[str, tuple[str, object]] = {}
    stacks = _stacks_by_tenant(ctx)
    out = ChunkedOutput(ctx)  # one small file per tenant: written as rendered when the compile streams
    for resolved in ctx.model().tenants.values():  # every tenant, deleted ones too, in name order
        name = resolved.name
        path = f"tenants/{name}.json"
        tenant_stacks = stacks.get(name, [])
        fingerprint = _fingerprint(resolved, tenant_stacks)
        key = unit_key(NAMESPACE, name, fingerprint) if in_place is not None and None not in fingerprint else None
        if key is not None:
            entry = index.get(name)
            digest = entry[1] if entry is not None and entry[0] == key else None
            if isinstance(digest, bytes) and in_place is not None and in_place.get(path) == digest:
                ctx.kept[path] = digest
                ctx.digests[path] = digest
                now[name] = (key, digest)
                continue
        data = memo(cache, "entitlements", name, fingerprint, partial(_render, resolved, tenant_stacks))
        if key is None:
            out.add(path, data)
            continue
        digest = hashlib.sha256(data).digest()
        out.add(path, data, digest)
        now[name] = (key, digest)
    if store is not None and in_place is not None and now != index:
        store.save_index(NAMESPACE, now)
    return out.finish()


def _fingerprint(resolved: ResolvedTenant, stacks: list[str]) -> tuple[object, ...]:
    """Every input of a tenant's file: its tenant, plan and cloud documents (path, position, SHA-256
    of the file) and its stacks (None in it: a document whose content is unknown, never reused)."""
    return (document_fingerprint(resolved.document), document_fingerprint(resolved.plan.document),
            document_fingerprint(resolved.cloud.document), tuple(stacks))


def _render(resolved: ResolvedTenant, stacks: list[str]) -> bytes:
    return entitlement_bytes(entitlements(resolved, stacks))


ENTITLEMENTS_EMITTER = Emitter(name="entitlements", emit=emit_entitlements, independent=True)
