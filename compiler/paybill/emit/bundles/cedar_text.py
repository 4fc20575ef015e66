"""Cedar literals from untrusted text: the only way spec text reaches ``policies.cedar``.

Spec names already follow a safe grammar, but policy ids carry file paths and a future field may
carry anything, so every string goes through :func:`cedar_string`: backslash and quote are escaped,
and anything outside printable ASCII becomes a ``\\u{...}`` escape. The output is therefore plain
ASCII whatever the input, which also keeps the bytes identical on every platform. Text that cannot
be represented (lone surrogates) is rejected rather than mangled.
"""

from __future__ import annotations

from collections.abc import Iterable

from paybill.contract.bundle import ACTION

_SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


class UnsafeText(ValueError):
    """Text that cannot become a Cedar string literal."""


def cedar_string(text: str) -> str:
    """``text`` as a double-quoted Cedar string literal."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _SIMPLE:
            out.append(_SIMPLE[ch])
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif 0xD800 <= code <= 0xDFFF:
            raise UnsafeText(f"lone surrogate U+{code:04X} cannot appear in a Cedar string")
        else:
            out.append(f"\\u{{{code:x}}}")
    out.append('"')
    return "".join(out)


def entity(type_: str, id_: str) -> str:
    """An entity literal: ``Paybill::Table::"invoices"`` (type names are ours, ids are escaped)."""
    return f"{type_}::{cedar_string(id_)}"


def action(name: str) -> str:
    return entity(ACTION, name)


def string_set(items: Iterable[str]) -> str:
    """A sorted, de-duplicated set literal of strings: ``["a", "b"]``."""
    return "[" + ", ".join(cedar_string(i) for i in sorted(set(items))) + "]"


def entity_set(type_: str, ids: Iterable[str]) -> str:
    return "[" + ", ".join(entity(type_, i) for i in sorted(set(ids))) + "]"


def action_scope(actions: Iterable[str]) -> str:
    """The action part of a policy scope for one or several actions."""
    names = sorted(set(actions))
    if len(names) == 1:
        return f"action == {action(names[0])}"
    return "action in [" + ", ".join(action(n) for n in names) + "]"
