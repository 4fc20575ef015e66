"""``paybill apply drift-report``: every shard's drift results, checked against the manifest, as one report.

The report is the only thing a person reads (the nightly workflow makes it the body of one GitHub
issue), so it must never say "no drift" about a stack nobody checked: every live stack of the
manifest needs a record, from a shard file that finished (``complete``), for the stack's current
hash (a record of another compile checked another configuration). Anything missing makes the
report incomplete (PB1221) and it fails, like drift (PB1220) and stacks that could not be planned
(their PB12xx code from the check).

The markdown names stacks, their spec files and resource addresses only (what the check kept), as
code spans made safe by :mod:`paybill.changes.markdown_text` (resource keys are user text), and stays
under GitHub's 65,536-character issue body: rows past the budget are counted, not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from paybill.apply.drift import RESULTS_KIND, Change, DriftRecord
from paybill.apply.errors import TERRAFORM_FAILED, Problem
from paybill.apply.manifest import Manifest
from paybill.changes.markdown_text import cell, code
from paybill.contract.files import read_regular

DRIFTED = "PB1220"
INCOMPLETE = "PB1221"
MAX_RESULTS_BYTES = 256 * 1024 * 1024
BODY_BUDGET = 60_000
"""Characters of markdown at most (GitHub refuses an issue body over 65,536)."""
SHOWN_PER_CELL = 5


@dataclass(slots=True)
class DriftReport:
    stacks: int
    commit: str | None
    drifted: list[DriftRecord] = field(default_factory=list)
    failed: list[DriftRecord] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Live stacks with no usable record (no shard file, an unfinished one, another hash)."""
    notes: list[str] = field(default_factory=list)
    """Why results were set aside (unreadable files, other commits)."""

    @property
    def clean(self) -> bool:
        return not (self.drifted or self.failed or self.missing)


def _changes(raw: object) -> tuple[Change, ...]:
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise TypeError("not a list")
    return tuple(Change(str(c["address"]), tuple(str(a) for a in c["actions"])) for c in raw)


def _record(raw: object) -> DriftRecord | None:
    """A results file's record, or None when it is not what ``apply drift`` writes (never half-trusted)."""
    if not isinstance(raw, dict):
        return None
    try:
        code, error = raw.get("code"), raw.get("error")
        return DriftRecord(str(raw["address"]), str(raw["hash"]), tuple(str(s) for s in raw.get("sources") or ()),
                           str(raw["status"]), int(raw.get("attempts") or 0),
                           None if code is None else str(code), None if error is None else str(error),
                           _changes(raw.get("drift")), _changes(raw.get("changes")), float(raw.get("seconds") or 0.0))
    except (KeyError, TypeError, ValueError):
        return None


def read_results(folders: Iterable[Path]) -> tuple[list[tuple[str, str | None, bool, list[DriftRecord]]], list[str]]:
    """Every drift results file under ``folders``: (file, commit, complete, records); and why files were skipped."""
    found: list[tuple[str, str | None, bool, list[DriftRecord]]] = []
    notes: list[str] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
            try:
                document = orjson.loads(read_regular(path, MAX_RESULTS_BYTES))  # a FIFO is skipped, not waited on
            except (OSError, ValueError) as error:
                notes.append(f"{path.name}: unreadable ({getattr(error, 'strerror', None) or error})")
                continue
            if not isinstance(document, dict) or document.get("kind") != RESULTS_KIND:
                continue
            records = [_record(raw) for raw in document.get("stacks") or []]
            kept = [r for r in records if r is not None]
            if len(kept) != len(records):
                notes.append(f"{path.name}: {len(records) - len(kept)} records are not what paybill writes")
            commit = document.get("commit")
            found.append((path.name, commit if isinstance(commit, str) else None, document.get("complete") is True,
                          kept))
    return found, notes


def build_report(manifest: Manifest, folders: Iterable[Path], commit: str | None) -> DriftReport:
    """Join the shard results with the manifest: one verdict per live stack, or "not checked"."""
    files, notes = read_results(folders)
    live = {s.address: s for s in manifest.stacks}
    commits = {c for _, c, _, _ in files}
    mixed = commit is None and len(commits) > 1
    # the commit asked for; else the one commit every file names (None too: checks made outside git)
    wanted = commit if commit is not None else next(iter(commits)) if len(commits) == 1 else None
    report = DriftReport(len(live), wanted, notes=notes)
    if mixed:
        shown = ", ".join(str(c)[:12] if c else "none" for c in sorted(commits, key=str))
        report.notes.append(f"results of {len(commits)} commits ({shown}) and no --commit to choose one: none is used")
    verdicts: dict[str, DriftRecord] = {}
    for name, file_commit, complete, records in files:
        if mixed or file_commit != wanted:
            if not mixed:
                report.notes.append(f"{name}: results of commit {str(file_commit)[:12]}, not {str(wanted)[:12]}: "
                                    "not used")
            continue
        if not complete:
            report.notes.append(f"{name}: its shard did not finish: its stacks count as not checked")
            continue
        for record in records:
            stack = live.get(record.address)
            if stack is not None and record.hash == stack.hash:
                verdicts[record.address] = record
    for address in sorted(live):
        record = verdicts.get(address)
        if record is None:
            report.missing.append(address)
        elif record.status == "drifted":
            report.drifted.append(record)
        elif record.status != "in-sync":
            report.failed.append(record)
    return report


def problems(report: DriftReport, generated: str) -> list[Problem]:
    """The report as compiler-style diagnostics, one per stack (PB1220, the failure's code), then PB1221."""
    found: list[Problem] = []
    for record in report.drifted:
        found.append(Problem(DRIFTED, f"{generated}/terraform/{record.address}/main.tf.json",
                             f"stack {record.address} differs from git: {_counted(record)}",
                             "apply it again from git to put it back (a manual run of the apply workflow applies "
                             "every stack; those in sync change nothing), or change "
                             f"{', '.join(record.sources) or 'its specs'} to what the cloud should keep"))
    for record in report.failed:
        found.append(Problem(record.code or TERRAFORM_FAILED, f"{generated}/terraform/{record.address}/main.tf.json",
                             f"stack {record.address} could not be checked: {record.error or 'no reason recorded'}",
                             "its log group in the shard's job says why; it is not reported as in sync"))
    if report.missing or report.notes:
        shown = ", ".join(report.missing[:10]) + (f" and {len(report.missing) - 10} more"
                                                  if len(report.missing) > 10 else "")
        why = "; ".join(report.notes[:5]) + (f"; and {len(report.notes) - 5} more" if len(report.notes) > 5 else "")
        message = (f"{len(report.missing)} of {report.stacks} stacks were not checked ({shown})" if report.missing
                   else "some results were set aside")
        found.append(Problem(INCOMPLETE, f"{generated}/manifest.json", message + (f": {why}" if why else ""),
                             "run every shard of the drift check for this commit and pass all their results "
                             "folders; a stack nobody checked is never reported in sync"))
    return found


def _counted(record: DriftRecord) -> str:
    outside = len(record.drift)
    return (f"{outside} resource{'s' if outside != 1 else ''} changed outside Terraform, "
            f"an apply would change {len(record.changes)}")


def _resources(changes: tuple[Change, ...]) -> str:
    if not changes:
        return "-"
    shown = [f"{code(c.address)} ({cell('/'.join(c.actions))})" for c in changes[:SHOWN_PER_CELL]]
    more = len(changes) - SHOWN_PER_CELL
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def render_markdown(report: DriftReport) -> str:
    """The issue body: counts, one row per drifted stack, the stacks not checked, and what to do."""
    where = f"commit {code(report.commit[:12])}" if report.commit else "no single commit"
    differ = "differs" if len(report.drifted) == 1 else "differ"
    counts = (f"{report.stacks} stacks at {where}: {len(report.drifted)} {differ} from git, {len(report.failed)} "
              f"could not be checked, {len(report.missing)} not checked.")
    lines = ["## paybill drift: infrastructure", "", counts, ""]
    if report.clean:
        return "\n".join([*lines, "Every stack is what git compiled.", ""])
    used = sum(len(line) + 1 for line in lines) + 2_000  # the footer and the section headers
    if report.drifted:
        lines += ["| stack | specs | changed outside Terraform | an apply would |", "| --- | --- | --- | --- |"]
        shown = 0
        for record in report.drifted:
            row = (f"| {code(record.address)} | {', '.join(code(s) for s in record.sources) or '-'} | "
                   f"{_resources(record.drift)} | {_resources(record.changes)} |")
            if used + len(row) > BODY_BUDGET:
                break
            lines.append(row)
            used += len(row) + 1
            shown += 1
        if shown < len(report.drifted):
            lines.append(f"\n... and {len(report.drifted) - shown} more drifted stacks (the shards' drift results "
                         "list them all).")
        lines.append("")
    for title, addresses in (("Could not be checked", [f"{code(r.address)}: {cell(r.error or '')} "
                                                       f"({cell(r.code or '')})" for r in report.failed]),
                             ("Not checked", [code(a) for a in report.missing])):
        if not addresses:
            continue
        lines += [f"**{title}** ({len(addresses)}):", ""]
        for listed, entry in enumerate(addresses):
            if used + len(entry) > BODY_BUDGET:
                lines.append(f"- ... and {len(addresses) - listed} more")
                break
            lines.append(f"- {entry}")
            used += len(entry) + 3
        lines.append("")
    for note in report.notes[:20]:
        lines.append(f"> {cell(note)}")
    lines += ["", "To put a stack back, apply it again from git (a manual run of the apply workflow applies every "
              "stack; those in sync change nothing). If the cloud is right, change the specs in a pull request: "
              "a change made outside git is one the audit trail does not have.", ""]
    return "\n".join(lines)


def render_json(report: DriftReport) -> dict[str, object]:
    def entry(record: DriftRecord) -> dict[str, object]:
        return {"address": record.address, "sources": list(record.sources), "status": record.status,
                "code": record.code, "error": record.error,
                "drift": [{"address": c.address, "actions": list(c.actions)} for c in record.drift],
                "changes": [{"address": c.address, "actions": list(c.actions)} for c in record.changes]}

    return {"clean": report.clean, "commit": report.commit, "stacks": report.stacks,
            "drifted": [entry(r) for r in report.drifted], "failed": [entry(r) for r in report.failed],
            "missing": report.missing, "notes": report.notes}
