"""``paybill audit``: the history of the specs as an audit trail, from git."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import click

from paybill.audit import AuditFilter, AuditRecord, audit_history
from paybill.audit.render import FORMATS, render_jsonl, render_text
from paybill.audit.tenants import unknown_tenant
from paybill.changes.sides import locate_specs
from paybill.cli.common import EXIT_DIAGNOSTICS, specs_argument
from paybill.cli.plan_cmd import git_usage_error
from paybill.gitio.repo import GitError, GitRepo
from paybill.gitio.snapshot import SpecsLocation
from paybill.models.registry import KINDS


@click.command("audit")
@specs_argument
@click.option("--since", metavar="DATE",
              help="Only commits after DATE, as git log reads it: 2026-01-31, '2026-01-31 09:00', '2 weeks ago', "
                   "yesterday, 3.days.ago, @UNIX-SECONDS. Text git cannot read as a date is a usage error "
                   "(git itself would read it as 'now').")
@click.option("--until", metavar="DATE", help="Only commits before DATE (the same forms as --since).")
@click.option("--tenant", metavar="NAME", help="Tell one tenant's life: onboarding, plan changes, moves...")
@click.option("--kind", type=click.Choice(list(KINDS)), help="Only changes to specs of this kind.")
@click.option("--author", metavar="PATTERN", help="Only commits whose author matches (git log --author).")
@click.option("--agent", metavar="AGENT", help="Only commits carrying 'Paybill-Agent: AGENT'.")
@click.option("--rev", default="HEAD", show_default=True, help="Walk the history reachable from this revision.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def audit_command(specs: Path, since: str | None, until: str | None, tenant: str | None, kind: str | None,
                  author: str | None, agent: str | None, rev: str, fmt: str) -> None:
    """Walk the git history of SPECS: one record per commit with sha, author, committer, date,
    trailers (Paybill-Agent, Approved-by) and the semantic changes, oldest first. A merge commit is
    listed only for what it changed itself, that none of its parents had. Lifecycle transitions
    that plan would have blocked are listed as violations. SPECS is the specs folder inside the git
    repository (default: ./specs)."""
    try:
        repo = GitRepo(specs if specs.exists() else Path.cwd())
        where = locate_specs(repo, specs)
        if not repo.has_commits():
            raise GitError("the repository has no commits yet")
        repo.resolve(rev)
        _check_dates(repo, since=since, until=until)
        wanted = AuditFilter(since, until, author, tenant, kind, agent)
        seen: set[str] = set()
        records: Iterator[AuditRecord] = audit_history(repo, where, wanted, rev=rev, tenants_seen=seen)
        if tenant:
            first = next(records, None)
            if first is None:
                _exit_if_unknown(repo, where, wanted, rev, seen)
            else:
                records = chain([first], records)
        chunks = render_jsonl(records) if fmt == "jsonl" else render_text(records, tenant=tenant)
        stdout = sys.stdout  # None when started with standard output closed (``>&-``): walked, not printed
        for chunk in chunks:
            if stdout is not None:
                stdout.write(chunk)
    except GitError as error:
        raise git_usage_error(error) from None


def _check_dates(repo: GitRepo, **dates: str | None) -> None:
    """Refuse a ``--since``/``--until`` git cannot read as a date: git would take it as "now" and the audit
    would print an empty window with exit 0, which reads as "nothing happened" (a wrong answer)."""
    for option, text in dates.items():
        if text is not None and repo.date_seconds(text) is None:
            raise GitError(f"--{option}: '{text}' is not a date git understands",
                           "give an ISO date like 2026-01-31 or '2026-01-31 09:00', a relative one like "
                           "'2 weeks ago', yesterday or 3.days.ago, or @UNIX-SECONDS")


def _exit_if_unknown(repo: GitRepo, where: SpecsLocation, wanted: AuditFilter, rev: str, seen: set[str]) -> None:
    """No record for ``--tenant``: exit 1 with a did-you-mean when no commit ever touched that name.

    Without other filters the walk just made saw every commit; with them (``--since``, ``--agent``...)
    a tenant may only be outside the window, so the whole history is walked for names.
    """
    assert wanted.tenant is not None
    if any((wanted.since, wanted.until, wanted.author, wanted.kind, wanted.agent)):
        seen = set()
        for _ in audit_history(repo, where, AuditFilter(tenant=wanted.tenant), rev=rev, tenants_seen=seen):
            pass
    diagnostic = unknown_tenant(wanted.tenant, seen, where.display_base, rev)
    if diagnostic is not None:
        d = diagnostic
        click.echo(f"{d.path}:{d.position.line}:{d.position.col}: {d.severity.value}[{d.code}]: {d.message}\n"
                   f"  hint: {d.hint}", err=True)  # click writes nothing to a closed standard error (``2>&-``)
        sys.exit(EXIT_DIAGNOSTICS)
