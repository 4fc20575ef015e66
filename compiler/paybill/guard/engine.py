"""The Cedar side of the guard: parsed handles, and raw verdicts with policy ids and violations.

Parsing happens once (schema, policy set, entity store); every call reuses the handles. A verdict
is Cedar's answer only; workflow state and explanations are added by :mod:`paybill.guard.run`.

Fail-closed rules applied here, whatever Cedar says: an evaluation error, a request that does not
match the schema (``NoDecision``) or any diagnostics error makes the verdict a denial. That matters
because Cedar skips a *forbid* policy that errors, which on its own would fail open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy

from paybill.contract.bundle import ACTION, V_ENGINE
from paybill.guard.slicing import Slicer, schema_has_action_groups

_ALLOW = cedarpy.Decision.Allow
_DENY = cedarpy.Decision.Deny


class PolicyFormatError(ValueError):
    """The policy text cannot be read as a bundle's policies (unparseable, ids missing or repeated)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Cedar's decision for one request, in bundle terms."""

    allowed: bool
    reasons: tuple[str, ...]
    """``@id`` of the policies that decided: the permits when allowed, the forbids that fired otherwise."""
    violations: tuple[str, ...]
    """``@violation`` names of the forbids among ``reasons`` (plus ``engine.error`` on errors)."""
    errors: tuple[str, ...]


def parse_policies(policies_text: str) -> dict[str, Any]:
    """The policies in Cedar's JSON form (EST), which exposes scopes and annotations."""
    try:
        parsed: dict[str, Any] = json.loads(cedarpy.policies_to_json_str(policies_text))
        return parsed
    except ValueError as exc:
        raise PolicyFormatError(f"policies do not parse: {exc}") from None


def policy_annotations(est: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``@id`` -> all annotations (and the effect) of that policy.

    Every policy must carry a unique ``@id``: reasons are reported by it, and a duplicate would make
    two rules indistinguishable in decisions and logs.
    """
    found: dict[str, dict[str, str]] = {}
    for cedar_id, policy in sorted(est.get("staticPolicies", {}).items()):
        annotations = policy.get("annotations") or {}
        policy_id = annotations.get("id")
        if not policy_id:
            raise PolicyFormatError(f"policy {cedar_id} has no @id annotation")
        if policy_id in found:
            raise PolicyFormatError(f"@id {policy_id!r} is used by two policies")
        found[policy_id] = {**annotations, "effect": policy.get("effect", "")}
    if est.get("templates"):
        raise PolicyFormatError("bundles contain no policy templates")
    return found


class Engine:
    """Parsed Cedar handles of one bundle, reused for every decision."""

    def __init__(self, schema_text: str, policies_text: str, entities_json: str) -> None:
        est = parse_policies(policies_text)
        self.est = est
        """The policies in Cedar's JSON form (read by :mod:`paybill.guard.cache` to split them)."""
        self.annotations = policy_annotations(est)
        self.violation_of: dict[str, str] = {
            pid: a["violation"] for pid, a in self.annotations.items() if a.get("violation")
        }
        if schema_has_action_groups(schema_text):
            raise PolicyFormatError("bundle schemas declare no action groups (policy slicing relies on it)")
        self.schema = cedarpy.Schema.from_str(schema_text)
        self.policies = cedarpy.PolicySet.from_str(policies_text)
        self.entities = cedarpy.Entities.from_json_str(entities_json, self.schema)
        self.slicer = Slicer(est, ACTION)

    def validate(self, policies_text: str) -> list[tuple[str, str]]:
        """Schema validation errors as (policy @id or '', message)."""
        result = cedarpy.validate_policies(policies_text, self.schema)
        ids = result.id_annotations_by_policy_id
        return [(ids.get(e.policy_id, e.policy_id), e.error) for e in result.errors]

    def with_entities(self, extra: Sequence[dict[str, Any]]) -> cedarpy.Entities:
        """The base entity store plus ``extra`` (run entities); the base is not re-parsed."""
        return self.entities.with_added_json_str(json.dumps(list(extra)))

    def verdict(self, result: cedarpy.AuthzResult) -> Verdict:
        diagnostics = result.diagnostics
        by_reason = diagnostics.id_annotations_by_reason
        raw = diagnostics.reasons
        reasons = (by_reason.get(raw[0], raw[0]),) if len(raw) == 1 else tuple(sorted(by_reason.get(r, r) for r in raw))
        errors = tuple(diagnostics.errors)
        decision = result.decision
        if decision is _ALLOW and not errors:
            return Verdict(True, reasons, (), ())
        violation_of = self.violation_of
        violations = {violation_of[r] for r in reasons if r in violation_of}
        if errors or decision is not _DENY:
            violations.add(V_ENGINE)
        return Verdict(False, reasons, tuple(sorted(violations)), errors)

    def _slice_key(self, request: dict[str, Any]) -> tuple[str, str, str | None]:
        resource = request["resource"]
        return self.slicer.key(request["action"]["id"], resource["type"], resource["id"])

    def authorize_one(self, request: dict[str, Any], entities: cedarpy.Entities) -> Verdict:
        """The hot path: one request, its policy slice, no schema validation (see :meth:`authorize`)."""
        policies = self.slicer.policy_set(self._slice_key(request))
        return self.verdict(cedarpy.is_authorized(request, policies, entities))

    def authorize(
        self, requests: Sequence[dict[str, Any]], entities: cedarpy.Entities, *,
        strict: bool = False,  # pragma: no mutate (validating the guard's own well-typed requests agrees)
        sliced: bool = True,  # pragma: no mutate (slices decide exactly as the whole set: test_property)
    ) -> list[Verdict]:
        """Decide requests with as few Cedar calls as possible (one per policy slice).

        ``strict`` also validates each request against the schema (typed context, every counter
        present). The guard's own requests are well-typed by construction, so the hot path skips it
        (it costs about as much again as the decision); requests from outside always use it.
        ``sliced=False`` evaluates the whole policy set (same answers; see :mod:`paybill.guard.slicing`).
        """
        schema = self.schema if strict else None
        if not sliced:  # pragma: no mutate (either path gives the same answers: test_property)
            return [self.verdict(r) for r in cedarpy.is_authorized_batch(list(requests), self.policies, entities,
                                                                          schema)]
        groups: dict[Any, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(self._slice_key(request), []).append(i)
        verdicts: list[Verdict | None] = [None] * len(requests)
        for key, positions in groups.items():
            results = cedarpy.is_authorized_batch([requests[i] for i in positions], self.slicer.policy_set(key),
                                                  entities, schema)
            for i, result in zip(positions, results, strict=True):  # pragma: no mutate (equal lengths)
                verdicts[i] = self.verdict(result)
        return verdicts  # type: ignore[return-value]
