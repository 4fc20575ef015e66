"""Edit spec files with ruamel.yaml round-trip so the diff is only the changed lines.

ruamel keeps comments, key order and (with ``preserve_quotes``) quoting; indentation it must be
told. We find the indentation that reproduces the original file byte for byte before editing,
and refuse to edit a file no setting reproduces (rather than reformat someone's file). A replaced
scalar keeps its quoting style; a replaced flow list or mapping (``[a, b]``) stays in flow style.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent


class EditError(ValueError):
    """The file cannot be edited faithfully (the message says why)."""


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
    for mapping, sequence, offset in candidates:
        yaml = _yaml(mapping, sequence, offset)
        docs = list(yaml.load_all(text))
        if _dump(yaml, docs, explicit) == text:
            return yaml, docs, explicit
    raise EditError("ruamel.yaml cannot reproduce this file's formatting exactly; edit it by hand "
                    "(mixed indentation is the usual cause)")


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
    yaml, docs, explicit = faithful_loader(text)
    for doc_index, path, value in edits:
        if doc_index >= len(docs) or not isinstance(docs[doc_index], dict):
            raise EditError(f"document {doc_index} of the file is not a mapping")
        set_value(docs[doc_index], path, value)
    return _dump(yaml, docs, explicit)
