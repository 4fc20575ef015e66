"""Markdown that shows values as text: the plan comment CI posts and the bodies of proposed pull requests.

What these show comes from a pull request (a display name, a key, a file name, an agent's commit
message), and agents open pull requests: nothing in a value may open HTML, emphasis, a link or an
image, or close the code span or block it is shown in. ``tests/review/test_plan_markdown_hostile.py``
parses the output with a CommonMark parser to prove it.
"""

from __future__ import annotations

import re

__all__ = ["cell", "code", "fenced"]


def code(text: object) -> str:
    """Inline code that survives any backticks and table pipes.

    The values shown this way come from the pull request (a display name, a key, a file name), and
    an agent may write them: CommonMark closes a code span at the first run of backticks as long
    as its fence, so the fence is one backtick longer than the longest run in the value. A
    ``` `` ``` fence once let ``Acme `` **APPROVED** <!-- `` `` out of its span: bold text, and an
    HTML comment hiding the rest of the comment (the findings that block the change).
    """
    value = str(text).replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    longest = max(map(len, _BACKTICKS.findall(value)), default=0)
    if not longest:
        return f"`{value}`"
    fence = "`" * (longest + 1)
    return f"{fence} {value} {fence}"  # CommonMark strips one space each side: a value may start with a backtick


def cell(text: object) -> str:
    """Prose for a table cell or list item (a message, a hint, a reason): no HTML, no markdown.

    Messages quote what the specs say, so ``<`` and ``&`` are escaped as HTML (no tag, comment or
    entity can open; ``>`` closes nothing then, and ``->`` stays readable) and markdown's inline
    punctuation is backslash-escaped (no emphasis, link, image or code span); a line break becomes
    ``<br>``, the only markup a table cell allows.
    """
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").translate(_MARKDOWN_INLINE)
    escaped = _EDGE_UNDERSCORE.sub(r"\\_", escaped)
    return escaped.replace("\r\n", "<br>").replace("\n", "<br>").replace("\r", "<br>")


_BACKTICKS = re.compile("`+")
_MARKDOWN_INLINE = str.maketrans({c: "\\" + c for c in "\\`*[|~"})
"""Backslash-escaped in :func:`cell` (CommonMark lets any ASCII punctuation be escaped): what opens a
code span, emphasis, a link or image, a table column, strike-through."""
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
"""An ``_`` that could open or close emphasis: one not between two ASCII letters or digits. Those
inside a word (``paybill_agent_x``, most names paybill shows) emphasise nothing and stay readable."""


def fenced(lines: list[str], info: str = "text") -> list[str]:
    """``lines`` as a fenced code block whose fence no line can close: one backtick longer than the
    longest run of backticks in them (at least three), as CommonMark requires of a closing fence."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]
