"""Escaping: any text that reaches a policy survives as exactly itself, and never as Cedar syntax."""

from __future__ import annotations

import json

import cedarpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.emit.bundles.cedar_text import UnsafeText, cedar_string, entity, string_set

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_annotation_values_round_trip(text):
    literal = cedar_string(text)
    assert literal.isascii() and "\n" not in literal
    est = json.loads(cedarpy.policies_to_json_str(f"@id({literal})\npermit (principal, action, resource);"))
    (policy,) = est["staticPolicies"].values()
    assert policy["annotations"]["id"] == text


@settings(max_examples=100, deadline=None)
@given(TEXT, TEXT)
def test_strings_compare_equal_only_to_themselves(a, b):
    policy = f'@id("p")\npermit (principal, action, resource) when {{ context.x == {cedar_string(a)} }};'
    request = {"principal": 'User::"u"', "action": 'Action::"a"', "resource": 'R::"r"', "context": {"x": b}}
    assert cedarpy.is_authorized(request, policy, []).allowed is (a == b)


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_entity_ids_and_sets_parse_to_the_same_text(text):
    policy = (f'@id("p")\npermit (principal, action, resource == {entity("Paybill::Table", text)}) '
              f'when {{ {string_set([text, "b"])}.contains("b") }};')
    est = json.loads(cedarpy.policies_to_json_str(policy))
    (parsed,) = est["staticPolicies"].values()
    assert parsed["resource"]["entity"] == {"type": "Paybill::Table", "id": text}


@pytest.mark.parametrize("hostile", ['"); permit (principal, action, resource); //', "\\", '\\"', "\u2028", "\x00"])
def test_injection_attempts_stay_inside_the_literal(hostile):
    text = f"@id({cedar_string(hostile)})\nforbid (principal, action, resource);"
    est = json.loads(cedarpy.policies_to_json_str(text))
    assert len(est["staticPolicies"]) == 1
    assert next(iter(est["staticPolicies"].values()))["annotations"]["id"] == hostile


def test_lone_surrogates_are_rejected():
    with pytest.raises(UnsafeText):
        cedar_string("a\ud800b")
