"""``docs/errors.md`` documents every diagnostic code the compiler can emit, accurately.

Codes are collected from the source (every ``"PB0xxx"`` literal under ``compiler/paybill``), so a
code added anywhere, in any range, fails this test until it has its section. For the codes with
fixtures (PB01xx-PB05xx), every example diagnostic quoted in the document must be exactly what the
fixture produces, so the document cannot drift from the compiler.
"""

from __future__ import annotations

import re
from collections import defaultdict

from .support import ROOT
from .test_diagnostic_codes import CASES, codes_in_source

DOC = ROOT / "docs" / "errors.md"
ANY_CODE = re.compile(r"\"(PB\d{4})\"")
HEADING = re.compile(r"^### (PB\d{4}): \S", re.MULTILINE)
DIAGNOSTIC_LINE = re.compile(r"^\S+:\d+:\d+: (?:error|warning)\[(PB\d{4})\]: .+$")


def sections() -> dict[str, str]:
    """Code -> the text of its section (up to the next heading)."""
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    matches = list(re.finditer(r"^#{2,3} .*$", text, flags=re.MULTILINE))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        heading = HEADING.match(match.group())
        if heading:
            found[heading.group(1)] = text[match.end(): following.start() if following else len(text)]
    return found


def test_every_code_in_the_source_is_documented() -> None:
    codes = codes_in_source(ANY_CODE)
    missing = sorted(codes - set(sections()))
    by_range: dict[str, list[str]] = defaultdict(list)
    for code in missing:
        by_range[code[:4] + "xx"].append(code)
    assert not missing, f"add a '### CODE: title' section to docs/errors.md for: {dict(by_range)}"


def test_no_section_for_a_code_that_does_not_exist() -> None:
    assert sorted(set(sections()) - codes_in_source(ANY_CODE)) == []


def test_headings_are_unique_and_in_order() -> None:
    headings = HEADING.findall(DOC.read_text(encoding="utf-8"))
    assert headings == sorted(set(headings))


def test_every_section_shows_a_failing_example_and_the_fix() -> None:
    for code, body in sections().items():
        lines = [line for line in body.splitlines() if DIAGNOSTIC_LINE.match(line)]
        assert lines, f"{code}: no example diagnostic line"
        assert all(DIAGNOSTIC_LINE.match(line).group(1) == code for line in lines), code
        assert "Fix:" in body, f"{code}: no 'Fix:' paragraph"


def _rendered_cases() -> set[str]:
    lines = set()
    for case in CASES:
        for e in case.expected:
            lines.add(f"{e.path}:{e.line}:{e.col}: {e.severity}[{e.code}]: {e.message}")
            if e.hint:
                lines.add(f"  hint: {e.hint}")
    return lines


def test_documented_examples_are_what_the_fixtures_produce() -> None:
    """Each quoted diagnostic (and hint) of a code with fixtures is one a fixture really produces."""
    produced = _rendered_cases()
    fixture_codes = {case.code for case in CASES}
    for code, body in sections().items():
        if code not in fixture_codes:
            continue
        for line in body.splitlines():
            if DIAGNOSTIC_LINE.match(line) or line.startswith("  hint: "):
                assert line in produced, f"{code}: documented line differs from the fixture output:\n{line}"
