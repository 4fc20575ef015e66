"""The on-disk cache folder (``.paybill/cache/``): entries that are verified by hash, never trusted.

A compile reuses earlier work from here: parsed spec files (:mod:`paybill.load.cache`) and the
hashes of the last output tree it wrote (:mod:`paybill.write.journal`). Everything in the folder is
derived from the specs, so it is safe to delete at any time and safe to restore from a CI cache
step; a missing, truncated, corrupt or foreign entry (another compiler version, another Python)
is treated as absent and rebuilt, so a bad cache can cost time but never change an output.

Each entry is one file: a magic line naming the format and the compiler, the SHA-256 of the
payload, then the payload (``marshal`` of plain data: lists, dicts, strings, numbers; far faster to
load than pickled objects). Entries are written atomically (temporary file, rename), so a reader
never sees half an entry, and a SIGKILL mid-write leaves at most a stray ``*.tmp`` file that the
next :func:`prune` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import paybill

CACHE_ENV = "PAYBILL_CACHE_DIR"
"""Where the cache lives; ``off`` (or ``--no-cache``) disables it. Default: ``.paybill/cache``."""
DEFAULT_DIR = Path(".paybill") / "cache"
MAX_BYTES_ENV = "PAYBILL_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 1 << 30
"""The folder is pruned (oldest entries first) when it grows past this many bytes."""

UNITS_FOLDER = "units"
"""The sub-folder of the cache folder that holds the unit store (:class:`UnitStore`)."""

_DIGEST = 32

RACY_NS = 2 * 10**9
"""How close to a recording a file's mtime may be before its stat no longer proves its content.

Like git's index, a record of (size, mtime, inode) is proof only for a file last changed strictly
before the state was recorded: a file rewritten within one timestamp tick keeps its stat. Clocks are
coarse (the kernel's coarse clock lags ``time.time_ns()`` by up to a tick; FAT keeps 2 s), so every
record that trusts stats (parsed spec files, the output journal, the whole-compile record) treats an
entry this close to (or after) its reference time as *racy*, verified by its bytes."""


_DIGEST_MEMO_TAG = "paybill-compiler-digest 1"
_digest: str | None = None
"""This process's :func:`compiler_digest` (computed once)."""

SourceStat = tuple[int, int, int, int]
"""(size, mtime_ns, inode, ctime_ns) of one of the compiler's source files."""


def _source_files(package: Path) -> dict[str, SourceStat]:
    """Every ``*.py`` file under ``package`` (relative POSIX path -> stat), symlinks not followed."""
    found: dict[str, SourceStat] = {}
    pending = [("", os.fspath(package))]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((prefix + entry.name + "/", entry.path))
                elif entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    found[prefix + entry.name] = (info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
    return found


def _hash_sources(package: Path, files: Mapping[str, SourceStat]) -> str:
    """Relative paths in :class:`~pathlib.PurePosixPath` order (part by part), each followed by NUL and
    the file's bytes (``?`` when unreadable)."""
    digest = hashlib.sha256()
    for relative in sorted(files, key=lambda path: path.split("/")):
        digest.update(relative.encode())
        digest.update(b"\0")
        try:
            with open(package / relative, "rb") as handle:
                digest.update(handle.read())
        except OSError:
            digest.update(b"?")
    return digest.hexdigest()[:16]


def compiler_digest(memo_folder: Path | None = None) -> str:
    """A hash of the compiler's own source files: a cache filled by other code is foreign.

    The version number alone is not enough: during development (and in tests that swap an emitter)
    the code changes while ``__version__`` does not. Hashing the package's ~400 files is ~20 ms of
    CPU, paid by every process that touches the cache (a one-tenant compile or a plan for one change
    takes ~0.5-1 s), so the digest is remembered in ``memo_folder`` (the cache folder) beside the
    stat of every source file it was computed from, as git's index does: it is reused only while the
    same files have exactly the same (size, mtime_ns, inode, ctime_ns) and each was last changed
    before the memo was taken (:data:`RACY_NS`). An edit changes the ctime even when the size and
    mtime are put back. Anything else (no memo, damaged, another package, a racy file) hashes the
    sources again. Computed once per process.
    """
    global _digest
    if _digest is None:
        _digest = digest_of_sources(Path(paybill.__file__).parent, memo_folder)
    return _digest


def digest_of_sources(package: Path, memo_folder: Path | None = None) -> str:
    """:func:`compiler_digest` of the package folder ``package``, through its memo in ``memo_folder``."""
    started_ns = _now_ns()
    try:
        files = _source_files(package)
    except OSError:
        files = {}
    where = os.fspath(package.resolve())
    name = key("compiler-digest", where)
    remembered = _read_digest_memo(memo_folder, name, where, files)
    if remembered is not None:
        return remembered
    digest = _hash_sources(package, files)
    _write_digest_memo(memo_folder, name, (_DIGEST_MEMO_TAG, where, started_ns - RACY_NS, digest, files))
    return digest


def _read_digest_memo(folder: Path | None, name: str, package: str, files: Mapping[str, SourceStat]) -> str | None:
    if folder is None or not files:
        return None
    try:
        blob = (folder / name).read_bytes()
    except OSError:
        return None
    payload = memoryview(blob)[_DIGEST:]
    if len(blob) < _DIGEST or hashlib.sha256(payload).digest() != blob[:_DIGEST]:
        return None
    try:
        saved = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    if not (isinstance(saved, tuple) and len(saved) == 5 and saved[0] == _DIGEST_MEMO_TAG and saved[1] == package
            and isinstance(saved[2], int) and isinstance(saved[3], str) and saved[4] == files):
        return None
    trusted_before = saved[2]
    if any(stat_[1] >= trusted_before or stat_[3] >= trusted_before for stat_ in files.values()):
        return None  # changed within a clock tick of the memo: its stat proves nothing
    return saved[3]


def _write_digest_memo(folder: Path | None, name: str, value: tuple[object, ...]) -> None:
    if folder is None:
        return
    payload = marshal.dumps(value)
    try:
        if not folder.is_dir():
            return  # made by the first entry a compile writes; the memo is not worth creating it
        _write_atomically(folder, name, hashlib.sha256(payload).digest(), payload)
    except OSError:
        return


def _write_atomically(folder: Path, name: str, *parts: bytes) -> None:
    """``folder/name`` := ``parts``, through a temporary file and a rename: a reader never sees half of it,
    and a kill leaves at most a stray ``*.tmp`` (:func:`prune` removes it). Raises ``OSError``."""
    fd, tmp = _create_temporary(folder, name)
    try:
        with os.fdopen(fd, "wb") as handle:
            for part in parts:
                handle.write(part)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_temporary(folder: Path, name: str) -> tuple[int, str]:
    """A new file ``folder/.<name>.<random>.tmp`` open for writing (mode 0600), as ``tempfile.mkstemp`` makes
    one: without importing ``tempfile`` (and ``shutil``, ``random``, ``bz2``, ``lzma`` with it: ~4 ms of a
    ~0.3 s delta compile that writes a few entries)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def _stamp(folder: Path | None = None) -> bytes:
    """The first line of every entry: format, compiler version and source digest, Python version
    (``folder``: where the digest's memo may be kept, :func:`compiler_digest`)."""
    # marshal's format is only stable within one Python version; the output within one compiler.
    return (f"paybill-cache 1 {paybill.__version__} {compiler_digest(folder)} "
            f"py{sys.version_info[0]}.{sys.version_info[1]}\n").encode()


def cache_dir(explicit: Path | None = None, *, disabled: bool = False) -> Path | None:
    """The cache folder to use, or None when caching is off (``--no-cache``, ``PAYBILL_CACHE_DIR=off``)."""
    if disabled:
        return None
    if explicit is not None:
        return explicit
    configured = os.environ.get(CACHE_ENV, "")
    if configured.lower() in ("off", "0", "none"):
        return None
    return Path(configured) if configured else DEFAULT_DIR


def key(*parts: str) -> str:
    """A file name for an entry named by ``parts`` (hashed: any text becomes a safe, fixed-size name)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def read(folder: Path | None, name: str) -> object | None:
    """The payload stored under ``name``, or None when absent, unreadable, corrupt or foreign."""
    if folder is None:
        return None
    try:
        blob = (folder / name).read_bytes()
    except OSError:
        return None
    stamp = _stamp(folder)
    head = len(stamp)
    if not blob.startswith(stamp) or len(blob) < head + _DIGEST:
        return None
    payload = memoryview(blob)[head + _DIGEST:]
    if hashlib.sha256(payload).digest() != blob[head:head + _DIGEST]:
        return None
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):  # pragma: no cover - only a forged digest gets here
        return None


def write(folder: Path | None, name: str, value: object) -> bool:
    """Store ``value`` (plain data) under ``name`` atomically; False when it cannot (never raises)."""
    if folder is None:
        return False
    try:
        payload = marshal.dumps(value)
    except ValueError:  # something that is not plain data: simply not cached
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _ignore_in_git(folder)
        _write_atomically(folder, name, _stamp(folder), hashlib.sha256(payload).digest(), payload)
    except OSError:  # a read-only or full disk makes the compile slower next time, not wrong
        return False
    return True


class UnitStore:
    """Built units (a Terraform stack, a SQL folder...) reused while the hash of their inputs is unchanged.

    One entry per unit (``namespace``, ``unit``), overwritten when the unit is rebuilt, so the
    folder holds at most one version per unit of the repository. Each entry carries the key of the
    inputs it was built from (a hash the emitter computes, see :func:`paybill.emit.cache.unit_key`);
    a lookup under any other key is a miss. Entries have the stamp and SHA-256 of every entry of the
    cache folder (:func:`read`): a corrupt or foreign one is a miss, never trusted. Writes are cheap:
    no fsync (a lost entry is rebuilt); a new entry is created in place (on a first compile of
    10,000 stacks a temporary name and a rename per entry cost about a second more), an existing
    one is replaced atomically (a temporary name, then a rename). A reader that meets an entry
    half written (a concurrent compile, or a kill) finds its hash wrong: a miss.
    """

    def __init__(self, folder: Path, *, read_only: bool = False, content_root: Path | None = None,
                 in_place: Mapping[str, bytes] | None = None) -> None:
        self.folder = folder
        self.read_only = read_only
        """Only read (``paybill plan`` reads what compiles stored and writes nothing)."""
        self.content_root = content_root
        """The output folder the compile writes (``paybill compile --out``): a unit whose bytes end up
        there as one file (a stack) may store only their digest and read them back from it, checked
        by that digest, instead of a second copy (~150 MB at 10,000 tenants)."""
        self.in_place = in_place
        """Path -> SHA-256 of the files in ``content_root`` as their writer recorded them (its journal,
        :mod:`paybill.write.journal`), when the caller writes the result with a writer that keeps
        such files itself (``paybill compile``: :attr:`paybill.emit.contract.EmitContext.kept`): a
        stored unit whose file is recorded with its digest is then not read back at all."""
        self.hits = 0
        self.misses = 0
        self._made = False
        self._names: set[str] | None = None

    def get(self, namespace: str, unit: str, unit_key: str) -> object | None:
        """The value stored for ``unit`` under ``unit_key``, or None."""
        name = key(namespace, unit)
        found = read(self.folder, name) if self._may_hold(name) else None
        if isinstance(found, tuple) and len(found) == 2 and found[0] == unit_key:
            self.hits += 1
            return found[1]
        self.misses += 1
        return None

    def _may_hold(self, name: str) -> bool:
        """False when the entry ``name`` is not in the folder, by one listing of it (taken at the first
        lookup) instead of a failed ``open`` per unit: a first compile of 100,000 tenants looks up
        every stack and decommission configuration in an empty store, ~30 µs of CPU each.

        An entry another process writes after the listing is a miss (the unit is rebuilt, as for any
        miss); never a hit: a listed entry is still read and checked whole.
        """
        if self._names is None:
            try:
                self._names = set(os.listdir(self.folder))
            except OSError:  # no folder yet (a first compile), or unreadable: nothing to read either
                self._names = set()
        return name in self._names

    def load_index(self, namespace: str) -> dict[str, tuple[str, object]]:
        """Every unit of ``namespace`` the last :meth:`save_index` recorded (unit -> (key, value)), or {}.

        One entry instead of one file per unit: at 10,000 tenants, opening, hashing and unpacking
        10,000 small entries costs about a second; one entry of ~3 MB costs a few milliseconds. It
        is a cache entry like any other (stamp and SHA-256: a corrupt or foreign one reads as {}),
        and a unit's key must still match, so it changes no result.
        """
        found = read(self.folder, key("index", namespace))
        if not isinstance(found, dict):
            return {}
        return {unit: entry for unit, entry in found.items()
                if isinstance(unit, str) and isinstance(entry, tuple) and len(entry) == 2}

    def get_indexed(self, index: Mapping[str, tuple[str, object]], namespace: str, unit: str,
                    unit_key: str) -> object | None:
        """:meth:`get`, looking in ``index`` (from :meth:`load_index`) before the unit's own entry."""
        entry = index.get(unit)
        if entry is not None and entry[0] == unit_key:
            self.hits += 1
            return entry[1]
        return self.get(namespace, unit, unit_key)

    def save_index(self, namespace: str, entries: dict[str, tuple[str, object]]) -> None:
        """Record ``entries`` (unit -> (key, value), plain data) as the index of ``namespace``.

        Only small values belong there (a stack's digest and facts, not its bytes): the whole index
        is read by every compile. It replaces the previous one, so it holds the units of the last
        compile. A caller that keeps an index does not also :meth:`put` each unit (10,000 small
        files at 10,000 tenants cost a first compile ~1.8 s of CPU): a unit missing from the index,
        after a switch of branch or of output folder, is rebuilt, which costs less than storing
        every unit twice.
        """
        if not self.read_only:
            write(self.folder, key("index", namespace), entries)

    def put(self, namespace: str, unit: str, unit_key: str, value: object) -> None:
        """Store ``value`` (plain data) for ``unit`` under ``unit_key``; silently not when it cannot."""
        if self.read_only:
            return
        try:
            payload = marshal.dumps((unit_key, value))
        except ValueError:
            return
        name = key(namespace, unit)
        if self._names is not None:  # listed already: a later get() must read what this writes
            self._names.add(name)
        tmp = self.folder / f".{name}.{os.getpid()}.tmp"
        try:
            if not self._made:
                self.folder.mkdir(parents=True, exist_ok=True)
                _ignore_in_git(self.folder)
                self._made = True
            with contextlib.suppress(FileExistsError), open(self.folder / name, "xb") as handle:
                handle.write(_stamp(self.folder))
                handle.write(hashlib.sha256(payload).digest())
                handle.write(payload)
                return
            with open(tmp, "wb") as handle:
                handle.write(_stamp(self.folder))
                handle.write(hashlib.sha256(payload).digest())
                handle.write(payload)
            os.replace(tmp, self.folder / name)
        except OSError:  # a read-only or full disk makes the next compile slower, not wrong
            with contextlib.suppress(OSError):
                tmp.unlink()


def _ignore_in_git(folder: Path) -> None:
    """A ``.gitignore`` of ``*`` in the folder, so the cache is never committed by accident."""
    marker = folder / ".gitignore"
    if not marker.exists():
        with contextlib.suppress(OSError):
            marker.write_text("# paybill's cache: derived data, safe to delete\n*\n")


def max_bytes() -> int:
    try:
        return max(0, int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BYTES


def prune(folder: Path, limit: int | None = None) -> None:
    """Keep the folder under ``limit`` bytes: remove stray temporary files, then the oldest entries.

    Called once per compile (a scan of the folder), not per write.
    """
    limit = max_bytes() if limit is None else limit
    entries: list[tuple[int, str, int]] = []
    total = 0
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                if not entry.is_file(follow_symlinks=False) or entry.name == ".gitignore":
                    continue
                info = entry.stat(follow_symlinks=False)
                if entry.name.endswith(".tmp") and entry.name.startswith("."):
                    with contextlib.suppress(OSError):
                        # a writer killed mid-entry; a live one finishes within seconds
                        if info.st_mtime_ns < _now_ns() - 60 * 10**9:
                            os.unlink(entry.path)
                    continue
                entries.append((info.st_mtime_ns, entry.name, info.st_size))
                total += info.st_size
    except OSError:
        return
    for _, name, size in sorted(entries):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
            total -= size


def _now_ns() -> int:
    import time

    return time.time_ns()
