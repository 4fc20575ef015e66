"""Read spec files into :class:`SpecDocument` objects, reporting every file-level problem."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from paybill.diagnostics import Diagnostic, DiagnosticSink, Position
from paybill.forked import Parallelism
from paybill.load.cache import KnownStats, LoadCache, file_stat
from paybill.load.discover import SpecFile, discover_spec_files
from paybill.load.document import FileText, SourceText, SpecDocument, git_blob_id
from paybill.load.limits import DEFAULT_LIMITS, LoadLimits
from paybill.load.yaml_tree import TreeConverter, TreeProblem, compose_documents, mark_position

_BOM = "\ufeff"


@dataclass(slots=True)
class LoadedRepository:
    """What the load stage hands on: every parsed document and how many files were read."""

    documents: list[SpecDocument]
    files: int
    unloadable: set[tuple[str, str]] = field(default_factory=set)
    """(kind, name) recovered from files that failed to load, so references to them are not
    reported as unknown on top of the load error (the root cause)."""
    cache: LoadCache | None = None

    def save_cache(self) -> None:
        """Save what the load cache learnt (see ``load_repository(save=False)``)."""
        if self.cache is not None:
            self.cache.save()


def _decode(raw: bytes, display: str, sink: DiagnosticSink) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        # Columns count characters, like every other diagnostic: decode the valid part of the line.
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace").removeprefix(_BOM)) + 1
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


def _offset_position(text: str, byte_offset: int) -> Position:
    """Line and column of a UTF-8 byte offset (libyaml's reader reports offsets in bytes)."""
    before = text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore")
    return Position(before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)


def _yaml_error(exc: yaml.YAMLError, display: str, text: str, sink: DiagnosticSink) -> None:
    if isinstance(exc, yaml.reader.ReaderError):
        # Raised for characters YAML forbids (NUL, BEL, ...); str(exc) would name "<unicode string>".
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        sink.error("PB0101", f"invalid YAML: {exc.reason} (U+{character:04X})", display,
                   _offset_position(text, exc.position), "remove the character; specs are plain text")
        return
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
    message = problem
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        # The problem is found where parsing failed; the construct left open is usually the mistake.
        message += f" ({context} that starts at line {context_mark.line + 1}, column {context_mark.column + 1})"
    elif context:
        message += f" ({context})"
    sink.error("PB0101", f"invalid YAML: {message}", display, position)


def load_source(
    raw: bytes, display: str, sink: DiagnosticSink, limits: LoadLimits = DEFAULT_LIMITS
) -> list[SpecDocument]:
    """Parse one file's bytes. Problems go to ``sink``; documents that parsed are returned."""
    if len(raw) > limits.max_file_bytes:
        # readers stop one byte past the limit (the work tree side of a plan): then the size is unknown
        _too_big(len(raw) if len(raw) > limits.max_file_bytes + 1 else None, display, sink, limits)
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
                   f"{limits.max_documents}", display, Position(),
                   "split it into several files; one spec per file is the convention")
        return []
    digest = hashlib.sha256(raw).hexdigest()
    blob_id = git_blob_id(raw)
    source = SourceText(text)
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
                node=None,  # not kept: composed again from ``source`` if a position is ever needed
                kind=kind if isinstance(kind, str) else "",
                name=name if isinstance(name, str) else "",
                text_hash=digest,
                source=source,
                blob_id=blob_id,
            )
        )
    return documents


def _read_file(spec_file: SpecFile, sink: DiagnosticSink, limits: LoadLimits) -> bytes | None:
    """The file's bytes, or None after reporting why not.

    Only regular files are read (a FIFO named ``x.yaml`` would block forever, a device would never
    end), and never more than one byte past the size limit, so a huge file costs no memory.
    """
    if spec_file.problem is not None:
        sink.error("PB0114", f"cannot read file: {spec_file.problem}", spec_file.display, Position(),
                   "rename the file: spec file names must be UTF-8")
        return None
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer before fstat runs.
        descriptor = os.open(spec_file.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                sink.error("PB0114", "cannot read file: not a regular file", spec_file.display, Position(),
                           "spec files must be plain files (not pipes, sockets or devices)")
                return None
            if info.st_size > limits.max_file_bytes:
                _too_big(info.st_size, spec_file.display, sink, limits)
                return None
            return _read_upto(descriptor, info.st_size, limits.max_file_bytes + 1)
        finally:
            os.close(descriptor)
    except OSError as exc:
        sink.error("PB0114", f"cannot read file: {exc.strerror or exc}", spec_file.display, Position())
        return None


def _read_upto(descriptor: int, size: int, limit: int) -> bytes:
    """At most ``limit`` bytes of the open file, to its end (``size``: what fstat said, the first read's size).

    Plain ``os.read`` calls, not a buffered file object: that costs three more system calls per
    file (``fstat``, ``ioctl``, ``lseek``) and 100,000 tenants are 100,000 files. A file that grew
    since its fstat is read on, up to ``limit`` (then the size check reports it).
    """
    chunks: list[bytes] = []
    read = 0
    want = min(size + 1, limit)  # one byte more than fstat said: a short read then means the end
    while read < limit:
        chunk = os.read(descriptor, max(1, min(want, limit - read)))
        if not chunk:
            break
        chunks.append(chunk)
        read += len(chunk)
        if len(chunk) < want and read == size:
            break  # the whole file as fstat saw it, in one read that came back short: at its end
        want = 1 << 16
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_big(size: int | None, display: str, sink: DiagnosticSink, limits: LoadLimits) -> None:
    """``size``: None when only the first bytes past the limit were read."""
    sink.error(
        "PB0105",
        f"file is {size} bytes, over the limit of {limits.max_file_bytes}" if size is not None
        else f"file is over the limit of {limits.max_file_bytes} bytes",
        display,
        Position(),
        "split it into several files; one spec per file is the convention",
    )


def report_no_spec_files(root: Path, loaded: LoadedRepository, sink: DiagnosticSink) -> None:
    """PB0115 when ``root`` held no spec file and nothing else was reported: an empty or mistyped
    specs folder must not pass as a repository with nothing in it (validate and compile alike)."""
    if loaded.files == 0 and not len(sink):
        sink.error("PB0115", f"no spec files (*.yaml, *.yml) found under '{root.as_posix()}'",
                   root.name or ".", Position(), "point paybill at your specs folder")


def load_repository(root: Path, sink: DiagnosticSink, limits: LoadLimits = DEFAULT_LIMITS,
                    cache: Path | None = None, save: bool = True,
                    parallelism: Parallelism | None = None, known: KnownStats | None = None) -> LoadedRepository:
    """Load every spec file under ``root``. Never raises for anything a user can put in the tree.

    With a ``cache`` folder, files unchanged since an earlier load come from it unparsed
    (:mod:`paybill.load.cache`); only the others are read. Many files to parse are loaded by two
    processes, each reading and composing half of them (see :mod:`paybill.forked`); every document
    is put back in file order, so the result is the same either way. ``save=False`` leaves saving
    the cache to the caller (``loaded.save_cache()``), so a compile that fails writes nothing.
    ``parallelism``: the compile's setting (default: from the environment). ``known``: the spec
    files' stats as the caller took them just before (:class:`~paybill.load.cache.KnownStats`), used
    by the cache instead of a second ``stat`` of each file.
    """
    files, escaping = discover_spec_files(root)
    for link in escaping:
        sink.error(
            "PB0112",
            f"symlink points outside the specs root (to '{link.target}') and is not read",
            link.display,
            Position(),
            "copy the file into the specs root instead of linking to it",
        )
    loaded = LoadedRepository([], len(files))
    memo = LoadCache(cache, root, known.taken_ns if known is not None else None) if cache is not None else None
    cached: dict[str, list[SpecDocument]] = {}
    stats: dict[str, tuple[int, int, int] | None] = {}
    todo = files
    if memo is not None:
        todo = []
        seen = known.files if known is not None else {}
        for spec_file in files:
            stat = seen.get(spec_file.display)
            stats[spec_file.display] = stat = stat if stat is not None else file_stat(spec_file.path)
            found = memo.lookup(spec_file, stat)
            if found is None:
                todo.append(spec_file)
            else:
                cached[spec_file.display] = found
    reported = len(sink)
    parallelism = parallelism if parallelism is not None else Parallelism.from_env()
    _, theirs = parallelism.split_in_two(todo, lambda part: _load_files(part, sink, limits, loaded),
                                         lambda part: _load_files_apart(part, limits), _helper_share)
    if theirs is not None:
        documents, diagnostics, unloadable = theirs
        loaded.documents.extend(documents)
        loaded.unloadable |= unloadable
        sink.extend(diagnostics)
    if memo is not None:
        _remember(memo, todo, stats, loaded.documents, {d.path for d in sink.items()[reported:]})
        loaded.cache = memo
        if save:
            memo.save()
    if cached:
        for documents in cached.values():
            loaded.documents.extend(documents)
        order = {spec_file.display: i for i, spec_file in enumerate(files)}
        loaded.documents.sort(key=lambda d: (order.get(d.path, -1), d.index))
    return loaded


def _remember(memo: LoadCache, parsed: list[SpecFile], stats: dict[str, tuple[int, int, int] | None],
              documents: list[SpecDocument], troubled: set[str]) -> None:
    """Record each freshly parsed file that loaded without a diagnostic."""
    by_file: dict[str, list[SpecDocument]] = {}
    for document in documents:
        by_file.setdefault(document.path, []).append(document)
    for spec_file in parsed:
        if spec_file.display not in troubled:
            memo.record(spec_file, stats.get(spec_file.display), by_file.get(spec_file.display, []))


def _load_files(files: list[SpecFile], sink: DiagnosticSink, limits: LoadLimits, loaded: LoadedRepository) -> None:
    for spec_file in files:
        raw = _read_file(spec_file, sink, limits)
        if raw is None:
            continue
        reported = len(sink)
        documents = load_source(raw, spec_file.display, sink, limits)
        if documents:
            # Not the text: a position is rarely asked for, and then the file is read again (and
            # trusted only if its bytes still hash the same). 100,000 texts would stay in memory.
            source = FileText(str(spec_file.path), documents[0].text_hash)
            for document in documents:
                document.source = source
        loaded.documents.extend(documents)
        if len(sink) > reported:
            parsed = {(d.kind, d.name) for d in documents}
            loaded.unloadable |= guess_identities(raw) - parsed


def _helper_share(files: list[SpecFile]) -> int:
    """Where the helper's part of the files starts: it gets 45 %, since its documents are then pickled
    (~1.1 s at 100,000 tenants) and unpickled here (~2 s) after both halves are parsed (~7.5 s each at
    an even split, measured): at 55/45 this process finishes parsing as the helper's answer arrives."""
    return len(files) * 11 // 20


def _load_files_apart(
    files: list[SpecFile], limits: LoadLimits
) -> tuple[list[SpecDocument], list[Diagnostic], set[tuple[str, str]]]:
    """:func:`_load_files` in a helper process: everything it found, to be pickled back."""
    sink = DiagnosticSink()
    loaded = LoadedRepository([], len(files))
    _load_files(files, sink, limits, loaded)
    return loaded.documents, sink.items(), loaded.unloadable


_KIND_LINE = re.compile(rb"^kind:[ \t]*[\"']?([A-Za-z]+)", re.MULTILINE)
_NAME_LINE = re.compile(rb"^[ \t]+name:[ \t]*[\"']?([a-z][a-z0-9-]*)", re.MULTILINE)


def guess_identities(raw: bytes) -> set[tuple[str, str]]:
    """Best-effort (kind, name) of each document in a file that did not load.

    Only used to silence follow-on "unknown reference" errors: a Plan with a duplicate key should
    produce one error, not one more per tenant on that plan. It reads the conventional layout
    (top-level ``kind:``, then the first indented ``name:``); a wrong guess can only hide a
    reference error in the same run as a load error that must be fixed first anyway.
    """
    found: set[tuple[str, str]] = set()
    for chunk in re.split(rb"^---", raw, flags=re.MULTILINE):
        kind = _KIND_LINE.search(chunk)
        name = _NAME_LINE.search(chunk)
        if kind and name:
            found.add((kind.group(1).decode("ascii"), name.group(1).decode("ascii")))
    return found
