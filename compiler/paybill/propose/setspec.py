"""``--set KIND/NAME:FIELD.PATH=VALUE``: one field of one spec to set."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from paybill.models.registry import KINDS

_SET = re.compile(r"^(?P<kind>[A-Za-z]+)/(?P<name>[^:/]+):(?P<path>[^=]+)=(?P<value>.*)$", re.DOTALL)
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class SetError(ValueError):
    """A malformed ``--set``; the message says what is wrong and how to write it."""


@dataclass(frozen=True, slots=True)
class SetOp:
    kind: str
    name: str
    path: tuple[str, ...]
    value: Any
    raw: str

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def parse_value(text: str) -> Any:
    """VALUE is YAML: ``growth`` is a string, ``5`` a number, ``true`` a boolean, ``[a, b]`` a list,
    ``"5"`` the string 5. Safe loading only: tags are refused by the schema check afterwards."""
    if text.strip() == "":
        raise SetError("empty value; quote it (\"\") to set an empty string")
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise SetError(f"value is not valid YAML: {str(exc).splitlines()[0]}") from None


def parse_set(raw: str) -> SetOp:
    match = _SET.match(raw)
    if match is None:
        raise SetError(f"'{raw}' is not KIND/NAME:FIELD.PATH=VALUE (for example Tenant/acme:spec.plan=growth)")
    kind, name, path = match["kind"], match["name"], match["path"].strip()
    if kind not in KINDS:
        raise SetError(f"unknown kind '{kind}' in '{raw}' (one of {', '.join(KINDS)})")
    parts = tuple(path.split("."))
    if parts[0] != "spec" or len(parts) < 2 or not all(_KEY.match(p) for p in parts):
        raise SetError(f"field '{path}' must be a dotted path under spec, like spec.plan or spec.billing.status")
    return SetOp(kind, name, parts, parse_value(match["value"]), raw)
