"""Edit spec files so the diff is only the changed lines.

A value that already exists is replaced in place (:mod:`.splice`): only its own characters change,
whatever the layout around it (flow mappings over several lines included). Other edits (a key that
must be created, a block collection replaced) go through the ruamel.yaml round trip: ruamel keeps
comments, key order and (with ``preserve_quotes``) quoting; indentation it must be told. We find
the indentation that reproduces the original file byte for byte before editing, and refuse to edit a
file no setting reproduces (rather than reformat someone's file), naming the first line it would
rewrite and why. A replaced scalar keeps its quoting style; a replaced flow list or mapping
(``[a, b]``) stays in flow style.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent
from yaml.nodes import MappingNode, Node, SequenceNode

from paybill.diagnostics import Position
from paybill.propose.splice import NotSpliceable, PathError, compose, splice


class EditError(ValueError):
    """The file cannot be edited faithfully (the message says why, ``position`` where)."""

    def __init__(self, message: str, position: Position | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.position = position or Position()
        self.hint = hint


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, docs: list[Any], explicit_start: bool) -> str:
    out = io.StringIO()
    yaml.explicit_start = explicit_start
    yaml.dump_all(docs, out)
    return out.getvalue()


def faithful_loader(text: str) -> tuple[YAML, list[Any], bool]:
    """A ruamel instance and documents that dump back to exactly ``text``."""
    try:
        _, guessed, block_offset = load_yaml_guess_indent(text)
    except Exception as exc:  # ruamel raises many error types for broken YAML
        raise EditError(f"cannot parse the file: {str(exc).splitlines()[0]}") from None
    explicit = text.lstrip().startswith("---")
    candidates = []
    for mapping in (2, 4, guessed or 2):
        for sequence, offset in ((guessed or 2, block_offset or 0), (2, 0), (4, 2)):
            if (mapping, sequence, offset) not in candidates:
                candidates.append((mapping, sequence, offset))
    first: str | None = None
    for mapping, sequence, offset in candidates:
        yaml = _yaml(mapping, sequence, offset)
        docs = list(yaml.load_all(text))
        dumped = _dump(yaml, docs, explicit)
        if dumped == text:
            return yaml, docs, explicit
        first = first if first is not None else dumped
    raise _unfaithful(text, first or "")


def _flow_spanning(node: Node | None, line: int) -> Node | None:
    """The outermost flow collection written over several lines that covers 0-based ``line``."""
    if isinstance(node, MappingNode | SequenceNode):
        if node.flow_style and node.start_mark.line < node.end_mark.line and \
                node.start_mark.line <= line <= node.end_mark.line:
            return node
        children = [v for pair in node.value for v in pair] if isinstance(node, MappingNode) else node.value
        for child in children:
            found = _flow_spanning(child, line)
            if found is not None:
                return found
    return None


def _unfaithful(text: str, dumped: str) -> EditError:
    """Where ruamel.yaml would rewrite the file, and the real cause when it is a known one."""
    old, new = text.splitlines(), dumped.splitlines()
    line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    try:
        roots = compose(text)
    except Exception:  # the round trip parsed it; PyYAML may still disagree on exotic input
        roots = []
    for root in roots:
        flow = _flow_spanning(root, line)
        if flow is not None:
            kind = "mapping" if isinstance(flow, MappingNode) else "sequence"
            start, end = flow.start_mark, flow.end_mark
            return EditError(
                f"this edit needs ruamel.yaml to re-emit the file, and it would join the flow {kind} written over "
                f"lines {start.line + 1}-{end.line + 1} onto one line", Position(start.line + 1, start.column + 1),
                f"write that {kind} on one line or in block style (a commit of its own), then propose again; "
                "replacing a value that already exists works with any layout")
    shown = old[line] if line < len(old) else "<end of file>"
    return EditError(
        f"this edit needs ruamel.yaml to re-emit the file, and it would rewrite line {line + 1} "
        f"({shown.strip()!r})", Position(line + 1, 1),
        "mixed indentation is the usual cause: indent consistently (a commit of its own), or make this edit by hand")


def _styled(old: Any, new: Any) -> Any:
    """``new`` in the style of the value it replaces."""
    if isinstance(new, str):
        if isinstance(old, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(new)
        if isinstance(old, SingleQuotedScalarString):
            return SingleQuotedScalarString(new)
        return new
    if isinstance(new, list):
        seq = CommentedSeq(_styled(None, v) for v in new)
        if isinstance(old, CommentedSeq) and old.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(new, dict):
        mapping = CommentedMap((k, _styled(None, v)) for k, v in new.items())
        if isinstance(old, CommentedMap) and old.fa.flow_style():
            mapping.fa.set_flow_style()
        return mapping
    return new


def set_value(document: Any, path: tuple[str, ...], value: Any) -> Any:
    """Set ``path`` in a round-trip document, creating mappings on the way; returns the old value."""
    node = document
    for i, key in enumerate(path[:-1]):
        child = node.get(key) if isinstance(node, dict) else None
        if child is None:
            child = CommentedMap()
            node[key] = child
        if not isinstance(child, dict):
            raise EditError(f"'{'.'.join(path[:i + 1])}' is not a mapping, so '{'.'.join(path)}' cannot be set")
        node = child
    last = path[-1]
    old = node.get(last)
    node[last] = _styled(old, value)
    _keep_comment_gap(node, last, old, node[last])
    return old


def _scalar_width(value: Any) -> int | None:
    if isinstance(value, DoubleQuotedScalarString | SingleQuotedScalarString):
        return len(str(value)) + 2
    if isinstance(value, bool):
        return len("true" if value else "false")
    if isinstance(value, int | float | str):
        return len(str(value))
    return None


def _keep_comment_gap(node: Any, key: str, old: Any, new: Any) -> None:
    """Move an end-of-line comment by the change in value width, so ``free  # note`` becomes
    ``starter  # note`` with the same gap (ruamel keeps the comment's column otherwise)."""
    items = getattr(getattr(node, "ca", None), "items", {})
    entry = items.get(key)
    if not entry or len(entry) < 3 or entry[2] is None:
        return
    old_width, new_width = _scalar_width(old), _scalar_width(new)
    if old_width is None or new_width is None:
        return
    token = entry[2]
    token.column = max(0, token.column + new_width - old_width)


def edit_text(text: str, edits: list[tuple[int, tuple[str, ...], Any]]) -> str:
    """Apply ``(document index, path, value)`` edits to a file's text."""
    try:
        return splice(text, edits)
    except PathError as error:
        raise EditError(str(error), error.position, "check the field path against the spec's schema") from None
    except NotSpliceable:
        pass  # a new key, a block collection...: the round trip below, when it keeps the file intact
    yaml, docs, explicit = faithful_loader(text)
    for doc_index, path, value in edits:
        if doc_index >= len(docs) or not isinstance(docs[doc_index], dict):
            raise EditError(f"document {doc_index} of the file is not a mapping")
        set_value(docs[doc_index], path, value)
    return _dump(yaml, docs, explicit)
