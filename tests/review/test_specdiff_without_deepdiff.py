"""A change to mappings only (a tenant's plan, lifecycle, billing status...) is diffed without deepdiff
(:func:`paybill.changes.specdiff._mapping_changes`): the same differences deepdiff reports, for any data."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.changes.specdiff import _deep_changes, _mapping_changes, diff_data, normalise

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False),
                    st.sampled_from(["a", "b", "", "__x", "1"]))
KEYS = st.sampled_from(["plan", "lifecycle", "status", "spec", "name", "__private", "x y", "1"])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4),
    st.lists(st.fixed_dictionaries({"name": st.sampled_from(["n1", "n2", "n3"]), "v": inner}), max_size=3)),
    max_leaves=12)
MAPPINGS = st.dictionaries(KEYS, VALUES, max_size=5)


def _comparable(changes: list[tuple[str, list[Any], Any, Any]]) -> set[tuple[str, tuple[Any, ...], str]]:
    out = set()
    for report, path, before, after in changes:
        shown = {"dictionary_item_added": repr(after), "dictionary_item_removed": repr(before)}.get(
            report, repr((before, after)))
        out.add((report, tuple(path), shown))
    return out


@settings(max_examples=400, deadline=None)
@given(MAPPINGS, MAPPINGS)
def test_the_differences_of_two_mappings_are_deepdiffs(base, head) -> None:
    left, right = normalise(base), normalise(head)
    found = _mapping_changes(left, right)
    if found is not None:
        assert _comparable(found) == _comparable(_deep_changes(left, right))


@settings(max_examples=200, deadline=None)
@given(MAPPINGS, KEYS, SCALARS)
def test_a_one_field_edit_never_needs_deepdiff(base, key, value) -> None:
    head = {**base, "spec": {**(base["spec"] if isinstance(base.get("spec"), dict) else {}), key: value}}
    left, right = normalise(base), normalise(head)
    if isinstance(left.get("spec"), dict) and not isinstance(left["spec"].get(key), list):
        assert _mapping_changes(left, right) is not None


def test_a_tenant_edit_diffs_as_before() -> None:
    base = {"kind": "Tenant", "spec": {"plan": "free", "lifecycle": "active", "features": ["a", "b"],
                                        "billing": {"status": "active"}}}
    head = {"kind": "Tenant", "spec": {"plan": "growth", "lifecycle": "active", "features": ["a", "b"],
                                        "billing": {"status": "past_due"}, "note": 1}}
    changes = [(c.path, c.op, c.before, c.after) for c in diff_data(base, head)]
    assert sorted(changes) == [("spec.billing.status", "changed", "active", "past_due"),
                               ("spec.note", "added", None, 1), ("spec.plan", "changed", "free", "growth")]
