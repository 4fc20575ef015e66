"""Bundle JSON bytes do not depend on which serialiser produced them (orjson fast path vs stdlib)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.contract.bundle import json_file

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_json_file_is_the_standard_library_bytes(value: object) -> None:
    expected = (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")
    assert json_file(value) == expected
