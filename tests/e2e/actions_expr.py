"""GitHub Actions expressions (``${{ ... }}``), evaluated as the runner does, for the local workflow runner.

No maintained Python package evaluates this language, so this is a small recursive-descent
evaluator of what GitHub documents (docs.github.com, "Evaluate expressions in workflows and
actions"): literals (``null``, booleans, numbers, single-quoted strings with ``''`` escapes),
contexts with ``.name`` and ``[index]`` access, the operators ``!  < <= > >=  == !=  &&  ||`` with
their precedence, GitHub's loose equality (operands of different types compare as numbers; strings
compare case-insensitively), ``&&``/``||`` returning an operand (so ``vars.X || 'default'`` works),
and the functions the shipped workflows call. Status functions and ``hashFiles`` are answered by
the caller (:class:`Functions`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(r"""
    \s*(?:
      (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))
    | (?P<string>'(?:[^']|'')*')
    | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\[|\]|\.|,|\*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""", re.VERBOSE)

TEMPLATE = re.compile(r"\$\{\{\s*((?:(?!\}\}).)*?)\s*\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression the runner would reject (syntax error, unknown function or context)."""


@dataclass
class Functions:
    """What the caller answers: the job's status so far and ``hashFiles``."""

    status: Callable[[], str]
    """``success``, ``failure`` or ``cancelled``."""
    hash_files: Callable[[list[str]], str]


def _tokens(text: str) -> list[tuple[str, str]]:
    found, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:]!r} in {text!r}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def truthy(value: Any) -> bool:
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _equal(left: Any, right: Any) -> bool:
    if type(left) is not type(right) and not (isinstance(left, (int, float)) and isinstance(right, (int, float))
                                             and not isinstance(left, bool) and not isinstance(right, bool)):
        return _number(left) == _number(right)
    if isinstance(left, str):
        return left.casefold() == right.casefold()
    if isinstance(left, (dict, list)):
        return left is right
    return bool(left == right)


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a, b = left.casefold(), right.casefold()
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    x, y = _number(left), _number(right)
    if math.isnan(x) or math.isnan(y):
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def render(value: Any) -> str:
    """A value as text, as the runner puts it into a string (``${{ }}`` inside a larger value)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


class _Parser:
    def __init__(self, text: str, contexts: Mapping[str, Any], functions: Functions) -> None:
        self.text, self.tokens, self.at = text, _tokens(text), 0
        self.contexts, self.functions = contexts, functions

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.equality()
            value = right if truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "<"), ("op", "<="), ("op", ">"), ("op", ">=")):
            op = self.take()[1]
            value = _compare(op, value, self.unary())
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
                value = _index(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _index(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(int(text, 16)) if "x" in text.lower() else float(text)
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            return self.call(text)
        if text not in self.contexts:
            raise ExpressionError(f"unknown context {text!r} in {self.text!r}")
        return self.contexts[text]

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return self.apply(name.lower(), args)

    def apply(self, name: str, args: list[Any]) -> Any:
        status = self.functions.status
        simple: dict[str, Callable[[], Any]] = {
            "always": lambda: True,
            "success": lambda: status() == "success",
            "failure": lambda: status() == "failure",
            "cancelled": lambda: status() == "cancelled",
            "fromjson": lambda: json.loads(str(args[0])),
            "tojson": lambda: json.dumps(args[0], indent=2),
            "contains": lambda: (any(_equal(item, args[1]) for item in args[0]) if isinstance(args[0], list)
                                 else render(args[1]).casefold() in render(args[0]).casefold()),
            "startswith": lambda: render(args[0]).casefold().startswith(render(args[1]).casefold()),
            "endswith": lambda: render(args[0]).casefold().endswith(render(args[1]).casefold()),
            "format": lambda: re.sub(r"\{(\d+)\}", lambda m: render(args[1 + int(m.group(1))]), str(args[0])),
            "join": lambda: (str(args[1]) if len(args) > 1 else ",").join(render(a) for a in args[0]),
            "hashfiles": lambda: self.functions.hash_files([str(a) for a in args]),
        }
        if name not in simple:
            raise ExpressionError(f"unknown function {name}() in {self.text!r}")
        return simple[name]()


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(key, str):
            for name, item in value.items():
                if name.casefold() == key.casefold():  # context property names are case-insensitive
                    return item
        return None
    if isinstance(value, list) and isinstance(key, (int, float)) and not isinstance(key, bool):
        position = int(key)
        return value[position] if 0 <= position < len(value) else None
    return None


def evaluate(expression: str, contexts: Mapping[str, Any], functions: Functions) -> Any:
    """The value of one expression (without the ``${{ }}``)."""
    return _Parser(expression, contexts, functions).parse()


def interpolate(text: str, contexts: Mapping[str, Any], functions: Functions) -> Any:
    """A workflow value with its ``${{ }}`` templates replaced: the value itself when the text is one template."""
    whole = TEMPLATE.fullmatch(text.strip())
    if whole is not None:
        return evaluate(whole.group(1), contexts, functions)
    return TEMPLATE.sub(lambda m: render(evaluate(m.group(1), contexts, functions)), text)


def condition(text: str | None, contexts: Mapping[str, Any], functions: Functions) -> bool:
    """A step's or job's ``if:``: without a status function it means ``success() && (...)``."""
    if text is None or str(text).strip() == "":
        return functions.status() == "success"
    raw = str(text).strip()
    whole = TEMPLATE.fullmatch(raw)
    expression = whole.group(1) if whole else raw
    if not re.search(r"\b(always|success|failure|cancelled)\s*\(", expression):
        expression = f"success() && ({expression})"
    return truthy(evaluate(expression, contexts, functions))
