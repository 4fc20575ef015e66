"""Commit message trailers, parsed the way ``git interpret-trailers`` reads them (simplified).

The trailer block is the last paragraph of the message when every line in it is ``Key: value``
(continuation lines start with whitespace). Parsing here, rather than running
``git interpret-trailers`` once per commit, keeps a 1,000-commit audit to a single git process.
"""

from __future__ import annotations

import re

_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(.*)$")
AGENT_TRAILER = "Paybill-Agent"
APPROVED_TRAILER = "Approved-by"
VIA_TRAILER = "Paybill-Via"
"""``billing`` on proposals made by ``paybill billing`` from billing-system events."""
REVIEW_TRAILER = "Paybill-Review"
"""``auto`` or ``human``: what the BillingPolicy says about merging a billing proposal."""


def parse_trailers(message: str) -> list[tuple[str, str]]:
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return []
    trailers: list[tuple[str, str]] = []
    for line in paragraphs[-1].splitlines():
        if line[:1].isspace() and trailers:
            key, value = trailers[-1]
            trailers[-1] = (key, f"{value} {line.strip()}")
            continue
        match = _TRAILER.match(line)
        if match is None:
            return []
        trailers.append((match.group(1), match.group(2).strip()))
    return trailers


def trailer_values(trailers: list[tuple[str, str]], key: str) -> list[str]:
    """Values of one trailer key, case-insensitive like git."""
    return [value for k, value in trailers if k.lower() == key.lower()]


def subject(message: str) -> str:
    return message.strip().split("\n", 1)[0].strip()


AGENT_BRANCHES = "paybill/"
"""The branch namespace agents push to: ``paybill/<agent>/<slug>`` (what ``paybill propose`` creates)."""
_AGENT_BRANCH = re.compile(r"^paybill/([^/]+)/.")


def branch_agent(head_ref: str | None) -> str | None:
    """The agent a pull request's branch belongs to (``paybill/<agent>/<slug>``), '' for a branch in the
    agents' namespace that names none, None for any other branch (or none given)."""
    if not head_ref or not head_ref.startswith(AGENT_BRANCHES):
        return None
    match = _AGENT_BRANCH.match(head_ref)
    return match.group(1) if match else ""
