"""Map pydantic validation errors to diagnostics at the exact YAML position, with hints.

pydantic reports locations as paths (``('spec', 'aws', 'aws', 'accountId')``) that include union tags;
we strip the tags by walking the data, then walk the composed YAML nodes to a line and column.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import ValidationError

from paybill.clouds import registry
from paybill.contract.names import NAME_MAX, NAME_PATTERN
from paybill.diagnostics import DiagnosticSink
from paybill.diagnostics.suggest import did_you_mean
from paybill.load.document import SpecDocument
from paybill.models.registry import model_for_kind

_DISCRIMINATORS = ("provider", "model", "type")
_QUOTED = re.compile(r"'([^']*)'")
_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_RANGE_TYPES = {
    "greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_short", "too_long",
    "string_too_short", "string_too_long", "finite_number",
}


def clean_loc(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union tags from ``loc`` so it is a real path into ``data``.

    Discriminated unions insert the tag value (``aws`` for ``provider: aws``); callable
    discriminators insert their tag name (``tenant-list``). Neither is a key of the data.
    """
    result: list[Any] = []
    current = data
    tag_skipped = False
    for index, item in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, dict):
            if not tag_skipped and isinstance(item, str) and _is_tag_position(current, item):
                tag_skipped = True
                continue
            if item in current:
                result.append(item)
                current = current[item]
                tag_skipped = False
                continue
            if last:
                result.append(item)
            continue
        if isinstance(current, list) and isinstance(item, int):
            result.append(item)
            current = current[item] if 0 <= item < len(current) else None
            tag_skipped = False
            continue
        result.append(item)
        current = None
    return tuple(result)


def _is_tag_position(mapping: dict[str, Any], item: str) -> bool:
    """``item`` is a discriminator value here (``provider: aws`` and loc item ``aws``)."""
    return any(mapping.get(d) == item for d in _DISCRIMINATORS)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for item in loc:
        out += f"[{item}]" if isinstance(item, int) else (f".{item}" if out else str(item))
    return out or "document"


def _kind_schema(kind: str) -> dict[str, Any]:
    return _schema_of(kind, registry.generation())


@cache
def _schema_of(kind: str, generation: int) -> dict[str, Any]:
    """``generation``: the Cloud model changes when a cloud profile is registered."""
    model = model_for_kind(kind)
    assert model is not None, "only documents of known kinds reach schema validation"
    return model.model_json_schema(by_alias=True)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _choose(schema: dict[str, Any], root: dict[str, Any], data: Any) -> dict[str, Any]:
    """Pick the union member that matches ``data`` (by discriminator, else by shared keys)."""
    schema = _resolve(schema, root)
    options = schema.get("oneOf") or schema.get("anyOf")
    if not options:
        return schema
    members = [_resolve(o, root) for o in options]
    objects = [m for m in members if m.get("type") == "object"]
    if isinstance(data, dict):
        for member in objects:
            props = member.get("properties", {})
            for d in _DISCRIMINATORS:
                if d in props and props[d].get("const") == data.get(d):
                    return member
        best = max(objects, key=lambda m: len(set(m.get("properties", {})) & set(data)), default=None)
        if best is not None:
            return best
    return members[0]


def known_keys(kind: str, data: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys the schema allows in the mapping at ``loc`` (for did-you-mean)."""
    root = _kind_schema(kind)
    schema: dict[str, Any] = root
    current = data
    for item in loc:
        schema = _choose(schema, root, current)
        if isinstance(item, int):
            schema = schema.get("items", {})
            current = current[item] if isinstance(current, list) and item < len(current) else None
        else:
            props = schema.get("properties", {})
            schema = props.get(item) or schema.get("additionalProperties") or {}
            current = current.get(item) if isinstance(current, dict) else None
        if not isinstance(schema, dict):
            return []
    schema = _choose(schema, root, current)
    return sorted(schema.get("properties", {}))


def _value_of(data: Any, loc: tuple[Any, ...]) -> Any:
    current = data
    for item in loc:
        in_dict = isinstance(current, dict) and item in current
        in_list = isinstance(current, list) and isinstance(item, int) and 0 <= item < len(current)
        if in_dict or in_list:
            current = current[item]
        else:
            return None
    return current


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} {value}"
    if isinstance(value, str):
        return f"string '{value[:60]}'"
    return "a list" if isinstance(value, list) else "a mapping"


_BOUNDS = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}


def _range_hint(err_type: str, ctx: dict[str, Any], value: Any) -> str:
    """What was written and what fits, so the fix does not need the schema (PB0206)."""
    if err_type == "finite_number":
        return "use a finite number (YAML's .inf and .nan are not numbers here)"
    if err_type in ("too_short", "too_long", "string_too_short", "string_too_long"):
        unit = "characters" if err_type.startswith("string") else "items"
        size = f"{len(value)} {unit}" if isinstance(value, str | list | dict) else "this"
        fits = " and ".join(f"{word} {ctx[key]}" for key, word in (("min_length", "at least"),
                                                                    ("max_length", "at most")) if key in ctx)
        return f"it has {size}; use {fits}" if fits else f"it has {size}"
    fits = " and ".join(f"{word} {ctx[key]}" for key, word in _BOUNDS.items() if key in ctx)
    return f"you wrote {value}; use a value of {fits}" if fits else f"you wrote {value}"


def _other_hint(kind: str, ctx: dict[str, Any]) -> str:
    """PB0207's hint: the fix the rejecting validator gave (:class:`HintedValueError`), else where the
    accepted values are written down (the kind's JSON Schema, which editors also read)."""
    hint = getattr(ctx.get("error"), "hint", None)
    if isinstance(hint, str) and hint:
        return hint
    return f"schemas/{kind.lower()}.schema.json describes the values this field accepts"


def report_validation_error(document: SpecDocument, error: ValidationError, sink: DiagnosticSink) -> None:
    """Turn every pydantic error of one document into one diagnostic."""
    data = document.data
    for err in error.errors(include_url=False):
        loc = clean_loc(data, tuple(err["loc"]))
        err_type = err["type"]
        where = _dotted(loc)
        if err_type == "extra_forbidden":
            key = str(loc[-1])
            parent = loc[:-1]
            hint = did_you_mean(key, known_keys(document.kind, data, parent))
            sink.error("PB0201", f"unknown field '{key}' in {_dotted(parent)}", document.path,
                       document.position(*loc, key=True), hint)
        elif err_type in ("missing", "union_tag_not_found"):
            field = str(err.get("ctx", {}).get("discriminator", loc[-1] if loc else "?")).strip("'")
            parent = loc[:-1] if err_type == "missing" else loc
            sink.error("PB0202", f"missing required field '{field}' in {_dotted(parent)}", document.path,
                       document.position(*parent, key=True),
                       f"add '{field}:' under {_dotted(parent)}")
        elif err_type in _TYPE_NAMES or err_type == "tenant_scope":
            value = _value_of(data, loc)
            if err_type == "tenant_scope":
                message, hint = f"{where}: {err['msg']}", None
            else:
                message = f"{where}: expected {_TYPE_NAMES[err_type]}, got {_describe(value)}"
                hint = None
                if err_type == "string_type" and isinstance(value, (bool, int, float)):
                    hint = "quote the value: YAML reads yes/no/on/off as booleans and digits as numbers"
                elif err_type in ("int_type", "float_type") and isinstance(value, str):
                    hint = "remove the quotes around the number"
            sink.error("PB0203", message, document.path, document.position(*loc), hint)
        elif err_type in ("literal_error", "enum", "union_tag_invalid"):
            ctx = err.get("ctx", {})
            expected = _QUOTED.findall(str(ctx.get("expected_tags") or ctx.get("expected", "")))
            value = _value_of(data, loc)
            if err_type == "union_tag_invalid":
                value = ctx.get("tag", value)
            hint = did_you_mean(str(value), expected) if isinstance(value, str) else None
            hint = hint or (f"expected one of: {', '.join(expected)}" if expected else None)
            sink.error("PB0204", f"{where}: invalid value {_describe(value)}", document.path,
                       document.position(*loc), hint)
        elif err_type == "string_pattern_mismatch":
            value = _value_of(data, loc)
            pattern = err.get("ctx", {}).get("pattern", "")
            if pattern == NAME_PATTERN:
                sink.error("PB0205", f"{where}: invalid name {_describe(value)}", document.path,
                           document.position(*loc),
                           "names are lower case letters, digits and single hyphens, start with a letter, "
                           f"end with a letter or digit, at most {NAME_MAX} characters")
            else:
                sink.error("PB0205", f"{where}: {_describe(value)} does not match the required format",
                           document.path, document.position(*loc), f"expected pattern {pattern}")
        elif err_type in _RANGE_TYPES:
            sink.error("PB0206", f"{where}: {err['msg'].lower()}", document.path, document.position(*loc),
                       _range_hint(err_type, err.get("ctx", {}), _value_of(data, loc)))
        else:
            # Custom validators raise ValueError/AssertionError; pydantic prefixes their text.
            message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            sink.error("PB0207", f"{where}: {message}", document.path, document.position(*loc),
                       _other_hint(document.kind, err.get("ctx", {})))
