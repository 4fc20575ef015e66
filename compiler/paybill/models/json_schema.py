"""JSON Schemas generated from the models: what editors use for completion and what CI checks fresh."""

from __future__ import annotations

import json
from typing import Any

from paybill.models.base import Envelope
from paybill.models.registry import KINDS, model_for_kind

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://paybill.dev/schemas/v1alpha1/"


def schema_file_name(kind: str) -> str:
    return f"{kind.lower()}.schema.json"


def _close_pattern_properties(node: Any) -> None:
    """Reject keys that match no pattern, as pydantic does.

    pydantic renders ``dict[LabelKey, LabelValue]`` as ``patternProperties`` alone, which in JSON
    Schema leaves every other key unconstrained: editors then accepted ``labels: {Bad Key: x}``.
    """
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for child in node.values():
            _close_pattern_properties(child)
    elif isinstance(node, list):
        for child in node:
            _close_pattern_properties(child)


def _model(kind: str) -> type[Envelope]:
    model = model_for_kind(kind)
    if model is None:
        raise KeyError(kind)
    return model


def kind_schema(kind: str) -> dict[str, Any]:
    schema = _model(kind).model_json_schema(by_alias=True, mode="validation")
    _close_pattern_properties(schema)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_BASE + schema_file_name(kind), **schema}


def any_document_schema() -> dict[str, Any]:
    """One schema for any spec document: dispatches on ``kind`` so editors show the right fields."""
    branches = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"$ref": schema_file_name(kind)},
        }
        for kind in KINDS
    ]
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_BASE + "paybill.schema.json",
        "title": "paybill spec document",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"kind": {"enum": list(KINDS)}},
        "allOf": branches,
    }


def render_schemas() -> dict[str, str]:
    """File name -> JSON text, deterministic (stable key order, trailing newline)."""
    files = {schema_file_name(kind): kind_schema(kind) for kind in KINDS}
    files["paybill.schema.json"] = any_document_schema()
    return {name: json.dumps(body, indent=2, ensure_ascii=False) + "\n" for name, body in sorted(files.items())}
