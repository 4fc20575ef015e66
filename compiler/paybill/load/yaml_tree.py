"""Turn libyaml's node graph into plain Python data, enforcing the safety rules PyYAML does not.

Why compose and convert ourselves instead of ``yaml.safe_load``:

* PyYAML silently keeps the last of duplicate keys; we must report them.
* Alias expansion must be bounded (billion laughs) and nesting depth capped.
* Any non-standard tag (``!!python/object``, ``!Ref``) is an error, never constructed.
* The composed nodes keep their marks, so any later error can be located at line and column
  without paying for a position table on the (common) clean path.
"""

from __future__ import annotations

import functools
import operator
import sys
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from paybill.diagnostics import Position
from paybill.load.limits import LoadLimits

_TAG = "tag:yaml.org,2002:"
STR_TAG = _TAG + "str"
_INT_TAG = _TAG + "int"
_FLOAT_TAG = _TAG + "float"
_BOOL_TAG = _TAG + "bool"
_NULL_TAG = _TAG + "null"
_TIMESTAMP_TAG = _TAG + "timestamp"
_MAP_TAG = _TAG + "map"
_SEQ_TAG = _TAG + "seq"
_MERGE_TAG = _TAG + "merge"

_intern = sys.intern
_INTERN_MAX = 64
"""Keys, and string values up to this length, are interned: 100,000 tenant files repeat the same
few hundred keys and values (``spec``, ``aws``, ``pooled``, plan and cloud names), and every
document and model holds them until the compile ends; one shared object each saves hundreds of MB.
The models keep the very objects (pydantic's strict ``str`` passes them through)."""

_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_constructor = SafeConstructor()


def mark_position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass(frozen=True, slots=True)
class TreeProblem(Exception):
    """A document that cannot be turned into data; carries the diagnostic code and where."""

    code: str
    message: str
    position: Position
    hint: str | None = None


class TreeConverter:
    """Converts one composed document; counts nodes across alias expansion."""

    __slots__ = ("_limits", "_nodes")

    def __init__(self, limits: LoadLimits) -> None:
        self._limits = limits
        self._nodes = 0

    def convert(self, node: Node, depth: int = 0) -> Any:
        self._nodes += 1
        if self._nodes > self._limits.max_nodes:
            raise TreeProblem(
                "PB0107",
                f"document expands to more than {self._limits.max_nodes} nodes (alias expansion bomb?)",
                mark_position(node),
                "use fewer anchors/aliases; specs are plain data",
            )
        if depth > self._limits.max_depth:
            raise TreeProblem(
                "PB0106",
                f"nesting deeper than {self._limits.max_depth} levels",
                mark_position(node),
                "flatten the document; no spec field nests this deep",
            )
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                raise self._bad_tag(node)
            return self._mapping(node, depth)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                raise self._bad_tag(node)
            return [self._child(item, depth + 1) for item in node.value]
        raise self._bad_tag(node)  # pragma: no cover - libyaml produces only these three

    def _child(self, node: Node, depth: int) -> Any:
        """``convert`` with a shortcut for plain string leaves, most of the nodes in any spec.

        The shortcut counts the node and checks the limits exactly as ``convert`` does; whenever a
        limit is reached it defers to ``convert`` so the diagnostic is the same.
        """
        if node.__class__ is ScalarNode and node.tag == STR_TAG:
            self._nodes += 1
            if self._nodes <= self._limits.max_nodes and depth <= self._limits.max_depth:
                value: str = node.value
                return _intern(value) if len(value) <= _INTERN_MAX else value
            self._nodes -= 1
        return self.convert(node, depth)

    def _mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] | None = None
        for key_node, value_node in node.value:
            if key_node.__class__ is ScalarNode and key_node.tag == STR_TAG:
                key = _intern(key_node.value)
            elif key_node.tag == _MERGE_TAG:
                merged = merged if merged is not None else {}
                merged.update(self._merge_source(value_node, depth))
                continue
            elif not isinstance(key_node, ScalarNode):
                raise TreeProblem(
                    "PB0101", "mapping keys must be plain scalars", mark_position(key_node)
                )
            else:
                key = self._scalar(key_node)
                if not isinstance(key, str):
                    key = key_node.value
            if key in result:
                first = mark_position(self._first_key_node(node, key))
                raise TreeProblem(
                    "PB0102",
                    f"duplicate key '{key}' (first defined at line {first.line}, column {first.col})",
                    mark_position(key_node),
                    "YAML keeps only the last value silently; remove one of them",
                )
            result[key] = self._child(value_node, depth + 1)
        if merged:
            for key, value in merged.items():
                result.setdefault(key, value)
        return result

    def _first_key_node(self, node: MappingNode, key: str) -> Node:
        """The first key node of ``node`` that reads as ``key`` (only looked up to report a duplicate)."""
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                value = self._scalar(key_node)
                if (value if isinstance(value, str) else key_node.value) == key:
                    return key_node
        return node  # pragma: no cover - the duplicate was found among these keys

    def _merge_source(self, node: Node, depth: int) -> dict[Any, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                raise TreeProblem("PB0101", "'<<' merge needs a mapping", mark_position(source))
            for key, value in self._mapping(source, depth + 1).items():
                merged.setdefault(key, value)
        return merged

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (STR_TAG, _TIMESTAMP_TAG):
            return node.value
        if tag == _INT_TAG:
            try:
                return _constructor.construct_yaml_int(node)
            except (ValueError, ConstructorError):
                # Python refuses int() of more than 4300 digits; its message names an interpreter knob.
                raise TreeProblem(
                    "PB0113",
                    f"integer '{node.value[:40]}{'...' if len(node.value) > 40 else ''}' is too large to read "
                    f"({len(node.value)} characters)",
                    mark_position(node),
                    "no spec field takes a number this large; quote it if it is meant as text",
                ) from None
        if tag == _FLOAT_TAG:
            return _constructor.construct_yaml_float(node)
        if tag == _BOOL_TAG:
            return _BOOLS[node.value.lower()]
        if tag == _NULL_TAG:
            return None
        raise self._bad_tag(node)

    @staticmethod
    def _bad_tag(node: Node) -> TreeProblem:
        # Show the tag as written: '!!python/object' rather than 'tag:yaml.org,2002:python/object'.
        tag = "!!" + node.tag.removeprefix(_TAG) if node.tag.startswith(_TAG) else node.tag
        return TreeProblem(
            "PB0104",
            f"YAML tag '{tag}' is not allowed",
            mark_position(node),
            "specs are plain data: remove the tag (only strings, numbers, booleans, null, "
            "mappings and lists are accepted)",
        )


# Implicit tags by the first character of a plain scalar, copied once from PyYAML's resolver. The
# 'value' (``=``) and 'yaml' (``!``, ``&``, ``*``) tags are dropped: no loader constructs them, so a
# plain ``=`` is just a string here instead of a "tag not allowed" error about a tag nobody wrote.
_UNCONSTRUCTED = frozenset({_TAG + "value", _TAG + "yaml"})
_IMPLICIT: dict[str, tuple[tuple[str, Any], ...]] = {
    first: tuple((tag, regexp) for tag, regexp in resolvers if tag not in _UNCONSTRUCTED)
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


def _resolve(kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
    """PyYAML's ``Resolver.resolve`` without path resolvers (never used for specs), as a plain function.

    libyaml's composer calls the resolver once per node; PyYAML's version rebuilds two lists per
    call and tracks a path stack, which made resolution cost more than parsing on a large repository.
    """
    if kind is ScalarNode:
        if implicit[0]:
            for tag, regexp in _IMPLICIT.get(value[:1] if value else "", ()):
                if regexp.match(value):
                    return tag
        return STR_TAG
    return _SEQ_TAG if kind is SequenceNode else _MAP_TAG


RESOLVE_MEMORY = 4096
"""How many recent (node kind, scalar, implicit flags) answers of :func:`_resolve` are remembered."""

_remembered_resolve = functools.lru_cache(maxsize=RESOLVE_MEMORY)(_resolve)
""":func:`_resolve` behind a bounded cache, which is C code: a spec's keys and most of its values
(``spec``, ``aws``, ``pooled``, plan and cloud names) repeat across 100,000 tenant files, and a hit
costs no Python call (~7 % of composing a tenant file). :func:`_resolve` is a pure function of its
arguments, so the answers are the same; bounded, so unique values (names, e-mails) hold no memory."""

_CParser: type[Any] | None
try:
    from yaml import _yaml

    _CParser = _yaml.CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

if _CParser is not None:

    class _Composer(_CParser):  # type: ignore[misc,valid-type]
        """libyaml's parser and composer (C) with the lean resolver above.

        The composer also calls ``descend_resolver(parent, index)`` and ``ascend_resolver()`` around
        every node, for path resolvers specs never use, and ignores what they return. Builtins that
        take those arguments and do nothing are C calls (no Python frame): a twentieth of the parse.
        """

        resolve = staticmethod(_remembered_resolve)
        descend_resolver = staticmethod(operator.is_)
        ascend_resolver = staticmethod(tuple)

    _LOADER: type = _Composer
else:  # pragma: no cover - PyYAML built without libyaml: correct, only slower
    _LOADER = yaml.SafeLoader


def compose_documents(text: str) -> list[Node | None]:
    """Compose every document with libyaml's C parser (falls back to pure Python if absent)."""
    loader = _LOADER(text)
    try:
        documents: list[Node | None] = []
        while loader.check_node():
            documents.append(loader.get_node())
        return documents
    finally:
        loader.dispose()


def locate(root: Node | None, loc: tuple[str | int, ...], *, want_key: bool = False) -> Position:
    """The position of the node at ``loc`` (keys and list indices), or of its deepest existing parent.

    ``want_key`` points at the key rather than the value (unknown-field errors). Location items that
    do not exist (pydantic's union tags, a missing field) are skipped so the nearest real node wins.
    """
    if root is None:
        return Position()
    node: Node = root
    key_node: Node | None = None
    for item in loc:
        found = False
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value == str(item):
                    key_node, node, found = k, v, True
                    break
        elif isinstance(node, SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
            key_node, node, found = None, node.value[item], True
        if not found:
            continue
    if want_key and key_node is not None:
        return mark_position(key_node)
    return mark_position(node)
