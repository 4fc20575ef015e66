"""The organisation's change-control rules: Cedar policies and their schema under ``policies/``.

Every ``*.cedar`` file is one part of the policy set; exactly one ``*.cedarschema`` file types it.
Loading validates everything and reports problems as diagnostics at the file and line of the policy
(parse errors, type errors against the schema, a missing or duplicate ``@id``). Rules are only ever
evaluated from a policy set that validated: a typo must not silently turn a forbid into nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paybill.diagnostics import Diagnostic, Position, Severity
from paybill.gitio.sources import Side

if TYPE_CHECKING:  # cedarpy is imported when there are policies to read: a repository without
    import cedarpy  # policies/ (and the plan of one) does not load it

POLICY_SUFFIX = ".cedar"
SCHEMA_SUFFIX = ".cedarschema"
CODE_PARSE = "PB0960"
CODE_INVALID = "PB0961"
CODE_ID = "PB0962"
CODE_MISSING = "PB0963"
_ID = re.compile(r'@id\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\)')
_POLICY_REF = re.compile(r"\bpolicy(\d+)\b")


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy: its ``@id``, effect, and where it is written."""

    id: str
    effect: str
    file: str
    position: Position
    meaning: str = field(default="", compare=False)
    """The policy as Cedar parsed it (JSON, without annotations): equal when only layout or comments differ."""


@dataclass
class ChangeControl:
    """A validated (or not) policy set with its schema."""

    policies: str = ""
    schema: str = ""
    rules: list[Rule] = field(default_factory=list)
    """Rules in Cedar's order: Cedar names the n-th policy ``policy<n>``."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.policies) and not any(d.severity is Severity.ERROR for d in self.diagnostics)

    def rule(self, cedar_id: str) -> Rule | None:
        match = _POLICY_REF.fullmatch(cedar_id)
        if match and int(match.group(1)) < len(self.rules):
            return self.rules[int(match.group(1))]
        return next((r for r in self.rules if r.id == cedar_id), None)

    def rule_named_in(self, text: str) -> Rule | None:
        """The first rule a Cedar message names by its internal id (``policy7``)."""
        match = _POLICY_REF.search(text)
        return self.rule(match.group(0)) if match else None

    def with_rule_ids(self, text: str) -> str:
        """A Cedar message with its internal policy ids (``policy7``) replaced by the rules' ``@id``."""
        return _POLICY_REF.sub(lambda m: rule.id if (rule := self.rule(m.group(0))) else m.group(0), text)

    def is_authorized(self, request: dict[str, Any], entities: list[dict[str, Any]]) -> cedarpy.AuthzResult:
        import cedarpy

        return cedarpy.is_authorized(request, self.policies, entities, self.schema)


def _line_of(text: str, offset: int) -> Position:
    before = text[:offset]
    return Position(before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


def _policies_json(text: str) -> dict[str, Any]:
    import cedarpy

    policies: dict[str, Any] = json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"]
    return policies


def policy_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each policy of a Cedar file: its first annotation (or its effect) to its ``;``.

    Cedar's JSON form of a policy carries no source position, so the file is scanned: a policy runs
    to the next ``;`` outside string literals and ``//`` comments (Cedar has no other comments, and
    ``;`` cannot appear in a policy otherwise). Only used on text that Cedar has parsed."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char == "/" and text.startswith("//", i):
            newline = text.find("\n", i)
            i = size if newline < 0 else newline
            continue
        if char.isspace():
            i += 1
            continue
        if start is None:
            start = i
        if char == '"':
            i += 1
            while i < size and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == ";":
            spans.append((start, i + 1))
            start = None
        i += 1
    return spans


def _policy_positions(text: str, count: int) -> list[tuple[Position, Position | None]]:
    """Per policy: (its first line, its ``@id`` annotation's position if it has one)."""
    spans = policy_spans(text)
    if len(spans) != count:  # the scanner disagrees with Cedar: keep the file's start rather than guess
        return [(Position(), None)] * count
    out: list[tuple[Position, Position | None]] = []
    for start, end in spans:
        match = _ID.search(text, start, end)
        out.append((_line_of(text, start), _line_of(text, match.start()) if match else None))
    return out


def _rules_of(display: str, text: str, sink: list[Diagnostic]) -> list[Rule] | None:
    try:
        parsed = _policies_json(text)
    except Exception as exc:  # cedarpy raises ValueError/RuntimeError with Cedar's message
        sink.append(Diagnostic(CODE_PARSE, f"Cedar policy file does not parse: {exc}", display, Position(),
                               "check the syntax against https://docs.cedarpolicy.com/"))
        return None
    positions = _policy_positions(text, len(parsed))
    rules: list[Rule] = []
    for n in range(len(parsed)):
        policy = parsed[f"policy{n}"]
        annotation = policy.get("annotations", {}).get("id")
        first_line, id_line = positions[n]
        position = id_line or first_line
        if annotation is None:
            sink.append(Diagnostic(CODE_ID, f"policy #{n + 1} in {display} has no @id annotation", display, position,
                                   'start every policy with @id("a-unique-name"): refusals name the rule'))
            annotation = f"{display}#{n + 1}"
        meaning = json.dumps({k: v for k, v in policy.items() if k != "annotations"}, sort_keys=True)
        rules.append(Rule(annotation, policy.get("effect", "?"), display, position, meaning))
    return rules


def policy_texts(side: Side, prefix: str) -> dict[str, bytes]:
    """The bytes of every policy and schema file below ``prefix`` on ``side`` (repository path -> bytes):
    what tells, without parsing anything, whether two sides' rules can differ."""
    listing = side.list(prefix, (POLICY_SUFFIX, SCHEMA_SUFFIX))
    contents = side.read(listing.files)
    return {f.repo_path: f.data if f.data is not None else contents[f.blob] for f in listing.files}


def load_change_control(side: Side, prefix: str, *, required: bool) -> ChangeControl | None:
    """Read and validate ``prefix`` on ``side``; None when there is no policy file and none is required."""
    listing = side.list(prefix, (POLICY_SUFFIX, SCHEMA_SUFFIX))
    policy_files = [f for f in listing.files if f.repo_path.endswith(POLICY_SUFFIX)]
    schema_files = [f for f in listing.files if f.repo_path.endswith(SCHEMA_SUFFIX)]
    control = ChangeControl(files=[f.repo_path for f in listing.files])
    if not policy_files:
        if not required:
            return None
        control.diagnostics.append(Diagnostic(
            CODE_MISSING, f"no change-control policies (*.cedar) in '{prefix}/'", prefix or ".", Position(),
            "agents may only propose under written rules; `paybill init` scaffolds policies/"))
        return control
    contents = side.read(listing.files)
    texts = {f.repo_path: (f.data if f.data is not None else contents[f.blob]).decode("utf-8", errors="replace")
             for f in listing.files}
    if len(schema_files) != 1:
        control.diagnostics.append(Diagnostic(
            CODE_MISSING, f"expected exactly one *.cedarschema in '{prefix}/', found {len(schema_files)}",
            prefix or ".", Position(), "keep the schema in one file, e.g. policies/change-control.cedarschema"))
        return control
    control.schema = texts[schema_files[0].repo_path]
    parts = []
    for source in policy_files:
        rules = _rules_of(source.repo_path, texts[source.repo_path], control.diagnostics)
        if rules is not None:
            control.rules += rules
            parts.append(texts[source.repo_path])
    seen: dict[str, Rule] = {}
    for rule in control.rules:
        if rule.id in seen:
            first = seen[rule.id]
            control.diagnostics.append(Diagnostic(
                CODE_ID, f"@id(\"{rule.id}\") is already used at {first.file}:{first.position.line}",
                rule.file, rule.position, "policy ids must be unique"))
        seen.setdefault(rule.id, rule)
    if len(parts) != len(policy_files):
        return control
    control.policies = "\n".join(parts)
    try:
        import cedarpy

        result = cedarpy.validate_policies(control.policies, control.schema)
    except Exception as exc:
        control.diagnostics.append(Diagnostic(CODE_INVALID, f"Cedar schema does not parse: {exc}",
                                              schema_files[0].repo_path, Position()))
        return control
    if not result.validation_passed:
        for error in result.errors:
            text = str(error)
            rule = control.rule_named_in(text)
            control.diagnostics.append(Diagnostic(
                CODE_INVALID, f"policy does not validate against the schema: {control.with_rule_ids(text)}",
                rule.file if rule else schema_files[0].repo_path, rule.position if rule else Position(),
                f"the schema is {schema_files[0].repo_path}"))
    return control
