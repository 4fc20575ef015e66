"""Change-control rules that name specs the repository does not have (PB0982, a warning).

A rule about ``Paybill::Agent::"billing-agent"`` in a repository without that agent is almost always
a mistake: a renamed agent, a copied starter policy, a typo. Cedar cannot tell (an unknown entity
simply never matches, so a ``forbid`` silently protects nothing), so ``paybill validate`` reports it
where the pull-request check shows it. The references are taken from Cedar's own parse of each
policy (so comments and strings do not count); the position is that of the literal in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paybill.diagnostics import Diagnostic, Position, Severity
from paybill.diagnostics.suggest import did_you_mean
from paybill.models.registry import KINDS
from paybill.validate.index import SpecIndex

CODE_UNKNOWN_REFERENCE = "PB0982"
NS = "Paybill"
POLICY_SUFFIX = ".cedar"
"""As in :mod:`paybill.changes.policies`, which is not imported: ``paybill validate`` pays for cedarpy only
when there are policies to read."""
CHECKED_KINDS = ("Agent", "Plan", "Tenant", "Pool", "Cloud")
"""Entity types of the change-control schema that are spec names."""


def _entities(node: Any) -> Iterator[tuple[str, str]]:
    """Every ``{"type": "Paybill::Kind", "id": "name"}`` in Cedar's JSON form of a policy."""
    if isinstance(node, dict):
        kind, name = node.get("type"), node.get("id")
        if isinstance(kind, str) and isinstance(name, str) and kind.startswith(f"{NS}::"):
            yield kind.removeprefix(f"{NS}::"), name
        for value in node.values():
            yield from _entities(value)
    elif isinstance(node, list):
        for value in node:
            yield from _entities(value)


def _code(line: str) -> str:
    """``line`` without its ``//`` comment (a ``//`` inside a string literal is not one)."""
    quoted = False
    for i, char in enumerate(line):
        if char == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and line.startswith("//", i):
            return line[:i]
    return line


def _where(text: str, kind: str, name: str) -> Position:
    """The first ``Paybill::Kind::"name"`` outside a ``//`` comment."""
    literal = re.compile(rf'{NS}\s*::\s*{kind}\s*::\s*"{re.escape(name)}"')
    for number, line in enumerate(text.splitlines(), 1):
        match = literal.search(_code(line))
        if match:
            return Position(number, match.start() + 1)
    return Position()


def check_file(display: str, text: str, index: SpecIndex) -> list[Diagnostic]:
    """PB0982 for each spec a policy file names that ``index`` does not hold (nothing if it does not parse:
    ``paybill plan`` and ``paybill propose`` report that as PB0960)."""
    import cedarpy

    try:
        parsed = json.loads(cedarpy.policies_to_json_str(text))
    except Exception:  # cedarpy raises ValueError/RuntimeError on a policy that does not parse
        return []
    found: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    for kind, name in _entities(parsed):
        if kind not in CHECKED_KINDS or kind not in KINDS or (kind, name) in seen:
            continue
        seen.add((kind, name))
        if index.get(kind, name) is not None:
            continue
        known = index.names(kind)
        suggestion = did_you_mean(name, known)
        hint = (f"{suggestion} otherwise remove the rule" if suggestion else
                f"known {kind} specs: {', '.join(sorted(known)[:10]) or 'none'}; remove the rule or add the spec")
        found.append(Diagnostic(
            CODE_UNKNOWN_REFERENCE, f"change-control policy names {kind} '{name}', which is not in the specs "
            "(the rule can never match it)", display, _where(text, kind, name),
            hint, Severity.WARNING))
    return found


def check_policies_folder(specs: Path, index: SpecIndex) -> list[Diagnostic]:
    """Check every ``*.cedar`` file of ``policies/`` beside the specs folder (display paths like spec files)."""
    folder = specs.absolute().parent / "policies"
    if not folder.is_dir():
        return []
    found: list[Diagnostic] = []
    for path in sorted(folder.rglob(f"*{POLICY_SUFFIX}")):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found += check_file(path.relative_to(folder.parent).as_posix(), text, index)
    return found
