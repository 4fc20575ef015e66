"""What a commit or a spec holds reaches the terminal escaped, never as control characters.

An agent writes its commits and the specs it proposes. `paybill audit` printed commit authors,
subjects and trailers as they were, and `paybill plan` printed spec values the same way: an escape
sequence cleared the screen, coloured or linked text, a carriage return overwrote the start of the
line (an agent's commit could show another author or agent in the audit trail). Run with colour on,
as on a terminal (click strips styles only when it is not one).
"""

from __future__ import annotations

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from paybill.changes.model import format_value
from paybill.cli.main import cli
from paybill.diagnostics.text import printable

ACME = "specs/tenants/acme-corp.yaml"
HOSTILE = "\x1b[2J\x1b[31mFAKE\r\x07\u202e\x9b1m"


def _invoke(repo, *args: str) -> str:
    import os

    os.chdir(repo.root)
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, color=True)
    return result.stdout


def _visible(output: str) -> bool:
    return all(line.isprintable() for line in output.split("\n"))


def test_audit_shows_a_commits_author_subject_and_trailers_escaped(repo) -> None:
    repo.edit(ACME, "displayName: Acme Corp", "displayName: Acme Corp Two")
    repo.commit(f"rename {HOSTILE}\n\nbody\n\nPaybill-Agent: billing-agent\x1b[2J\x07\u202e",
                author=(f"Mallory{HOSTILE}", "mallory@example.com"))
    out = _invoke(repo, "audit", "specs")
    assert _visible(out), repr(out)
    assert ("Mallory\\x1b[2J\\x1b[31mFAKE\\r\\x07\\u202e\\x9b1m <mallory@example.com> "
            "as agent billing-agent\\x1b[2J") in out
    assert "    rename \\x1b[2J" in out and "    Paybill-Agent: billing-agent\\x1b[2J" in out
    story = _invoke(repo, "audit", "specs", "--tenant", "acme-corp")
    assert _visible(story) and "Mallory\\x1b[2J" in story


def test_plan_shows_a_spec_value_escaped(repo) -> None:
    repo.edit(ACME, "displayName: Acme Corp", 'displayName: "Acme \\e[2J\\r\\x07\\u202e"')
    out = _invoke(repo, "plan", "specs", "--base", "HEAD", "--no-terraform")
    lines = [line for line in out.split("\n") if line.startswith("      spec.displayName:")]
    assert lines == ['      spec.displayName: Acme Corp -> "Acme \\u001b[2J\\r\\u0007\\u202e"  (line 8)'], out
    assert all(line.replace("\x1b[", "").isprintable() for line in out.split("\n"))  # its own colours only


@given(st.text())
def test_printable_text_is_escaped_or_unchanged(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    if text.isprintable():
        assert shown is text
    assert format_value(text, limit=10_000).isprintable()
