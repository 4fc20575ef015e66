"""Read spec files into :class:`SpecDocument` objects, reporting every file-level problem."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from paybill.diagnostics import DiagnosticSink, Position
from paybill.load.discover import discover_spec_files
from paybill.load.document import SpecDocument
from paybill.load.limits import DEFAULT_LIMITS, LoadLimits
from paybill.load.yaml_tree import TreeConverter, TreeProblem, compose_documents, mark_position

_BOM = "\ufeff"


@dataclass(slots=True)
class LoadedRepository:
    """What the load stage hands on: every parsed document and how many files were read."""

    documents: list[SpecDocument]
    files: int


def _decode(raw: bytes, display: str, sink: DiagnosticSink) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        sink.error(
            "PB0103",
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            display,
            Position(line, col),
            "save the file as UTF-8",
        )
        return None
    return text.removeprefix(_BOM)


def _is_tab_at(text: str, line: int, col: int) -> bool:
    lines = text.split("\n", line + 1)
    if line >= len(lines):
        return False
    indent = lines[line][: col + 1]
    return "\t" in indent


def _yaml_error(exc: yaml.YAMLError, display: str, text: str, sink: DiagnosticSink) -> None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    position = Position(mark.line + 1, mark.column + 1) if mark else Position()
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if "maximum nesting depth" in problem:
        sink.error("PB0106", "nesting too deep for the YAML parser", display, position,
                   "flatten the document; no spec field nests this deep")
        return
    if mark and "\t" in text and _is_tab_at(text, mark.line, mark.column):
        sink.error("PB0108", "tab character used for indentation", display, position,
                   "YAML indents with spaces only; replace the tab with spaces")
        return
    message = f"{context}: {problem}" if context else problem
    sink.error("PB0101", f"invalid YAML: {message}", display, position)


def load_source(
    raw: bytes, display: str, sink: DiagnosticSink, limits: LoadLimits = DEFAULT_LIMITS
) -> list[SpecDocument]:
    """Parse one file's bytes. Problems go to ``sink``; documents that parsed are returned."""
    if len(raw) > limits.max_file_bytes:
        sink.error(
            "PB0105",
            f"file is {len(raw)} bytes, over the limit of {limits.max_file_bytes}",
            display,
            Position(),
            "split it into several files; one spec per file is the convention",
        )
        return []
    text = _decode(raw, display, sink)
    if text is None:
        return []
    try:
        nodes = compose_documents(text)
    except yaml.YAMLError as exc:
        _yaml_error(exc, display, text, sink)
        return []
    except RecursionError:
        sink.error("PB0106", "nesting too deep for the YAML parser", display, Position())
        return []
    if len(nodes) > limits.max_documents:
        sink.error("PB0105", f"file holds {len(nodes)} documents, over the limit of "
                   f"{limits.max_documents}", display, Position())
        return []
    digest = hashlib.sha256(raw).hexdigest()
    documents: list[SpecDocument] = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        try:
            data = TreeConverter(limits).convert(node)
        except TreeProblem as problem:
            sink.error(problem.code, problem.message, display, problem.position, problem.hint)
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            sink.error(
                "PB0109",
                f"a spec document must be a mapping, not a {type(data).__name__}",
                display,
                mark_position(node),
                "start the document with 'apiVersion: paybill.dev/v1alpha1' and 'kind: ...'",
            )
            continue
        kind = data.get("kind")
        metadata = data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        documents.append(
            SpecDocument(
                path=display,
                index=index,
                data=data,
                node=node,
                kind=kind if isinstance(kind, str) else "",
                name=name if isinstance(name, str) else "",
                text_hash=digest,
            )
        )
    return documents


def load_repository(root: Path, sink: DiagnosticSink, limits: LoadLimits = DEFAULT_LIMITS) -> LoadedRepository:
    """Load every spec file under ``root``. Never raises for anything a user can put in the tree."""
    files, escaping = discover_spec_files(root)
    for link in escaping:
        sink.error(
            "PB0112",
            f"symlink points outside the specs root (to '{link.target}') and is not read",
            link.display,
            Position(),
            "copy the file into the specs root instead of linking to it",
        )
    documents: list[SpecDocument] = []
    for spec_file in files:
        try:
            raw = spec_file.path.read_bytes()
        except OSError as exc:
            sink.error("PB0114", f"cannot read file: {exc.strerror}", spec_file.display, Position())
            continue
        documents.extend(load_source(raw, spec_file.display, sink, limits))
    return LoadedRepository(documents, len(files))
