"""The spec index lists each kind in name order, whatever the order documents were added in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from paybill.load.document import SpecDocument
from paybill.validate.index import SpecIndex


def _document(kind: str, name: str) -> SpecDocument:
    return SpecDocument(path=f"{kind}/{name}.yaml", index=0, data={}, node=None, kind=kind, name=name)


@given(st.lists(st.tuples(st.sampled_from(["Tenant", "Pool"]), st.text("abc-", min_size=1, max_size=4)),
                max_size=30), st.integers(min_value=0, max_value=30))
def test_of_kind_is_in_name_order_after_every_add(specs: list[tuple[str, str]], listed_after: int) -> None:
    """Listing a kind remembers its order; an add after a listing must show up in the next one."""
    index = SpecIndex()
    for position, (kind, name) in enumerate(specs):
        if position == listed_after:
            list(index.of_kind("Tenant"))  # an earlier listing must not go stale
        index.add(_document(kind, name))
    for kind in ("Tenant", "Pool"):
        expected = sorted({name for k, name in specs if k == kind})
        assert [d.name for d in index.of_kind(kind)] == expected
        assert [d.name for d in index.of_kind(kind)] == expected  # listed twice: the same answer
        assert index.names(kind) == expected
    assert list(index.of_kind("Plan")) == []
