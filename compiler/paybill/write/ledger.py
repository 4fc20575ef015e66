"""Large bookkeeping tables stored as a small change list against a shared base, so a small compile
reads and writes O(change) instead of the whole table.

Three cache entries describe an output folder: its journal (:mod:`paybill.write.journal`: each
file's stat and SHA-256), the spare tree's journal (:mod:`paybill.write.spare`) and the
whole-compile record (:mod:`paybill.write.shortcut`: the same files, every output folder's stat,
every spec file's stat and digest). At 10,000 tenants each held ~25,000 file entries (~4-6 MB) and
was read and rewritten whole on every compile, ~0.3 s of CPU for a compile that changed five files.
Yet they hold nearly the same rows: the record's files *are* the journal just saved, the spare's
journal is the previous journal, and a one-tenant compile changes a handful of rows of each.

So each table of a *kind* (``files``, ``folders``, ``specs``) for one output folder is encoded as
``(TAG, base name, base token, changed rows, removed keys)`` against a *base*: one cache entry
holding a whole table of that kind, written now and then. The process keeps every base it read or
wrote, so the three entries share one base read; saving a table writes only its changes. When the
changes grow past a sixteenth of the base (a full compile, or some hundreds of one-tenant compiles
later), a new base is written in the other of two slots, so a base never changes under an entry
that names it except when it is two compactions old (and then its token, random per base, no
longer matches: the entry reads as absent, which costs time, never correctness).

Trust is the cache folder's (:mod:`paybill.store`): a base and an entry are each verified by their
stamp and SHA-256; an entry whose base is missing, damaged, foreign or of another token reads as
absent, exactly like a missing entry. Each entry is still written atomically on its own, so the
ordering rules of its module (the journal saved after the swap, the spare's emptied before a
patch, the record deleted before any write) are unchanged. A plain (not encoded) table reads as
itself, so an entry written whole (by a test, or too small to bother) stays valid.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from pathlib import Path

from paybill import store

TAG = "paybill-ledger-1"
BASE_TAG = "paybill-ledger-base-1"

COMPACT_DIVISOR = 16
"""A table is re-based when its changes against the base exceed the base's size divided by this."""
COMPACT_MIN = 256
"""... or this many rows, whichever is larger (small trees are cheap to write whole anyway)."""

_BASES: dict[tuple[str, str], tuple[bytes, dict[str, object], tuple[int, int, int] | None]] = {}
"""(cache folder, base name) -> (token, table, the base file's (size, mtime_ns, inode)) for every base
this process read or wrote. Never mutated: decoding copies."""
_CURRENT: dict[tuple[str, str], str] = {}
"""(cache folder, family) -> the base name this process last read or wrote for that family: new
tables are encoded against it."""
_MISSING = object()
_NAME = re.compile(r"[0-9a-f]{48}\.[ab]")


def forget_memory() -> None:
    """Drop every base this process holds (as a new process starts): for tests and benchmarks."""
    _BASES.clear()
    _CURRENT.clear()


def family(kind: str, out: Path) -> str:
    """The bases of ``kind`` for the output folder ``out``: two slots, ``<family>.a`` and ``<family>.b``."""
    return store.key("ledger", kind, os.path.abspath(out))[:48]


def _slot(fam: str, slot: str) -> str:
    return f"{fam}.{slot}"


def _family_of(name: str) -> str:
    return name.rpartition(".")[0]


def _file_key(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def _load_base(folder: Path, name: str, token: bytes) -> dict[str, object] | None:
    memo = _BASES.get((str(folder), name))
    if memo is not None and memo[0] == token:
        return memo[1]
    where = _file_key(folder / name)  # before reading: a base replaced in between then fails the memo check
    saved = store.read(folder, name)
    if not (isinstance(saved, tuple) and len(saved) == 3 and saved[0] == BASE_TAG and isinstance(saved[1], bytes)
            and isinstance(saved[2], dict)):
        return None
    _BASES[(str(folder), name)] = (saved[1], saved[2], where)
    if saved[1] != token:
        return None
    return saved[2]


def decode(folder: Path | None, value: object) -> object | None:
    """The table ``value`` (as :func:`encode` made it) stands for; a plain value is itself; None when its
    base is missing, damaged, foreign or replaced."""
    if not (isinstance(value, tuple) and len(value) == 5 and value[0] == TAG):
        return value
    if folder is None:
        return None
    _, name, token, changes, removed = value
    if not (isinstance(name, str) and _NAME.fullmatch(name) and isinstance(token, bytes)
            and isinstance(changes, dict) and isinstance(removed, list)):
        return None
    base = _load_base(folder, name, token)
    if base is None:
        return None
    _CURRENT[(str(folder), _family_of(name))] = name  # the next tables of this family are encoded against it
    table = dict(base)
    table.update(changes)
    for key in removed:
        table.pop(key, None)
    return table


def _delta(base: Mapping[str, object], table: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    # Most rows of a table decoded against this base *are* the base's row objects (``decode`` copies
    # the dict, not the rows): the identity test spares comparing their fields (~25,000 rows per table).
    get = base.get
    changes = {key: row for key, row in table.items() if (old := get(key, _MISSING)) is not row and old != row}
    added = sum(1 for key in changes if key not in base)
    removed = [key for key in base if key not in table] if len(base) + added != len(table) else []
    return changes, removed


def _differs_early(base: Mapping[str, object], table: Mapping[str, object], near: int) -> bool:
    """More than ``near`` of ``table``'s first ``4 * near`` rows differ from ``base``: the base of the other
    tree. The output folder and the spare take turns, and their folders' stats differ in every row
    (other inodes): diffing all ~11,000 rows against the wrong slot first, twice per compile, was
    ~4% of a delta compile at 10,000 tenants; its first rows tell."""
    if len(table) <= 4 * near:
        return False
    get = base.get
    return sum(1 for key, row in itertools.islice(table.items(), 4 * near)
               if (old := get(key, _MISSING)) is not row and old != row) > near


def encode(folder: Path | None, kind: str, out: Path, table: Mapping[str, object]) -> object:
    """``table`` as its changes against the closest base of ``kind`` for ``out`` that this process holds
    (a new base, in the other slot, when they are too many or no base is at hand). Plain ``dict(table)``
    when it is empty or no base can be written.

    Two slots, because two physical trees take turns as the output folder and the spare: their files
    share inodes (hard links), but their folders do not, so the folder stats of the one and the other
    each keep their own base.
    """
    if folder is None or not table:
        return dict(table)
    fam = family(kind, out)
    names = [_slot(fam, "a"), _slot(fam, "b")]
    if _CURRENT.get((str(folder), fam)) == names[1]:
        names.reverse()  # the base used last first: usually close enough that the other is not tried
    tried: list[tuple[int, str, bytes, dict[str, object], list[str]]] = []
    far: list[tuple[str, bytes, dict[str, object]]] = []  # slots whose first rows already differ too much
    empty = None
    for name in names:
        memo = _BASES.get((str(folder), name))
        if memo is None or memo[2] is None or _file_key(folder / name) != memo[2]:
            empty = empty or name  # not at hand (or replaced since): the slot to fill
            continue
        token, base, _ = memo
        near = max(COMPACT_MIN, len(base) // COMPACT_DIVISOR) // 4
        if _differs_early(base, table, near):
            far.append((name, token, base))
            continue
        changes, removed = _delta(base, table)
        tried.append((len(changes) + len(removed), name, token, changes, removed))
        if tried[-1][0] <= near:
            break
    if far and (not tried or min(tried)[0] > min(max(COMPACT_MIN, len(base) // COMPACT_DIVISOR) // 4
                                                 for _, _, base in far)):
        # what the loop would have found diffing them whole (a far slot has more changes than that)
        tried += [(len(changes) + len(removed), name, token, changes, removed)
                  for name, token, base in far for changes, removed in [_delta(base, table)]]
    if tried:
        size, name, token, changes, removed = min(tried)
        if size <= max(COMPACT_MIN, len(_BASES[(str(folder), name)][1]) // COMPACT_DIVISOR):
            _CURRENT[(str(folder), fam)] = name
            return (TAG, name, token, changes, removed)
    # a new base: in an empty slot, else over the base farther from this table
    target = empty or max(tried)[1]
    token = os.urandom(16)
    # In key order: a decoded table keeps it (changes replace rows in place), so the sorts that its
    # readers make (the inputs' digest of the specs, the survey's folders) find it sorted: ~10x cheaper.
    whole = dict(sorted(table.items()))
    if not store.write(folder, target, (BASE_TAG, token, whole)):
        return whole
    _BASES[(str(folder), target)] = (token, whole, _file_key(folder / target))
    _CURRENT[(str(folder), fam)] = target
    return (TAG, target, token, {}, [])
