"""The spec-level diff: identity-keyed lists, set-like scalar lists, reorders, positions."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.changes.specdiff import diff_data, diff_documents, display_path, normalise, raw_location
from paybill.diagnostics import DiagnosticSink
from paybill.load import load_source

WORKFLOW = """apiVersion: paybill.dev/v1alpha1
kind: Workflow
metadata:
  name: w
spec:
  start: a
  terminal: [c]
  steps:
    - id: a
      action: read
      resource: tickets
      next: [b, c]
    - id: b
      action: update
      resource: tickets
      next: [c]
    - id: c
      action: none
"""


def load(text: str, path: str = "specs/w.yaml"):
    return load_source(text.encode(), path, DiagnosticSink())[0]


def test_inserting_a_step_is_one_added_step_not_every_later_step_changed() -> None:
    base = load(WORKFLOW)
    head = load(WORKFLOW.replace("    - id: b\n", "    - id: x\n      action: none\n    - id: b\n"))
    changes = diff_data(base.data, head.data, base, head)
    assert [c.describe() for c in changes] == ['spec.steps[id=x]: + {"id": "x", "action": "none"}']
    assert changes[0].position.line == 13


def test_scalar_lists_are_sets_with_separate_reorder() -> None:
    base = load(WORKFLOW)
    added = load(WORKFLOW.replace("next: [b, c]", "next: [b, c, d]"))
    assert [c.describe() for c in diff_data(base.data, added.data, base, added)] == ["spec.steps[id=a].next: + d"]
    swapped = load(WORKFLOW.replace("next: [b, c]", "next: [c, b]"))
    changes = diff_data(base.data, swapped.data, base, swapped)
    assert [(c.path, c.op) for c in changes] == [("spec.steps[id=a].next", "reordered")]


def test_changed_and_removed_fields_have_head_side_positions() -> None:
    base = load(WORKFLOW)
    head = load(WORKFLOW.replace("      resource: tickets\n      next: [c]\n", "      resource: invoices\n"))
    changes = {c.path: c for c in diff_data(base.data, head.data, base, head)}
    assert changes["spec.steps[id=b].resource"].before == "tickets"
    assert changes["spec.steps[id=b].resource"].position.line == 15
    removed = changes["spec.steps[id=b].next"]
    assert removed.op == "removed" and removed.before == ["c"]
    assert removed.position.line == 13  # the step that lost the key, on the head side


def test_documents_added_removed_moved() -> None:
    a = load(WORKFLOW)
    moved = load(WORKFLOW, "specs/elsewhere.yaml")
    other = load(WORKFLOW.replace("name: w", "name: v"))
    changes = diff_documents({("Workflow", "w"): a}, {("Workflow", "w"): moved, ("Workflow", "v"): other})
    assert [(c.ref, c.op) for c in changes] == [("Workflow/v", "added"), ("Workflow/w", "moved")]
    gone = diff_documents({("Workflow", "w"): a}, {})
    assert [(c.ref, c.op, c.file) for c in gone] == [("Workflow/w", "removed", "specs/w.yaml")]


scalars = st.one_of(st.integers(-5, 5), st.text("abc", min_size=1, max_size=3), st.booleans())
trees = st.recursive(scalars, lambda inner: st.dictionaries(st.text("xyz", min_size=1, max_size=2), inner,
                                                             max_size=3), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text("pqr", min_size=1, max_size=2), trees, min_size=1, max_size=4))
def test_diff_is_empty_exactly_when_data_is_equal(data) -> None:
    assert diff_data(data, copy.deepcopy(data)) == []
    changed = copy.deepcopy(data)
    key = sorted(changed)[0]
    changed[key] = {"__new__": 1} if not isinstance(changed[key], dict) else {**changed[key], "__new__": 1}
    result = diff_data(data, changed)
    assert result, "a change must be reported"
    assert all(c.path.startswith(display_path([key])) for c in result)


def test_raw_location_translates_identity_keys() -> None:
    data = load(WORKFLOW).data
    path = ["spec", "steps", *[k for k in normalise(data)["spec"]["steps"] if k.endswith("=b")], "resource"]
    assert raw_location(data, path) == ("spec", "steps", 1, "resource")
