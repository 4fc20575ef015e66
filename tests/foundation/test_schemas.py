"""The committed JSON Schemas are fresh, accept the example specs, and agree with pydantic.

Editors validate with ``schemas/`` while paybill validates with pydantic; a document one accepts and
the other rejects is a bug in one of them. The agreement test runs both over the example documents
and over systematic mutations of them (dropped, renamed, extra keys; wrong types; bad strings and
numbers), all deterministic.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from paybill.diagnostics import DiagnosticSink
from paybill.load import load_repository
from paybill.load.document import SpecDocument
from paybill.models.json_schema import render_schemas, schema_file_name
from paybill.models.registry import KINDS

from .support import SCHEMAS, SPECS

ANY_DOCUMENT = "paybill.schema.json"


def test_committed_schemas_are_fresh() -> None:
    expected = render_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in sorted(SCHEMAS.glob("*.json"))}
    assert sorted(committed) == sorted(expected), "schema files added or removed: run `make schemas`"
    stale = [name for name, text in expected.items() if committed[name] != text]
    assert stale == [], "stale schemas: run `make schemas` (paybill schema --out schemas)"


def test_rendering_is_deterministic() -> None:
    assert render_schemas() == render_schemas()
    for text in render_schemas().values():
        assert text.endswith("}\n")
        json.loads(text)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaError]:
    """JSON Schema's ``pattern`` with ECMA-262 semantics for ``$``.

    The ``jsonschema`` library uses Python's ``re``, where ``$`` also matches before a final newline;
    in ECMA-262 (what JSON Schema specifies, and what editors run) and in pydantic's Rust regex it
    does not. Without this, ``"bluth\\n"`` would look like a disagreement that no editor has.
    """
    if not validator.is_type(instance, "string"):
        return
    translated = re.sub(r"(?<!\\)\$$", r"\\Z", pattern)
    if not re.search(translated, instance):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


@cache
def registry() -> Registry:
    """Every committed schema under its ``$id``, so ``paybill.schema.json`` resolves ``tenant.schema.json``."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


@cache
def validator(file_name: str) -> Any:
    schema = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
    EcmaValidator.check_schema(schema)
    return EcmaValidator(schema, registry=registry())


@cache
def example_documents() -> tuple[SpecDocument, ...]:
    sink = DiagnosticSink()
    documents = load_repository(SPECS, sink).documents
    assert len(sink) == 0, sink.sorted()
    return tuple(documents)


def test_every_kind_has_a_schema_file() -> None:
    for kind in KINDS:
        assert (SCHEMAS / schema_file_name(kind)).is_file()
        validator(schema_file_name(kind))
    validator(ANY_DOCUMENT)


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: d.path)
def test_example_specs_validate_against_committed_schemas(document: SpecDocument) -> None:
    for file_name in (schema_file_name(document.kind), ANY_DOCUMENT):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator(file_name).iter_errors(document.data)]
        assert errors == [], f"{document.path} against {file_name}"


def test_any_document_schema_rejects_unknown_kind() -> None:
    document = copy.deepcopy(example_documents()[0].data)
    document["kind"] = "Tenants"
    assert not validator(ANY_DOCUMENT).is_valid(document)


# ---- pydantic and the JSON Schemas agree ------------------------------------------------------------

BAD_STRINGS = ("Upper", "a/b", "a..b", "${x}", "%{x}", "'q'", "x; DROP TABLE t;--", "", "n" * 300, "ok\n", "ü")
WRONG_TYPE: dict[type, Any] = {str: 7, int: "7", bool: "true", list: {"a": 1}, dict: ["x"], float: "1.5"}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for item in path:
        data = data[item]
    return data


def _with(data: dict[str, Any], path: tuple[Any, ...], action: str, value: Any = None) -> dict[str, Any]:
    """A deep copy of ``data`` with one change at ``path``: set, drop or rename."""
    result = copy.deepcopy(data)
    parent = _get(result, path[:-1])
    last = path[-1]
    if action == "set":
        parent[last] = value
    elif action == "drop":
        del parent[last]
    elif action == "rename":
        parent[f"{last}X"] = parent.pop(last)
    return result


def _with_extra_key(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    result = copy.deepcopy(data)
    _get(result, path)["unknownField"] = "x"
    return result


def mutations(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Deterministic single-point mutations of one document, with a label for failure messages."""
    for path in _paths(data):
        value = _get(data, path)
        where = "/".join(map(str, path)) or "<root>"
        if isinstance(value, dict):
            yield f"unknown key under {where}", _with_extra_key(data, path)
        if not path:
            continue
        if isinstance(path[-1], str):
            yield f"drop {where}", _with(data, path, "drop")
            yield f"rename {where}", _with(data, path, "rename")
        yield f"wrong type at {where}", _with(data, path, "set", WRONG_TYPE.get(type(value)))
        yield f"null at {where}", _with(data, path, "set", None)
        if isinstance(value, str):
            for bad in BAD_STRINGS:
                yield f"{bad[:20]!r} at {where}", _with(data, path, "set", bad)
        elif isinstance(value, bool):
            yield f"int for bool at {where}", _with(data, path, "set", int(value))
        elif isinstance(value, int):
            for number in (-1, 0, 10**12, value + 1):
                yield f"{number} at {where}", _with(data, path, "set", number)
            yield f"float at {where}", _with(data, path, "set", value + 0.5)
        elif isinstance(value, list):
            yield f"empty list at {where}", _with(data, path, "set", [])
            if value:
                yield f"duplicated item at {where}", _with(data, path, "set", [*value, value[0]])


def _pydantic_accepts(kind: str, data: dict[str, Any]) -> bool:
    try:
        KINDS[kind].model_validate(data)
    except ValidationError:
        return False
    return True


def _sample_documents() -> list[SpecDocument]:
    """Every kind, every cloud provider, every isolation model: enough variety, bounded run time."""
    chosen: dict[str, SpecDocument] = {}
    for document in example_documents():
        data = document.data
        spec = data.get("spec", {})
        variant = spec.get("provider") or (spec.get("isolation") or {}).get("model") or ""
        chosen.setdefault(f"{document.kind}/{variant}", document)
    return sorted(chosen.values(), key=lambda d: d.path)


@pytest.mark.parametrize("document", _sample_documents(), ids=lambda d: d.path)
def test_pydantic_and_json_schema_agree_on_mutations(document: SpecDocument) -> None:
    kind_validator = validator(schema_file_name(document.kind))
    disagreements = []
    count = 0
    for label, data in mutations(document.data):
        count += 1
        by_pydantic = _pydantic_accepts(document.kind, data)
        by_schema = kind_validator.is_valid(data)
        if by_pydantic != by_schema:
            disagreements.append(f"{label}: pydantic {'accepts' if by_pydantic else 'rejects'}, "
                                 f"JSON Schema {'accepts' if by_schema else 'rejects'}")
    assert count > 20
    assert disagreements == []


def test_known_divergence_integral_float() -> None:
    """The one accepted difference: ``seats: 10.0``.

    JSON has a single number type, so JSON Schema's ``integer`` accepts 10.0 (and editors will not
    flag it). YAML tells 10 from 10.0, and paybill's strict models reject the float (PB0203). If this
    test fails, the divergence is gone and the note in docs/errors.md (PB0203) can go too.
    """
    plan = next(d for d in example_documents() if d.kind == "Plan")
    data = copy.deepcopy(plan.data)
    data["spec"]["quotas"]["seats"] = float(data["spec"]["quotas"]["seats"])
    assert not _pydantic_accepts("Plan", data)
    assert validator(schema_file_name("Plan")).is_valid(data)


def test_cloud_quotas_complete_with_each_providers_quota_names() -> None:
    """Editor completion for ``spec.quotas``: each provider's names, documented, none of another cloud's.

    Acceptance is unchanged (an unknown name matching the pattern is left to PB0680 and its
    did-you-mean, so pydantic and the schema still agree); only ``properties`` are added.
    """
    from paybill.quotas import QUOTAS

    definitions = json.loads((SCHEMAS / schema_file_name("Cloud")).read_text())["$defs"]
    for provider, quotas in QUOTAS.items():
        spec = next(d for d in definitions.values()
                    if d.get("properties", {}).get("provider", {}).get("const") == provider)
        field = spec["properties"]["quotas"]
        assert sorted(field["properties"]) == sorted(q.name for q in quotas), provider
        assert all(f"{q.default:,}" in field["properties"][q.name]["description"] for q in quotas)
        assert f"``{quotas[0].name}:" in field["description"]  # the example is this provider's name
        assert "patternProperties" in field
