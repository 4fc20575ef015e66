"""Replace values that already exist in a YAML file by rewriting only their own characters.

ruamel.yaml's round trip re-emits the whole document, and some layouts do not survive it: a flow
mapping or sequence written over several lines (``placement: {cloud: aws-prod,\\n  region: ...}``)
comes back joined onto one line. Most proposals only replace an existing value, and that needs no
re-emitting at all: the value's node has exact start and end offsets in the text, so the new value
is rendered in the old one's style (plain, quoted, or a flow collection) and spliced in. Every
other character of the file, comments and line breaks included, stays as it was.

The result is checked by parsing it again: it must load to exactly the old data with the new values
set. Anything this cannot do faithfully (a key that must be created, a block collection replaced, a
block scalar) raises :class:`NotSpliceable` and the caller falls back to the round trip.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from paybill.diagnostics import Position


class NotSpliceable(Exception):
    """This edit needs the round trip (the message says why)."""


class PathError(ValueError):
    """The path runs through a value that is not a mapping: no edit can set it."""

    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.position = position


Edit = tuple[int, tuple[str, ...], Any]


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def compose(text: str) -> list[Node | None]:
    """Every document's node tree with character offsets (the pure-Python composer counts characters)."""
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def _child(node: MappingNode, key: str) -> Node | None:
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value
    return None


def find(root: Node | None, path: tuple[str, ...]) -> Node:
    """The node at ``path``; :class:`PathError` through a non-mapping, :class:`NotSpliceable` when absent."""
    node = root
    for i, key in enumerate(path):
        if not isinstance(node, MappingNode):
            where = ".".join(path[:i]) or "the document"
            raise PathError(f"'{where}' is not a mapping, so '{'.'.join(path)}' cannot be set",
                            _position(node) if node is not None else Position())
        child = _child(node, key)
        if child is None:
            raise NotSpliceable(f"'{'.'.join(path[:i + 1])}' does not exist yet")
        node = child
    assert node is not None
    return node


def _loads(text: str) -> Any:
    return yaml.safe_load(text)


def plain_ok(value: str, flow: bool) -> bool:
    """Whether ``value`` written plain reads back as the same string (in block and flow context)."""
    if not value or value != value.strip() or "\n" in value:
        return False
    try:
        if _loads(f"k: {value}") != {"k": value}:
            return False
        return not flow or (_loads(f"{{k: {value}}}") == {"k": value} and _loads(f"[{value}]") == [value])
    except yaml.YAMLError:
        return False


def render_scalar(value: Any, style: str | None, flow: bool) -> str:
    """``value`` as YAML text in the quoting ``style`` of the value it replaces ('"', "'" or plain)."""
    if isinstance(value, str):
        if style == "'" and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        if not style and plain_ok(value, flow):
            return value
        return json.dumps(value, ensure_ascii=False)  # JSON strings are YAML double-quoted scalars
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("...").strip()


def render_flow(value: Any) -> str:
    """A list or mapping in flow style, ``[a, b]`` / ``{k: v}``, every scalar plain when it can be."""
    if isinstance(value, list):
        return "[" + ", ".join(render_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_scalar(str(k), None, True)}: {render_flow(v)}" for k, v in value.items()) + "}"
    return render_scalar(value, None, True)


def _replacement(node: Node, value: Any, flow: bool) -> str:
    if isinstance(node, ScalarNode):
        if node.style in ("|", ">") or node.start_mark.line != node.end_mark.line:
            raise NotSpliceable("the old value is a multi-line scalar")
        if isinstance(value, list | dict):
            raise NotSpliceable("a scalar is replaced by a collection")
        return render_scalar(value, node.style, flow)
    same_shape = isinstance(value, list) if isinstance(node, SequenceNode) else isinstance(value, dict)
    if isinstance(node, SequenceNode | MappingNode) and node.flow_style and same_shape:
        return render_flow(value)
    raise NotSpliceable("the old value is a block collection, or the new value has another shape")


def _in_flow(root: Node, path: tuple[str, ...]) -> bool:
    """Whether the value at ``path`` sits inside a flow collection (commas and brackets end plain scalars)."""
    node: Node | None = root
    for key in path[:-1]:
        assert isinstance(node, MappingNode)
        node = _child(node, key)
        if isinstance(node, MappingNode | SequenceNode) and node.flow_style:
            return True
    return False


def _set(data: Any, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def splice(text: str, edits: list[Edit]) -> str:
    """``text`` with each existing value at ``(document, path)`` replaced in place."""
    try:
        roots = compose(text)
        expected = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise NotSpliceable(f"the file does not parse: {exc}") from None
    spans: list[tuple[int, int, str]] = []
    for doc_index, path, value in edits:
        root = roots[doc_index] if doc_index < len(roots) else None
        if not isinstance(root, MappingNode):
            raise NotSpliceable(f"document {doc_index} is not a mapping")
        node = find(root, path)
        spans.append((node.start_mark.index, node.end_mark.index, _replacement(node, value, _in_flow(root, path))))
        _set(expected[doc_index], path, value)
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise NotSpliceable("two edits overlap")
    out = text
    for start, end, replacement in reversed(spans):
        out = out[:start] + replacement + out[end:]
    try:
        if list(yaml.safe_load_all(out)) != expected:
            raise NotSpliceable("the spliced text does not read back as the intended values")
    except yaml.YAMLError:
        raise NotSpliceable("the spliced text does not parse") from None
    return out
