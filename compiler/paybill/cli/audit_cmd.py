"""``paybill audit``: the history of the specs as an audit trail, from git."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill.audit import AuditFilter, audit_history
from paybill.audit.render import FORMATS, render_jsonl, render_text
from paybill.cli.common import specs_argument
from paybill.cli.plan_cmd import git_usage_error
from paybill.gitio.repo import GitError, GitRepo
from paybill.models.registry import KINDS
from paybill.plan.sides import locate_specs


@click.command("audit")
@specs_argument
@click.option("--since", metavar="DATE", help="Only commits after DATE (any date git understands).")
@click.option("--until", metavar="DATE", help="Only commits before DATE.")
@click.option("--tenant", metavar="NAME", help="Tell one tenant's life: onboarding, plan changes, moves...")
@click.option("--kind", type=click.Choice(list(KINDS)), help="Only changes to specs of this kind.")
@click.option("--author", metavar="PATTERN", help="Only commits whose author matches (git log --author).")
@click.option("--agent", metavar="AGENT", help="Only commits carrying 'Paybill-Agent: AGENT'.")
@click.option("--rev", default="HEAD", show_default=True, help="Walk the history reachable from this revision.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def audit_command(specs: Path, since: str | None, until: str | None, tenant: str | None, kind: str | None,
                  author: str | None, agent: str | None, rev: str, fmt: str) -> None:
    """Walk the git history of SPECS: one record per commit with sha, author, committer, date,
    trailers (Paybill-Agent, Approved-by) and the semantic changes, oldest first.
    Lifecycle transitions that plan would have blocked are listed as violations."""
    try:
        repo = GitRepo(specs if specs.exists() else Path.cwd())
        where = locate_specs(repo, specs)
        if not repo.has_commits():
            raise GitError("the repository has no commits yet")
        repo.resolve(rev)
        wanted = AuditFilter(since, until, author, tenant, kind, agent)
        records = audit_history(repo, where, wanted, rev=rev)
        chunks = render_jsonl(records) if fmt == "jsonl" else render_text(records, tenant=tenant)
        for chunk in chunks:
            sys.stdout.write(chunk)
    except GitError as error:
        raise git_usage_error(error) from None
