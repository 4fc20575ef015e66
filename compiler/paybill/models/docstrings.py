"""Attribute docstrings of the spec models, found with one ``ast.parse`` per source file.

Every spec model documents its fields with the string under each one (``use_attribute_docstrings``):
pydantic turns them into field descriptions, which ``paybill schema`` writes into the JSON Schemas
editors show. pydantic finds them per class at class creation: it walks the stack to the class
statement, cuts the class's block out of the source with :func:`inspect.getblock` (the pure-Python
tokenizer) and parses that. For the ~60 model classes that was ~0.1 s of every process importing
the models, ``paybill plan`` included (issue 14: a one-tenant plan at 10,000 tenants in <= 1 s).

:func:`install` hands pydantic a finder that parses each ``paybill`` source file once (the C parser)
and reads the class's attributes with pydantic's own visitor, so the descriptions are the very same
(``tests/foundation/test_model_docstrings.py`` compares both for every model). A class it cannot
place with certainty - not defined in a ``paybill`` module's source, or two classes of that name in
one file - is left to pydantic's finder.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any

_Finder = Callable[..., dict[str, str]]


@functools.cache
def _classes(path: str) -> dict[str, list[ast.ClassDef]]:
    """Class name -> every ``class`` statement of that name in the file (nested ones too)."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, list[ast.ClassDef]] = {}
    for node in _statements(tree.body):
        if isinstance(node, ast.ClassDef):
            found.setdefault(node.name, []).append(node)
    return found


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones too. A ``class`` statement sits only in a statement list (a body,
    an ``else``, a ``finally``, an ``except`` or ``case`` block), never in an expression: this finds
    all of them without visiting the expressions ``ast.walk`` would (most of a file's nodes)."""
    for stmt in body:
        yield stmt
        for name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, name, None)
            if isinstance(block, list):
                yield from _statements(block)
        for clause in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
            yield from _statements(clause.body)


def class_docstrings(cls: type[Any]) -> dict[str, str] | None:
    """Attribute name -> docstring of ``cls``'s own annotated attributes, or None when this finder
    cannot tell which ``class`` statement made ``cls``."""
    if not cls.__module__.startswith("paybill."):
        return None
    path = getattr(sys.modules.get(cls.__module__), "__file__", None)
    nodes = _classes(path).get(cls.__name__, []) if isinstance(path, str) and path.endswith(".py") else []
    if len(nodes) != 1:
        return None
    from pydantic._internal._docs_extraction import DocstringVisitor

    visitor = DocstringVisitor()
    visitor.generic_visit(nodes[0])  # as pydantic visits the class statement it parsed
    return visitor.attrs


def _with_fallback(original: _Finder) -> _Finder:
    def find(cls: type[Any], use_inspect: bool = False) -> dict[str, str]:
        found = class_docstrings(cls)
        return found if found is not None else original(cls, use_inspect=use_inspect)

    find.original = original  # type: ignore[attr-defined]
    return find


def install() -> None:
    """Use :func:`class_docstrings` for the model classes defined from now on (idempotent). Does
    nothing if pydantic no longer has the hook: its own finder then runs, slower, same result."""
    from pydantic._internal import _fields

    original = getattr(_fields, "extract_docstrings_from_cls", None)
    if callable(original) and not hasattr(original, "original"):
        _fields.extract_docstrings_from_cls = _with_fallback(original)
