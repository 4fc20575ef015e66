"""Parsed spec files, reused while a file is unchanged, so an unchanged repository is stat()ed, not parsed.

One cache entry per specs root (see :mod:`paybill.store`) maps each file's display path to what
identified its bytes when it was parsed — (size, mtime_ns, inode), the SHA-256 of the bytes and
their git blob id (:func:`~paybill.load.document.git_blob_id`) — and to the documents it held,
as plain data (``marshal`` loads 10,000 of them in a fraction of the time YAML composing takes).

A file is trusted from the cache only when its stat() matches. Like git's index, a match on a file
modified within :data:`RACY_NS` of the start of the load that cached it is not trusted by stat alone (two
writes in one timestamp tick can leave the same size and mtime): its bytes are read and hashed,
which still skips parsing. Files that produced any load diagnostic are never cached, so every
diagnostic is reported again on every run, exactly as without a cache.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paybill import store
from paybill.load.discover import SpecFile
from paybill.load.document import FileText, SourceText, SpecDocument, git_blob_id

RACY_NS = store.RACY_NS
"""A file modified this close to (or after) the start of the load that cached it is verified by its bytes."""

_Stat = tuple[int, int, int]
_Documents = list[tuple[int, dict[str, Any], str, str]]
_Entry = tuple[int, int, int, str, _Documents, str]
"""(size, mtime_ns, inode, SHA-256 hex, documents, git blob id)."""


@dataclass(frozen=True)
class KnownStats:
    """Every spec file's stat, taken by the caller before the load (``paybill compile``'s scan for the
    whole-compile short cut, :func:`paybill.write.shortcut.scan_specs`), so the load does not stat
    10,000 files a second time (~0.05 s of CPU).

    Only a scan that saw every spec name as a regular file and no symlink at all (the short cut's
    rule: anything else gives no scan) is handed on, so each ``lstat`` there is the ``stat`` the
    load would take. ``taken_ns`` is a time before the first of them: an entry recorded from such a
    stat is racy (verified by content on use) as long as one recorded from the load's own stat.
    A file not in ``files`` is stat'ed by the load as before.
    """

    files: Mapping[str, _Stat]
    """Display path (as diagnostics print it) -> (size, mtime_ns, inode)."""
    taken_ns: int


def file_stat(path: Path) -> _Stat | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


class LoadCache:
    """The parsed files of one specs root, read from and saved to the cache folder."""

    def __init__(self, folder: Path | None, root: Path, stated_ns: int | None = None) -> None:
        """``stated_ns``: when the stats the caller will hand to :meth:`lookup` were taken, if before now
        (:class:`KnownStats`): the racy window of what this load records counts from that instant."""
        self.folder = folder
        self.name = store.key("load", os.path.abspath(root))
        saved = store.read(folder, self.name)
        self._saved_ns = 0
        self._old: dict[str, _Entry] = {}
        if isinstance(saved, tuple) and len(saved) == 2 and isinstance(saved[1], dict):
            self._saved_ns, self._old = saved
        self._new: dict[str, _Entry] = {}
        self._started_ns = time.time_ns()  # files are stat()ed after this instant
        if stated_ns is not None:
            self._started_ns = min(self._started_ns, stated_ns)
        self.hits = 0
        self._recorded = 0

    def lookup(self, spec_file: SpecFile, stat: _Stat | None) -> list[SpecDocument] | None:
        """The documents of ``spec_file`` if the cache knows its current bytes, else None."""
        entry = self._old.get(spec_file.display)
        if entry is None or stat is None or spec_file.problem is not None:
            return None
        try:
            size, mtime_ns, inode, digest, documents, blob_id = entry
        except (TypeError, ValueError):
            return None
        if (size, mtime_ns, inode) != stat:
            return None
        if mtime_ns >= self._saved_ns - RACY_NS and not self._same_bytes(spec_file.path, digest):
            return None
        try:
            source = FileText(str(spec_file.path), digest)
            found = [SpecDocument(path=spec_file.display, index=index, data=data, node=None, kind=kind, name=name,
                                  text_hash=digest, source=source, blob_id=blob_id)
                     for index, data, kind, name in documents]
        except (TypeError, ValueError):  # a well-formed entry of an unexpected shape: not ours
            return None
        self._new[spec_file.display] = entry
        self.hits += 1
        return found

    def displays(self) -> frozenset[str]:
        """Every file the cache holds. A saved cache is the file set of a compile that succeeded
        (:func:`paybill.compile.compile_repository` saves it only then) minus files that had a load
        diagnostic; so a set of files that equals it, each with the bytes it holds, validated
        without an error with this very compiler (entries of another compiler are foreign)."""
        return frozenset(self._old)

    def documents_of(self, display: str, raw: bytes) -> list[SpecDocument] | None:
        """The documents of the file ``display`` whose bytes are ``raw`` (read elsewhere: ``paybill plan``
        reads a side from git blobs), if the cache parsed these very bytes, else None.

        Matched by the SHA-256 of ``raw``, never by stat: the cache was filled from the work tree,
        the bytes may come from any commit. Positions are composed from ``raw`` when asked for, as
        for a freshly parsed file. Nothing is recorded: this never changes what :meth:`save` writes.
        """
        entry = self._old.get(display)
        if entry is None:
            return None
        try:
            digest, documents, blob_id = entry[3], entry[4], entry[5]
            if hashlib.sha256(raw).hexdigest() != digest:
                return None
            source = SourceText(raw.decode("utf-8").removeprefix("\ufeff"))
            found = [SpecDocument(path=display, index=index, data=data, node=None, kind=kind, name=name,
                                  text_hash=digest, source=source, blob_id=blob_id)
                     for index, data, kind, name in documents]
        except (TypeError, ValueError, IndexError):  # a well-formed entry of an unexpected shape: not ours
            return None
        self.hits += 1
        return found

    def plain_of(self, display: str, digest: str) -> list[tuple[int, dict[str, Any], str, str]] | None:
        """(index, data, kind, name) of each document of the file ``display`` whose bytes have the SHA-256
        ``digest`` (hex; hashed by the caller), if the cache parsed those very bytes, else None.

        The plain data only, no :class:`SpecDocument`: ``paybill plan`` from committed trees
        (:mod:`paybill.plan.committed`) reads three strings of each of 10,000 unchanged tenants."""
        entry = self._old.get(display)
        try:
            if entry is None or entry[3] != digest:
                return None
            documents = entry[4]
            return [(index, data, kind, name) for index, data, kind, name in documents]
        except (TypeError, ValueError, IndexError):  # a well-formed entry of an unexpected shape: not ours
            return None

    def shares_of(self, display: str, digest: str) -> list[tuple[str, Share]] | None:
        """As :meth:`LoadSummary.shares_of`, from the full entry (a cache folder saved without a summary)."""
        plain = self.plain_of(display, digest)
        shares = [tenant_share(data) if kind == "Tenant" else None for _, data, kind, _ in plain or ()]
        if not plain or not all(shares):
            return None
        return [(name, share) for (_, _, _, name), share in zip(plain, shares, strict=True) if share is not None]

    @staticmethod
    def _same_bytes(path: Path, digest: str) -> bool:
        try:
            with open(path, "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest() == digest
        except OSError:
            return False

    def record(self, spec_file: SpecFile, stat: _Stat | None, documents: Iterable[SpecDocument]) -> None:
        """Remember a freshly parsed, diagnostic-free file (``stat`` taken before it was read)."""
        documents = list(documents)
        first = documents[0] if documents else None
        if stat is None or first is None or any((d.text_hash, d.blob_id) != (first.text_hash, first.blob_id)
                                                for d in documents):
            return
        self._recorded += 1
        self._new[spec_file.display] = (*stat, first.text_hash, [(d.index, d.data, d.kind, d.name) for d in documents],
                                        first.blob_id)

    def save(self) -> None:
        """Store what this load saw (files gone from the repository are dropped); only if it changed.
        Its :class:`LoadSummary` is stored beside it (each item is matched by the bytes' hash on use)."""
        if self.folder is None or (not self._recorded and len(self._new) == len(self._old)):
            return
        store.write(self.folder, summary_name(self.name), _summary(self._new))
        store.write(self.folder, self.name, (self._started_ns, self._new))


TENANT_SHARE = (("spec", "plan"), ("spec", "billing", "status"), ("spec", "lifecycle"))
"""The fields of a tenant that ``paybill plan`` reads of every tenant a change leaves alone (its revenue
totals: plan, billing status, lifecycle). Required strings of the strict model, so the plain data is
what the model holds."""

Share = tuple[str, ...]
_SummaryItem = tuple[str, bool, list[Any]]


def tenant_share(data: object) -> Share | None:
    """The :data:`TENANT_SHARE` fields of a tenant's plain data, or None when one is not a string."""
    values = []
    for path in TENANT_SHARE:
        value = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, str):
            return None
        values.append(value)
    return tuple(values)


def summary_name(name: str) -> str:
    return store.key("load-summary", name)


def _summary(entries: dict[str, _Entry]) -> dict[str, _SummaryItem]:
    """display -> (SHA-256, tenants only, documents): a file holding only tenants with their
    :func:`tenant_share` keeps (index, name, share) per document, any other file its documents."""
    out: dict[str, _SummaryItem] = {}
    for display, entry in entries.items():
        documents = entry[4]
        shares = [tenant_share(data) if kind == "Tenant" else None for _, data, kind, _ in documents]
        if all(shares):
            out[display] = (entry[3], True, [(index, name, share) for (index, _, _, name), share
                                            in zip(documents, shares, strict=True)])
        else:
            out[display] = (entry[3], False, documents)
    return out


class LoadSummary:
    """What ``paybill plan`` from committed trees (:mod:`paybill.plan.committed`) needs of the parsed files
    of one specs root: each tenant's :data:`TENANT_SHARE` and every other file's documents.

    At 10,000 tenants the full entry is ~6 MB of plain data that takes longer to load than the rest
    of such a plan; the summary is a fifth of it. Like the full entry's, every item is matched by the
    SHA-256 of the file's bytes, never by stat, and only a diagnostic-free parse is in it."""

    def __init__(self, folder: Path | None, root: Path) -> None:
        saved = store.read(folder, summary_name(store.key("load", os.path.abspath(root))))
        self._files: dict[str, _SummaryItem] = saved if isinstance(saved, dict) else {}
        self.found = isinstance(saved, dict)

    def shares_of(self, display: str, digest: str) -> list[tuple[str, Share]] | None:
        """(name, share) of each tenant of the file ``display`` whose bytes have the SHA-256 ``digest``
        (hex), if it holds only tenants and the summary is of those bytes, else None."""
        item = self._files.get(display)
        try:
            if item is None or item[0] != digest or item[1] is not True:
                return None
            return [(name, share) for _, name, share in item[2]]
        except (TypeError, ValueError, IndexError):  # a well-formed entry of an unexpected shape: not ours
            return None

    def documents_of(self, display: str, raw: bytes) -> list[SpecDocument] | None:
        """The documents of a file that does not hold only tenants, as :meth:`LoadCache.documents_of`."""
        item = self._files.get(display)
        try:
            if item is None or item[1] is not False or hashlib.sha256(raw).hexdigest() != item[0]:
                return None
            source = SourceText(raw.decode("utf-8").removeprefix("\ufeff"))
            return [SpecDocument(path=display, index=index, data=data, node=None, kind=kind, name=name,
                                 text_hash=item[0], source=source, blob_id=git_blob_id(raw))
                    for index, data, kind, name in item[2]]
        except (TypeError, ValueError, IndexError):
            return None

    def displays(self) -> frozenset[str]:
        return frozenset(self._files)
