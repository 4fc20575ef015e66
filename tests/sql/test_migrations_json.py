"""migrations.json is written by orjson; its bytes must be what json.dumps(indent=2) would write."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_orjson_indent_matches_the_standard_library(value: object) -> None:
    expected = json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")
    assert orjson.dumps(value, option=orjson.OPT_INDENT_2) == expected
