"""Audit output: readable text, or JSON Lines (one commit per line) for tools and data stores."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from paybill.audit.trail import AuditRecord
from paybill.diagnostics.text import printable

FORMATS = ("text", "jsonl")
_MARK = {"added": "+", "removed": "-", "modified": "~", "moved": ">"}


def render_jsonl(records: Iterable[AuditRecord]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record.to_dict(), ensure_ascii=False, sort_keys=False, default=str) + "\n"


def render_text(records: Iterable[AuditRecord], *, tenant: str | None = None) -> Iterator[str]:
    """With ``tenant``, one line per life event (the tenant's story); otherwise one block per commit."""
    count = 0
    for record in records:
        count += 1
        agent = next((v for k, v in record.trailers if k.lower() == "paybill-agent"), None)
        who = f"{record.author[0]} <{record.author[1]}>" + (f" as agent {agent}" if agent else "")
        if tenant:
            for event in record.events:
                yield printable(f"{record.date}  {record.sha[:12]}  {event.event}: {event.detail}  ({who})") + "\n"
            for violation in record.violations:
                yield printable(f"{record.date}  {record.sha[:12]}  VIOLATION [{violation.code}] {violation.message}") \
                    + "\n"
            continue
        lines = [f"commit {record.sha[:12]}  {record.date}  {who}", f"    {record.subject}"]
        if len(record.parents) > 1:
            lines.append("    (a merge: what it changed itself, that none of its parents had)")
        lines += [f"    {k}: {v}" for k, v in record.trailers]
        for change in record.changes:
            lines.append(f"  {_MARK[change.op]} {change.ref}  {change.file}")
            lines += [f"      {f.describe()}" for f in change.fields]
        for violation in record.violations:
            lines.append(f"  ! [{violation.code}] {violation.message}")
        yield "\n".join(map(printable, lines)) + "\n\n"  # authors, subjects and trailers are the committers'
    if count == 0:
        yield "no matching commits\n"
