"""Shared guard helpers: verdicts, golden failure texts, request defaults, JSON forms."""

from __future__ import annotations

import dataclasses
import json

import pytest

from paybill.contract.bundle import canonical_json, json_file
from paybill.contract.requests import operation_context, transition_context
from paybill.guard.engine import Verdict
from paybill.guard.goldens import GoldenFailure


def test_verdicts_and_golden_failures_are_immutable():
    verdict = Verdict(True, ("p",), (), ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.allowed = False  # type: ignore[misc]
    assert not hasattr(verdict, "__dict__")
    failure = GoldenFailure("t", {"allowed": True}, {"allowed": False})
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.name = "u"  # type: ignore[misc]


def test_golden_failure_descriptions():
    failure = GoldenFailure("t", {"allowed": True, "reasons": ["a#1", "b#2"]}, {"allowed": False, "reasons": []})
    assert failure.describe() == "golden decision 't': expected allow (a#1, b#2), Cedar decided deny"


def test_request_defaults():
    assert operation_context("read", "acme-corp")["rows"] == 0
    assert operation_context("read", "acme-corp")["columns"] == []
    context = transition_context()
    assert context["visits"] == 0 and context["approved"] is False


def test_json_forms():
    assert json_file({"b": 1, "a": [1]}) == b'{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    for odd in ({"a": "é"}, {"a": "\x7f"}, {"a": 2**70}):
        assert json_file(odd) == (json.dumps(odd, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode()
    assert canonical_json({"b": 1, "a": "é"}) == b'{"a":"\\u00e9","b":1}'


def test_an_evaluation_error_is_labelled_even_when_cedar_says_deny(load):
    from paybill.contract.requests import operation_context, request, run_entity

    guard = load("ops-agent")
    entity = run_entity("raw-3", "ops-agent", "acme-corp", "incident-response", "inspect")
    context = operation_context("read", "acme-corp", ["id"], 1)
    del context["budgetSpent"]
    loose = guard.engine.authorize([request("raw-3", "read", "tickets", "incident-response", context)],
                                   guard.engine.with_entities([entity]))[0]
    assert not loose.allowed and loose.errors and "engine.error" in loose.violations
