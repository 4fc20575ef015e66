"""An output tree whose files may already be on disk: what a large compile keeps of its output.

At 100,000 tenants a compile renders about 1.6 GB of files. Holding them all until the final write
made the output tree the largest thing in memory, so when the compile driver streams its output
(:class:`paybill.write.stream.StreamingWrite`) the emitters that produce most of it write their files
into the scratch tree as soon as they are rendered, through a :class:`ScratchWriter`, and keep only
each file's size and SHA-256 (:class:`Written`). :class:`OutputFiles` is the tree seen by the later
stages (the manifest) and by the caller: a mapping from path to bytes like any other, whose written
files are read back from wherever the writer put them (the scratch tree, then the output folder
after the swap) and checked against their digest. Nothing on the normal paths reads them back:
the manifest and the write journal use the digests.

A compile that does not stream (``plan``, ``propose``, ``compile --check``, tests) never writes
early, and its result holds a plain dict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from paybill.emit.contract import EmitContext


@dataclass(frozen=True, slots=True)
class Written:
    """A file already written into the output's scratch tree: only its size and SHA-256 stay in memory."""

    size: int
    digest: bytes


class ScratchWriter(Protocol):
    """Writes finished files into the tree that the compile's output will become.

    ``write_now`` writes in the calling process and returns what stays in memory of each file; it
    may be called from a forked helper of the compile (the scratch tree exists before any helper
    starts, and helpers write disjoint files). ``where`` is where the written files are now.
    """

    def write_now(self, files: Mapping[str, bytes], digests: Mapping[str, bytes] | None = None) -> dict[str, Written]:
        ...  # pragma: no cover - a protocol

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> Written:
        """Write one file from ``chunks`` as they come (a file too large to hold, the manifest)."""
        ...  # pragma: no cover - a protocol

    def where(self) -> Path:
        ...  # pragma: no cover - a protocol


class WrittenFileChanged(OSError):
    """A file written early is gone or changed on disk before it was read back."""


class OutputFiles(Mapping[str, bytes]):
    """Path -> bytes, where some files are held in memory and others were written early (:class:`Written`).

    Iterates in the order the paths were added until :meth:`sort` is called, like a dict.
    """

    __slots__ = ("_data", "_order", "_where", "_written")

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._written: dict[str, Written] = {}
        self._order: list[str] = []
        self._where: Callable[[], Path] | None = None

    def update_bytes(self, files: Mapping[str, bytes]) -> None:
        for path, data in files.items():
            if path not in self._data and path not in self._written:
                self._order.append(path)
            self._written.pop(path, None)
            self._data[path] = data

    def update_written(self, files: Mapping[str, Written], where: Callable[[], Path]) -> None:
        """Record files written early; ``where`` says where the tree holding them is when they are read."""
        self._where = where
        for path, entry in files.items():
            if path not in self._data and path not in self._written:
                self._order.append(path)
            self._data.pop(path, None)
            self._written[path] = entry

    def sort(self) -> None:
        self._order.sort()

    def written(self, path: str) -> Written | None:
        """What is known of ``path`` when it was written early, else None."""
        return self._written.get(path)

    @property
    def written_paths(self) -> frozenset[str]:
        return frozenset(self._written)

    def size(self, path: str) -> int:
        entry = self._written.get(path)
        return entry.size if entry is not None else len(self._data[path])

    def in_memory(self) -> dict[str, bytes] | None:
        """The tree as a plain dict when no file was written early, else None."""
        if self._written:
            return None
        return {path: self._data[path] for path in self._order}

    def __getitem__(self, path: str) -> bytes:
        data = self._data.get(path)
        if data is not None:
            return data
        entry = self._written[path]  # KeyError for an unknown path, as a dict
        if self._where is None:  # pragma: no cover - update_written always sets it
            raise WrittenFileChanged(f"no tree holds the early-written file {path!r}")
        target = self._where() / path
        with open(target, "rb") as handle:
            data = handle.read()
        if len(data) != entry.size or hashlib.sha256(data).digest() != entry.digest:
            raise WrittenFileChanged(f"'{target}' changed after the compile wrote it")
        return data

    def __contains__(self, path: object) -> bool:
        return path in self._data or path in self._written

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)


WRITE_CHUNK_FILES = 2000
"""Files an emitter holds at most before :class:`ChunkedOutput` writes them (a few MB of bytes)."""


class ChunkedOutput:
    """The files of an emitter that renders one unit at a time (a database folder, a tenant's file).

    When the compile streams its output (``ctx.writer``), the files are written every ``chunk``
    files and only their sizes and digests stay (in ``ctx.written`` and ``ctx.digests``, as the
    pipeline expects of an emitter that writes early); otherwise they are all returned by
    :meth:`finish`. Why: at 100,000 tenants the SQL folders and the entitlement files are hundreds
    of MB, and holding them until the emitter returned made the forked helper that runs those
    emitters the compile's largest process.
    """

    def __init__(self, ctx: EmitContext, chunk: int | None = None) -> None:
        self._ctx = ctx
        self._chunk = chunk if chunk is not None else WRITE_CHUNK_FILES
        self._files: dict[str, bytes] = {}
        self._digests: dict[str, bytes] = {}

    def add(self, path: str, data: bytes, digest: bytes | None = None) -> None:
        """Add one file; ``digest``: the SHA-256 of ``data`` when the emitter already computed it
        (then the writer and the manifest do not hash the bytes again)."""
        self._files[path] = data
        if digest is not None:
            self._digests[path] = digest
        if self._ctx.writer is not None and len(self._files) >= self._chunk:
            self._flush()

    def _flush(self) -> None:
        writer = self._ctx.writer
        if writer is None or not self._files:
            return
        written = writer.write_now(self._files, self._digests)
        self._ctx.written.update(written)
        self._ctx.digests.update((path, entry.digest) for path, entry in written.items())
        self._files = {}
        self._digests = {}

    def finish(self) -> dict[str, bytes]:
        """Write what is left when streaming; returns the files kept in memory (all of them when not)."""
        self._flush()
        files, self._files = self._files, {}
        self._ctx.digests.update(self._digests)  # the files kept in memory whose digest is known
        self._digests = {}
        return files


def tree_size(tree: Mapping[str, bytes]) -> int:
    """Total bytes of ``tree``, without reading early-written files back."""
    if isinstance(tree, OutputFiles):
        return sum(tree.size(path) for path in tree)
    return sum(len(data) for data in tree.values())
