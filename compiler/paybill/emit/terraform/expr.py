"""Terraform expressions versus literal strings.

In Terraform's JSON syntax every string value is a template: ``"${var.x}"`` interpolates and
``"%{ if }"`` is a directive. Specs carry user text (display names, labels, annotations); if such text
contained ``${file("/etc/passwd")}`` and reached Terraform verbatim, it would be evaluated. So the
renderer escapes *every* string unless it is an :class:`Expr`, which only the emitters create.
"""

from __future__ import annotations

from typing import Any


class Expr(str):
    """A string the emitter built as a Terraform expression/template; rendered verbatim."""

    __slots__ = ()


def ref(*parts: str) -> Expr:
    """``ref("aws_vpc", "main", "id")`` -> ``${aws_vpc.main.id}``."""
    return Expr("${" + ".".join(parts) + "}")


def raw(expression: str) -> Expr:
    """A whole interpolation written by an emitter: ``raw('jsonencode({...})')`` -> ``${jsonencode(...)}``."""
    return Expr("${" + expression + "}")


def concat(*parts: str) -> Expr:
    """One template from expressions and literal text: ``concat(ref("aws_s3_bucket", "b", "arn"), "/tenants/x/*")``.

    Literal parts are escaped, so only the :class:`Expr` parts interpolate; the result is an ``Expr``.
    """
    return Expr("".join(p if isinstance(p, Expr) else escape_template(p) for p in parts))


def escape_template(text: str) -> str:
    """Escape Terraform template sequences so ``text`` is taken literally."""
    if "${" not in text and "%{" not in text:
        return text
    return text.replace("${", "$${").replace("%{", "%%{")


def escape_tree(value: Any) -> Any:
    """Return ``value`` with every non-``Expr`` string escaped (keys included), recursively."""
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, str):
        return escape_template(value)
    if isinstance(value, dict):
        return {escape_template(k) if isinstance(k, str) else k: escape_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_tree(v) for v in value]
    return value
