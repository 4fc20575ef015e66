"""Start writing a compile's output while its later stages still run, and swap it in at the end.

On 10,000 tenants a compile writes about 24,000 files. Creating files is mostly kernel time that a
second core can spend while the first keeps emitting: each large part an emitter hands over (all the
Terraform stacks, all the entitlement files) is written by a forked child into the scratch tree
(:mod:`paybill.forked`), from the memory it inherited, so nothing is copied or pickled.

The atomic-write guarantees of :func:`paybill.write.tree.write_tree` are unchanged: everything goes
into a scratch folder beside ``out`` and only :meth:`StreamingWrite.commit`, after every child has
finished without error, swaps it in. A compile that fails, or a caller that leaves the ``with`` block
without committing, discards the scratch folder; a killed compile's children die with it, and the
next write's :func:`~paybill.write.tree.recover` removes what they left.

The emitters that render most of the output can also write it themselves, as it is rendered, in
this process or in their forked helpers (:meth:`StreamingWrite.early`, :mod:`paybill.emit.files`):
then only each file's size and digest stays in memory, which is what bounds a 100,000-tenant
compile's memory.

Writing early is only an optimisation: if the output folder cannot be prepared (not ours to
replace, not writable), nothing is started and :meth:`commit` reports the problem exactly as
``write_tree`` would, after the compile's own diagnostics.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType

from paybill.emit.files import OutputFiles, ScratchWriter, Written
from paybill.forked import ForkedCall, Parallelism, parent_alive
from paybill.write.swap import has_syncfs
from paybill.write.tree import (
    UnsafeOutput,
    _fill,
    _make_folder,
    _validate_paths,
    discard,
    fill_scratch,
    prepare_scratch,
    swap_in,
    write_tree,
)


def _write_part(scratch: Path, part: Mapping[str, bytes], parent: int) -> int:
    """In a child: write ``part`` into ``scratch``, stopping if the compile that forked us died."""
    _fill(scratch, part, None, durable_each=False, keep_going=lambda: parent_alive(parent))
    return len(part)


class StreamingWrite:
    """Write parts of an output tree as they are produced, then swap the whole tree in atomically.

    Use as a context manager::

        with StreamingWrite(out) as writer:
            result = compile_repository(specs, on_files=writer.add)
            if result.ok:
                writer.commit(result.tree)

    ``commit`` takes the complete tree: files handed to :meth:`add` are not written twice, and any
    file that was not (small parts, or a part whose bytes changed since) is written then.
    """

    def __init__(self, out: Path, *, durable: bool = False, parallelism: Parallelism | None = None) -> None:
        self.out = out
        self.durable = durable
        # A part smaller than the setting's minimum is written at commit time, in-process.
        self.parallelism = parallelism if parallelism is not None else Parallelism.from_env()
        self._scratch: Path | None = None
        # Durable writes without syncfs fsync file by file, which only the process writing can do.
        self._unavailable = not self.parallelism.available() or (durable and not has_syncfs())
        self._jobs: list[tuple[ForkedCall[int], Mapping[str, bytes]]] = []
        self._done = False
        self._committed = False
        # Folders of the scratch tree this process created: write_now() is called once per chunk of
        # files, and most chunks land in folders an earlier one made (a forked helper inherits a copy).
        self._made: set[str] = set()

    def __enter__(self) -> StreamingWrite:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self._done:
            self.abort()

    def _prepared(self) -> Path | None:
        """The scratch tree, made on first use; None when writing early is not possible here."""
        if self._unavailable or self._done:
            return None
        if self._scratch is None:
            try:
                self.out, self._scratch = prepare_scratch(self.out)
            except (UnsafeOutput, OSError):
                self._unavailable = True  # commit() will meet the same problem and report it properly
                return None
        return self._scratch

    def add(self, part: Mapping[str, bytes]) -> None:
        """Start writing ``part`` in the background when it is large enough to be worth a process."""
        if self._unavailable or self._done or not self.parallelism.worth_it(len(part)):
            return
        try:
            _validate_paths(part)
        except ValueError:
            return  # commit() reports it
        scratch = self._prepared()
        if scratch is not None:
            self._jobs.append((ForkedCall(_write_part, scratch, part, os.getpid()), part))

    def early(self) -> ScratchWriter | None:
        """This writer as the compile's :class:`~paybill.emit.files.ScratchWriter`, or None when files
        cannot be written early (helpers unavailable, output folder not ours): then the compile keeps
        every file in memory and :meth:`commit` writes them."""
        return self if self._prepared() is not None else None

    def write_now(self, files: Mapping[str, bytes], digests: Mapping[str, bytes] | None = None) -> dict[str, Written]:
        """Write ``files`` into the scratch tree now, in this process (the compile's or a helper's).

        ``digests``: SHA-256 of some of them, already known. Raises ``ValueError`` for an unsafe
        path, ``OSError`` when the disk says no (the compile then fails; nothing is swapped in).
        """
        scratch = self._scratch
        if scratch is None or self._done:
            raise RuntimeError("this StreamingWrite has no scratch tree to write into")
        _validate_paths(files)
        _fill(scratch, files, None, durable_each=False, made=self._made)
        known = digests or {}
        return {path: Written(len(data), known.get(path) or hashlib.sha256(data).digest())
                for path, data in files.items()}

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> Written:
        """Write ``path`` into the scratch tree from ``chunks`` as they come, in this process; like
        :meth:`write_now`, but the file's bytes are never held whole."""
        scratch = self._scratch
        if scratch is None or self._done:
            raise RuntimeError("this StreamingWrite has no scratch tree to write into")
        _validate_paths({path: b""})
        parent = path.rpartition("/")[0]
        if parent:
            _make_folder(scratch, parent, self._made)
        digest = hashlib.sha256()
        size = 0
        with open(scratch / path, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        return Written(size, digest.digest())

    def where(self) -> Path:
        """Where the files written early are: the scratch tree, then ``out`` once committed."""
        if self._committed:
            return self.out
        if self._scratch is None:
            raise FileNotFoundError("the files written early were discarded with the scratch tree")
        return self._scratch

    def commit(self, tree: Mapping[str, bytes], progress: Callable[[int], None] | None = None) -> None:
        """Make ``out`` exactly ``tree``, atomically. Raises like :func:`~paybill.write.tree.write_tree`."""
        if self._done:
            raise RuntimeError("this StreamingWrite was already committed or aborted")
        if self._scratch is None:
            self._done = True
            write_tree(tree, self.out, progress, durable=self.durable)
            return
        _validate_paths(tree)
        started: dict[str, bytes] = {}
        for _, part in self._jobs:
            started.update(part)
        early = tree.written_paths if isinstance(tree, OutputFiles) else frozenset()
        fresh = {path: tree[path] for path in tree if path not in started and path not in early}
        changed = {path: tree[path] for path in tree if path in started and started[path] is not tree[path]}
        if progress is not None and early:
            progress(len(early))
        try:
            fill_scratch(self._scratch, fresh, progress, durable=self.durable)
            self._join(progress, skip=changed)
            # Written early, then changed or dropped: rewritten only now that no child writes them.
            fill_scratch(self._scratch, changed, progress, durable=self.durable)
            for path in sorted(set(started).difference(tree)):
                (self._scratch / path).unlink()
            swap_in(self._scratch, self.out, durable=self.durable)
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._committed = True
        self._scratch = None

    def _join(self, progress: Callable[[int], None] | None, skip: Mapping[str, bytes]) -> None:
        """Wait for every child; raise the first failure once all are reaped."""
        failures: list[Exception] = []
        while self._jobs:
            job, part = self._jobs[0]
            try:
                job.result()
            except Exception as exc:  # every child is reaped before raising
                failures.append(exc)
            else:
                if progress is not None:
                    progress(sum(1 for path in part if path not in skip))
            finally:
                self._jobs.pop(0)  # reaped either way; abort() cancels only the ones left
        if failures:
            raise failures[0]

    def abort(self) -> None:
        """Stop every child and remove the scratch tree; ``out`` is left as it was."""
        self._done = True
        jobs, self._jobs = self._jobs, []
        for job, _ in jobs:
            job.cancel()
        if self._scratch is not None:
            discard(self._scratch)
            self._scratch = None
