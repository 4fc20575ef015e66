"""Property tests: whatever a user does to a spec, paybill answers with diagnostics, never a crash.

Mutations start from the example specs (so most of each document stays plausible and the deep rules
run) and then drop keys, rename keys, put values of the wrong type, random strings in names and random
unicode anywhere; another property edits the raw YAML text. Example counts are modest: the suite runs
on two shared cores.
"""

from __future__ import annotations

import copy
import os
import re
from functools import cache
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.diagnostics.render import render
from paybill.load import load_repository, load_source
from paybill.load.document import SpecDocument
from paybill.validate import validate_documents

from .support import SPECS

CODE = re.compile(r"^PB(?:0\d{3}|10\d{2})$")
"""Validation codes: PB0xxx, and PB10xx for the BillingPolicy and price-id rules."""
SCALE = float(os.environ.get("PAYBILL_HYPOTHESIS_SCALE", "1"))
"""Multiply example counts, e.g. ``PAYBILL_HYPOTHESIS_SCALE=20`` for a long local fuzzing session."""


def examples(count: int) -> settings:
    return settings(max_examples=max(1, int(count * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@cache
def example_files() -> tuple[tuple[str, bytes], ...]:
    """(display path, bytes) of every example spec file."""
    return tuple(
        (f"specs/{path.relative_to(SPECS).as_posix()}", path.read_bytes()) for path in sorted(SPECS.rglob("*.yaml"))
    )


@cache
def example_documents() -> tuple[SpecDocument, ...]:
    sink = DiagnosticSink()
    documents = load_repository(SPECS, sink).documents
    assert len(sink) == 0
    return tuple(documents)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for item in path[:-1]:
        data = data[item]
    return data


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "yes", "no", "on", "0x1F", "1e3", "~", "null", "2024-01-01", "${x}", "a..b", "A/B"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=8,
)
names = st.one_of(st.text(max_size=50), st.from_regex(r"[a-z][a-z0-9-]{0,45}", fullmatch=True))


@st.composite
def mutated_document(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An example document with 1-4 random mutations applied."""
    document = draw(st.sampled_from(example_documents()))
    data = copy.deepcopy(document.data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in _paths(data) if p]
        operation = draw(st.sampled_from(["drop", "rename", "set", "name", "unicode"]))
        if operation == "name":
            metadata = data.get("metadata")
            if isinstance(metadata, dict):
                metadata["name"] = draw(names)
            continue
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        key = path[-1]
        if operation == "drop":
            del parent[key]
        elif operation == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=20))] = parent.pop(key)
        elif operation == "unicode":
            parent[key] = draw(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
        else:
            parent[key] = draw(values)
    return document.path, data


def _check_diagnostics(diagnostics: list[Diagnostic]) -> None:
    for d in diagnostics:
        assert CODE.match(d.code), d
        assert d.position.line >= 1 and d.position.col >= 1, d
        assert d.message and "\n" not in d.message and "\r" not in d.message, d
        assert d.path.startswith("specs/"), d
    for fmt in ("text", "json", "github"):
        render(fmt, diagnostics, 1)


@examples(120)
@given(mutated_document())
def test_mutated_document_never_crashes(case: tuple[str, dict[str, Any]]) -> None:
    path, data = case
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    sink = DiagnosticSink()
    documents = load_source(text.encode("utf-8"), path, sink)
    index = validate_documents(documents, sink)
    _check_diagnostics(sink.sorted())
    if not sink.has_errors and documents:
        document = documents[0]
        assert index.get(document.kind, document.name) is document


@examples(40)
@given(st.lists(mutated_document(), min_size=1, max_size=3))
def test_mutations_inside_the_whole_repository_never_crash(cases: list[tuple[str, dict[str, Any]]]) -> None:
    """Broken documents next to valid ones: every cross-document rule sees the damage."""
    sink = DiagnosticSink()
    replaced = {path for path, _ in cases}
    documents = [d for d in _fresh_examples(sink) if d.path not in replaced]
    for path, data in cases:
        documents += load_source(yaml.safe_dump(data, allow_unicode=True).encode("utf-8"), path, sink)
    validate_documents(documents, sink)
    _check_diagnostics(sink.sorted())


def _fresh_examples(sink: DiagnosticSink) -> list[SpecDocument]:
    """Example documents loaded anew (validation attaches models to documents, so never share them)."""
    documents: list[SpecDocument] = []
    for path, raw in example_files():
        documents += load_source(raw, path, sink)
    return documents


@st.composite
def edited_text(draw: st.DrawFn) -> tuple[str, bytes]:
    """An example file with a few raw text edits: insertions, deletions, duplicated or swapped lines."""
    path, raw = draw(st.sampled_from(example_files()))
    text = raw.decode("utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        operation = draw(st.sampled_from(["insert", "delete", "duplicate-line", "indent", "swap-lines"]))
        lines = text.split("\n")
        line = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        if operation == "insert":
            text = text[:position] + draw(st.text(min_size=1, max_size=8)) + text[position:]
        elif operation == "delete":
            text = text[:position] + text[position + draw(st.integers(min_value=1, max_value=12)):]
        elif operation == "duplicate-line":
            text = "\n".join([*lines[: line + 1], lines[line], *lines[line + 1 :]])
        elif operation == "indent":
            lines[line] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[line]
            text = "\n".join(lines)
        else:
            other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
            text = "\n".join(lines)
    return path, text.encode("utf-8", errors="surrogatepass")


@examples(120)
@given(edited_text())
def test_edited_yaml_text_never_crashes(case: tuple[str, bytes]) -> None:
    path, raw = case
    sink = DiagnosticSink()
    documents = load_source(raw, path, sink)
    validate_documents(documents, sink)
    _check_diagnostics(sink.sorted())


@examples(80)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    sink = DiagnosticSink()
    validate_documents(load_source(raw, "specs/x.yaml", sink), sink)
    _check_diagnostics(sink.sorted())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["yes", "No", "on", "~", "null", "1", "-1", "0x1F", "0o17", "1_000", "1.5", ".inf",
                                 "2026-11-02", "2026-11-02 10:00:00", "=", "plain", "", "acme-corp", "True"])
                | st.text(alphabet="0123456789.-+:eExXoOtTnNyY_ ~", max_size=12), max_size=20))
def test_remembered_scalar_tags_are_those_resolved_afresh(values: list[str]) -> None:
    """The composer's resolver answers from a bounded cache (``yaml_tree._remembered_resolve``): each
    answer, first or remembered, is what :func:`yaml_tree._resolve` computes afresh, for plain and quoted
    scalars and for collections."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from paybill.load import yaml_tree

    resolve = yaml_tree._Composer.resolve
    for _ in range(2):
        for value in values:
            for implicit in ((True, False), (False, True)):
                assert resolve(ScalarNode, value, implicit) == yaml_tree._resolve(ScalarNode, value, implicit)
        assert resolve(MappingNode, None, (True, True)) == yaml_tree._MAP_TAG
        assert resolve(SequenceNode, None, (True, True)) == yaml_tree._SEQ_TAG
    assert resolve.cache_info().hits > 0 and resolve.cache_info().maxsize == yaml_tree.RESOLVE_MEMORY
