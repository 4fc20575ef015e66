"""Text from a repository, made safe to print: every character Python does not call printable, escaped.

Commit messages, author names, trailer values and spec values reach the terminal and CI logs through
``paybill audit`` and ``paybill plan``, and agents write them. An escape sequence there (``ESC [2J``
clears the screen, ``ESC ]8`` makes a link, a carriage return overwrites what the line said, U+202E
reverses what follows) would let a commit show another author, agent or value than it has: the audit
trail and the plan are what reviewers trust. Escaped, the text reads as it is stored.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` with each character that ``str.isprintable()`` refuses written as a Python escape (``\\x1b``,
    ``\\r``, ``\\u202e``, ``\\t``); printable text comes back unchanged (the same object)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(char, f"\\x{code:02x}")
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
