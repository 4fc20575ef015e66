"""Spec-level semantic diff: per kind and name, field by field, with deepdiff.

Lists of named things (workflow steps, tables, columns, contacts, table grants) are compared by their
identity field (``id``, ``name``, ``table``, ``kind``), not by position, so inserting a step reports
one added step instead of every later step "changed". Lists of scalars (features, regions, columns
granted) are compared as sets, with a separate "reordered" change when only the order moved (the
order of a primary key matters). Every field change carries the file, line and column on the head
side (the base side for removals), found through the composed YAML nodes the loader kept.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from paybill.changes.model import FieldChange, SpecChange
from paybill.diagnostics import Position
from paybill.load import SpecDocument
from paybill.models.registry import KINDS

IDENTITY_KEYS = ("id", "name", "table", "kind")
_MARK = "\x1f"
"""Prefix of the keys that stand for a list item found by identity (``\\x1fid=close``)."""
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}

Ref = tuple[str, str]


def _identity_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        values = [item.get(key) for item in items]
        scalar = all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
        if scalar and len(set(values)) == len(values):
            return key
    return None


def normalise(value: Any) -> Any:
    """Turn lists of named mappings into mappings keyed by identity, recursively."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        key = _identity_key(value)
        if key is not None:
            return {f"{_MARK}{key}={item[key]}": normalise(item) for item in value}
        return [normalise(item) for item in value]
    return value


def denormalise(value: Any) -> Any:
    """The inverse of :func:`normalise`, for showing values as the user wrote them."""
    if isinstance(value, dict):
        if value and all(isinstance(k, str) and k.startswith(_MARK) for k in value):
            return [denormalise(v) for v in value.values()]
        return {k: denormalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [denormalise(v) for v in value]
    return value


def display_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith(_MARK):
            out += f"[{part[1:]}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def raw_location(data: Any, path: Iterable[Any]) -> tuple[Any, ...]:
    """Translate a normalised path into keys and indices of the raw data (for positions)."""
    loc: list[Any] = []
    node = data
    for part in path:
        if isinstance(part, str) and part.startswith(_MARK) and isinstance(node, list):
            key, _, wanted = part[1:].partition("=")
            index = next((i for i, item in enumerate(node)
                          if isinstance(item, dict) and str(item.get(key)) == wanted), None)
            if index is None:
                break
            loc.append(index)
            node = node[index]
        elif (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            loc.append(part)
            node = node[part]
        else:
            break
    return tuple(loc)


def _position(doc: SpecDocument | None, path: list[Any]) -> Position:
    if doc is None:
        return Position()
    return doc.position(*raw_location(doc.data, path))


def _reorders(base: Any, head: Any, path: list[Any], out: list[tuple[list[Any], list[Any], list[Any]]]) -> None:
    """Scalar lists with the same items in another order (deepdiff's ignore_order hides these)."""
    if isinstance(base, dict) and isinstance(head, dict):
        for key in base.keys() & head.keys():
            _reorders(base[key], head[key], [*path, key], out)
    elif isinstance(base, list) and isinstance(head, list) and base != head:
        scalar = all(not isinstance(v, dict | list) for v in base + head)
        if scalar and Counter(map(repr, base)) == Counter(map(repr, head)):
            out.append((path, base, head))


_Change = tuple[str, list[Any], Any, Any]
"""(deepdiff report, path, value before, value after) of one difference."""


def _deep_changes(left: Any, right: Any) -> list[_Change]:
    """Every difference, as deepdiff reports them (lists compared regardless of order)."""
    from deepdiff import DeepDiff  # ~0.1 s to import: only for changes :func:`_mapping_changes` leaves to it

    # ignore_private_variables=False: deepdiff skips keys starting with "__" by default, and labels or
    # annotations may be spelled that way; a review tool must not hide any change.
    diff = DeepDiff(left, right, view="tree", ignore_order=True, report_repetition=False,
                    verbose_level=2, threshold_to_diff_deeper=0, ignore_private_variables=False)
    return [(report, list(level.path(output_format="list")), level.t1, level.t2)
            for report, levels in diff.items() for level in levels]


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (``1``, ``1.0`` and ``True`` differ, as for deepdiff)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _mapping_changes(left: dict[Any, Any], right: dict[Any, Any], path: tuple[Any, ...] = ()) -> list[_Change] | None:
    """The differences of two mappings as :func:`_deep_changes` reports them, found without deepdiff,
    or None when a list differs (deepdiff's order-free list comparison decides those). A one-field
    tenant edit - a plan, a lifecycle, a billing status - is this case; the order in which changes
    are found does not matter (the caller sorts them)."""
    out: list[_Change] = []
    for key in left.keys() | right.keys():
        where = [*path, key]
        if key not in right:
            out.append(("dictionary_item_removed", where, left[key], None))
        elif key not in left:
            out.append(("dictionary_item_added", where, None, right[key]))
        else:
            a, b = left[key], right[key]
            if isinstance(a, dict) and isinstance(b, dict):
                deeper = _mapping_changes(a, b, (*path, key))
                if deeper is None:
                    return None
                out += deeper
            elif _same(a, b):
                continue
            elif isinstance(a, list) or isinstance(b, list):
                return None
            else:
                out.append(("values_changed" if type(a) is type(b) else "type_changes", where, a, b))
    return out


def diff_data(base: Mapping[str, Any], head: Mapping[str, Any],
              base_doc: SpecDocument | None = None, head_doc: SpecDocument | None = None) -> list[FieldChange]:
    """Field changes from ``base`` to ``head`` (the ``data`` of two documents of one spec)."""
    left, right = normalise(base), normalise(head)
    found = _mapping_changes(left, right) if isinstance(left, dict) and isinstance(right, dict) else None
    head_file = head_doc.path if head_doc else (base_doc.path if base_doc else "")
    changes: list[FieldChange] = []
    for report, path, t1, t2 in found if found is not None else _deep_changes(left, right):
        if report in ("values_changed", "type_changes"):
            changes.append(FieldChange(display_path(path), "changed", denormalise(t1), denormalise(t2),
                                       head_file, _position(head_doc, path)))
        elif report == "dictionary_item_added":
            changes.append(FieldChange(display_path(path), "added", None, denormalise(t2),
                                       head_file, _position(head_doc, path)))
        elif report == "dictionary_item_removed":
            doc = head_doc or base_doc
            changes.append(FieldChange(display_path(path), "removed", denormalise(t1), None,
                                       head_file, _position(doc, path[:-1] if head_doc else path)))
        elif report == "iterable_item_added":
            changes.append(FieldChange(display_path(path[:-1]), "added", None, denormalise(t2),
                                       head_file, _position(head_doc, path)))
        elif report == "iterable_item_removed":
            changes.append(FieldChange(display_path(path[:-1]), "removed", denormalise(t1), None,
                                       head_file, _position(head_doc, path[:-1])))
    moved: list[tuple[list[Any], list[Any], list[Any]]] = []
    _reorders(left, right, [], moved)
    for path, before, after in moved:
        changes.append(FieldChange(display_path(path), "reordered", before, after, head_file,
                                   _position(head_doc, path)))
    changes.sort(key=lambda c: (c.position.line, c.position.col, c.path, c.op, repr(c.before), repr(c.after)))
    return changes


def ref_sort_key(ref: Ref) -> tuple[int, str, str]:
    return (KIND_ORDER.get(ref[0], len(KIND_ORDER)), ref[0], ref[1])


def diff_documents(base: Mapping[Ref, SpecDocument], head: Mapping[Ref, SpecDocument]) -> list[SpecChange]:
    """Every spec added, removed, modified or moved between two sets of documents keyed by (kind, name)."""
    changes: list[SpecChange] = []
    for ref in sorted(base.keys() | head.keys(), key=ref_sort_key):
        old, new = base.get(ref), head.get(ref)
        if old is not None and new is not None and (old is new or old.data == new.data):
            if old.path != new.path:
                changes.append(SpecChange(ref[0], ref[1], "moved", new.path, new.position(), old.path))
            continue
        if old is None and new is not None:
            changes.append(SpecChange(ref[0], ref[1], "added", new.path, new.position("metadata", "name")))
        elif new is None and old is not None:
            changes.append(SpecChange(ref[0], ref[1], "removed", old.path, old.position("metadata", "name")))
        elif old is not None and new is not None:
            fields = diff_data(old.data, new.data, old, new)
            first = fields[0].position if fields else new.position("metadata", "name")
            changes.append(SpecChange(ref[0], ref[1], "modified", new.path, first,
                                      old.path if old.path != new.path else None, tuple(fields)))
    return changes
