"""Recognise a compile that changes nothing, so nothing is written (and no tree is rebuilt to swap in).

After a first compile (written whole, streaming) there is a journal of the output folder but no
spare tree (:mod:`paybill.write.spare`). A second compile with no change used to build a complete
linked copy of the tree beside ``out`` to swap in (at 10,000 tenants ~11,000 ``mkdir`` and
~25,000 ``link``: ~4 s, more than a one-tenant change), only to put back the same bytes.

Replacing a folder with a tree it already holds is the identity, so when the new tree's files are
exactly the journal's (same paths, sizes and SHA-256) and ``out`` is exactly what the journal
recorded (every file's size, mtime and inode; no other file, folder, symlink or socket), the
write is skipped: ``out`` is not touched, so it stays entirely the tree it was. Any doubt (a file
edited, added or removed by hand or a checkout, a digest that differs, a journal entry that is
racy: :func:`paybill.write.journal.load_journal`) takes the normal path, which writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from paybill.write.journal import _Entry
from paybill.write.spare import _survey


def _same_files(tree: Mapping[str, bytes], journal: Mapping[str, _Entry], digests: Mapping[str, bytes],
                kept: Mapping[str, bytes]) -> bool:
    """The journal lists exactly the new tree's files, each with the new bytes' size and digest.

    The tree's own files first: with most files kept in place (``kept``), a real change is one of the
    few files the compile made, so it fails here before ~25,000 kept entries are looked at.
    """
    unknown: list[str] = []
    for path, data in tree.items():  # cheap checks first: a real change usually fails here
        entry = journal.get(path)
        if entry is None or type(entry) is not tuple or len(entry) != 4 or entry[0] != len(data):
            return False
        digest = digests.get(path)
        if digest is None:
            unknown.append(path)
        elif digest != entry[3]:
            return False
    if len(journal) != len(tree.keys() | kept.keys()):
        return False
    for path, digest in kept.items():
        entry = journal.get(path)
        if entry is None or type(entry) is not tuple or len(entry) != 4 or entry[3] != digest:
            return False
    return all(hashlib.sha256(tree[path]).digest() == journal[path][3] for path in unknown)


def _parents(paths: Mapping[str, object]) -> set[str]:
    needed: set[str] = set()
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in needed:
            needed.add(parent)
            parent = parent.rpartition("/")[0]
    return needed


def tree_is_current(tree: Mapping[str, bytes], out: Path, journal: Mapping[str, _Entry],
                    digests: Mapping[str, bytes] | None = None, kept: Mapping[str, bytes] | None = None) -> bool:
    """True when ``out`` already holds exactly ``tree`` plus ``kept`` (path -> SHA-256), by its journal.

    ``journal``: ``out``'s journal as :func:`~paybill.write.journal.load_journal` returns it (racy
    entries already verified by content or left out). One ``scandir``/``lstat`` per file of ``out``.
    """
    if not journal or not _same_files(tree, journal, digests or {}, kept or {}):
        return False  # (every entry of the journal is then a well-formed one of the tree's files)
    if not out.is_dir() or out.is_symlink():
        return False
    files, folders, odd = _survey(out)
    if odd or len(files) != len(journal):
        return False
    for path, stat in files.items():
        entry = journal.get(path)
        if entry is None or entry[:3] != stat:
            return False
    return set(folders) == _parents(journal)
