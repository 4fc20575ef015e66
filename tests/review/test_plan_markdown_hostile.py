"""Values a pull request writes stay text in the plan comment CI posts on it.

The comment is what reviewers trust ("✅ no blocking problems", the findings), and an agent opens
pull requests: a display name such as ``Acme `` **APPROVED BY SECURITY** <!-- `` once closed its
code span early, rendered bold text and opened an HTML comment that hid the rest of the comment
from the reviewer. The comment is parsed here with a CommonMark parser (markdown-it-py, GitHub's
dialect: tables, strike-through, raw HTML allowed) to check what it renders, not how it looks.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from paybill.changes.markdown_text import cell, code, fenced

PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
ACME = "specs/tenants/acme-corp.yaml"
PAYLOAD = "Acme `` **APPROVED BY SECURITY** <!-- [ok](https://evil.example) ``"


def _inline(markdown: str) -> list:
    return [child for token in PARSER.parse(markdown) if token.type == "inline" for child in token.children or []]


MARKUP = "*_`[]()<>!&|~\\#-=:/;@ aZ9é\t"
"""What markdown and HTML are made of, so that most examples are made of it too."""


def _texts(exclude: str, min_size: int = 0) -> st.SearchStrategy[str]:
    anything = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00" + exclude)
    markup = st.sampled_from([c for c in MARKUP + "\n" if c not in exclude])
    return st.text(st.one_of(markup, anything), min_size=min_size, max_size=40)


_NO_PIPES = _texts("|", min_size=1)


@settings(max_examples=300, deadline=None)
@given(value=_NO_PIPES)
@example(value=PAYLOAD)
@example(value="``")
@example(value="x\r<!-- hidden")
def test_code_is_one_code_span_holding_the_value(value: str) -> None:
    tokens = _inline(f"before {code(value)} after")
    spans = [t for t in tokens if t.type == "code_inline"]
    assert [t.type for t in tokens] == ["text", "code_inline", "text"], tokens
    value = value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")  # a line ending may not end the row
    stripped = value[1:-1] if len(value) > 1 and value[0] == value[-1] == " " and value.strip() else value
    assert spans[0].content in (value, stripped)


@settings(max_examples=300, deadline=None)
@given(value=_texts("\r"))
@example(value=PAYLOAD)
def test_cell_is_plain_text_in_a_table(value: str) -> None:
    tokens = _inline(f"| a | b |\n| --- | --- |\n| x | {cell(value)} |\n")
    row = tokens[3:]  # the header's two cells and the first cell of the row come first
    assert {t.type for t in row} <= {"text", "html_inline"}, row
    assert all(t.content == "<br>" for t in row if t.type == "html_inline")
    text = "".join(t.content if t.type == "text" else "\n" for t in row)
    assert text.strip() == value.strip().replace("\n", "\n") or text.strip() == re.sub(r"[ \t]*\n[ \t]*", "\n",
                                                                                         value).strip()


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_texts("\r\n"), max_size=5))
@example(lines=["hint: `x`", "```", "**not code**"])
def test_a_fenced_block_holds_every_line_whatever_backticks_they_hold(lines: list[str]) -> None:
    blocks = [t for t in PARSER.parse("\n".join([*fenced(lines), "after"])) if t.type == "fence"]
    assert len(blocks) == 1
    assert blocks[0].content == "".join(line + "\n" for line in lines)


def test_a_hostile_display_name_stays_inside_its_code_span_in_the_plan_comment(repo, run) -> None:
    repo.edit(ACME, "displayName: Acme Corp", f"displayName: '{PAYLOAD}'")
    repo.commit("acme: a display name that tries to break out of the comment")
    code_, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--no-terraform",
                        "--format", "markdown")
    assert code_ == 0
    rendered = PARSER.render(out)
    assert "<strong>APPROVED" not in rendered and 'href="https://evil.example"' not in rendered
    assert rendered.count("<!--") == 1  # the marker the workflow finds its comment by, and nothing else
    assert "**APPROVED BY SECURITY** &lt;!-- [ok](https://evil.example)" in rendered  # shown, as code
    assert rendered.rstrip().endswith("</details>")  # nothing after the value was swallowed


def test_an_agents_commit_message_is_text_in_its_pull_request_body(repo, run) -> None:
    """The agent writes the message; its first line heads the body paybill prints for the pull request,
    above the plan: it may not restyle itself into a status line or open HTML there."""
    message = "Upgrade vandelay ✅ **no blocking problems** <img src=https://evil.example/p.png> [ok](https://e.x)"
    code_, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent", "--set",
                          "Tenant/vandelay:spec.plan=starter", "-m", message, "--no-terraform")
    assert code_ == 0, out + err
    head = PARSER.render(out.split("<!-- paybill-plan -->", 1)[0])
    assert "<strong>no blocking" not in head and "<img" not in head and "<a href" not in head
    assert "**no blocking problems** &lt;img src=https://evil.example/p.png&gt; [ok](https://e.x)" in head
