"""The whole-compile short cut: a compile whose inputs and output are exactly as the last one left them.

At 10,000 tenants a ``paybill compile`` with no change still took ~4 s: loading every stage's code,
validating, resolving, building the graph and every emitter over 10,000 cached documents, only to
find that the output folder already holds the tree. A compile is a function of its inputs: the spec
files' bytes, the compiler's code (its version and source digest), the Python that runs it, the
options and the environment that reach an emitter (the bundle signing key). When all of those are
the ones of the last compile that *succeeded* into the same output folder, and that folder is still
exactly the tree it wrote, compiling again would write nothing and print the same lines; so
``paybill compile`` prints them and stops, without importing a stage or parsing YAML.

The proof is a *record*, one cache entry per output folder (:mod:`paybill.store`: the compiler's
stamp and the SHA-256 of the payload, so a corrupt, truncated or foreign record reads as absent),
written at the end of every successful compile and deleted before any compile starts writing:

* every spec file :func:`scan_specs` finds (the same files :func:`paybill.load.discover_spec_files`
  reads: ``*.yaml``/``*.yml`` outside hidden folders) with its (size, mtime_ns, inode, ctime_ns),
  and the SHA-256 of the bytes the compile parsed; a file added, removed or with any other stat
  fails the check;
* the output folder: every file's (size, mtime_ns, inode) and SHA-256 as the writer's journal
  recorded them (:mod:`paybill.write.journal`), every folder's (mtime_ns, inode, ctime_ns) (a file
  or folder added to or removed from a folder changes its mtime), and the journal file's stat;
* the parameters: the specs and output folders, the options, the Python prefix, a digest of the
  bundle signing key (``PAYBILL_BUNDLE_SIGNING_KEY``, its text and, when it names a file, that
  file's bytes), and the exact text the compile printed.

Racy entries, as git's index: a stat is proof of content only for an entry last changed strictly
before the recorded state was taken, because a file rewritten within one timestamp tick keeps its
stat. The record keeps ``trusted_before``, the wall clock when the compile started (before any
stat it records) minus :data:`RACY_NS` (clocks of coarse filesystems, and the lag of the kernel's
coarse clock). An entry whose mtime or ctime is not older is verified by content: a file must hash
to its digest, a folder must list exactly the expected names. When every racy entry verified, the
record is saved again with this check's own start as the reference (git rewrites its index the
same way), so the next run trusts the stat again.

Anything that cannot be proven cheaply makes the check fail, and the compile runs as before: a
symlink among the specs (its target could move outside the root), a spec file that yielded no
document, a specs root that is a file, ``--check``, ``--durable``, ``--no-cache``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from paybill import store
from paybill.write import ledger
from paybill.write.descriptors import BY_FD, FOLDER_FLAGS
from paybill.write.journal import journal_name

RECORD_FORMAT = 1
RACY_NS = store.RACY_NS
"""An entry changed this close to (or after) the start of the compile that recorded it is verified by content."""

# Copies, not imports (the short cut must not load the stages, nor cryptography); a test keeps them equal.
SIGNING_KEY_ENV = "PAYBILL_BUNDLE_SIGNING_KEY"  # paybill.guard.signing.SIGNING_KEY_ENV
SPEC_SUFFIXES = (".yaml", ".yml")  # paybill.load.discover.SPEC_SUFFIXES

SpecStat = tuple[int, int, int, int]
"""(size, mtime_ns, inode, ctime_ns) of a spec file."""


@dataclass(frozen=True)
class SpecScan:
    """The spec files found under a root: display path (as diagnostics print it) -> stat."""

    base: str
    """The folder display paths are relative to (the specs root's parent)."""
    files: dict[str, SpecStat]


def record_name(out: Path) -> str:
    """One record per output folder: any compile into ``out`` replaces (or deletes) it."""
    return store.key("compile-record", os.path.abspath(out))


def scan_specs(root: Path) -> SpecScan | None:
    """Every spec file under ``root`` (display path -> stat), or None when the set cannot be proven by stat.

    Mirrors :func:`paybill.load.discover.discover_spec_files` (hidden folders and files skipped, only
    ``*.yaml``/``*.yml``) with one ``scandir`` per folder and one ``lstat`` per file. None for a
    root that is not a plain folder, for any visible symlink (whether it escapes the root depends
    on where it points, which its stat does not say) and for a spec name that is not a regular file.

    Each folder is listed through a descriptor (:mod:`paybill.write.descriptors`; a folder turned
    symlink since its parent was listed fails to open: None).
    """
    try:
        info = os.lstat(root)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    absolute = root.absolute()  # display paths as paybill.load.discover.display_path makes them
    prefix = absolute.relative_to(absolute.parent).as_posix() + "/" if absolute.parent != absolute else ""
    found: dict[str, SpecStat] = {}
    pending: list[tuple[str, int | str]] = []
    try:
        pending.append(("", os.open(root, FOLDER_FLAGS) if BY_FD else os.fspath(root)))
        while pending:
            relative, folder = pending.pop()
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        name = entry.name
                        if name.startswith("."):
                            continue
                        if entry.is_symlink():
                            return None
                        if entry.is_dir(follow_symlinks=False):
                            pending.append((relative + name + "/", os.open(name, FOLDER_FLAGS, dir_fd=folder)
                                            if isinstance(folder, int) else entry.path))
                        elif name.endswith(SPEC_SUFFIXES):
                            if not entry.is_file(follow_symlinks=False):
                                return None
                            info = entry.stat(follow_symlinks=False)
                            found[prefix + relative + name] = (info.st_size, info.st_mtime_ns, info.st_ino,
                                                               info.st_ctime_ns)
            finally:
                if isinstance(folder, int):
                    os.close(folder)
    except OSError:
        return None
    finally:
        for _, left in pending:  # folders not listed (an early None): their descriptors
            if isinstance(left, int):
                os.close(left)
    return SpecScan(os.fspath(absolute.parent), found)


def parameters(specs: Path, out: Path, fmt: str, options: Mapping[str, bool]) -> tuple[object, ...]:
    """Everything besides the spec files and the compiler's code that a compile's output and text depend on.

    The compiler's version and source digest, and the Python version, are in every cache entry's
    stamp (:mod:`paybill.store`), so a record written by other code is foreign. The load limits are
    constants of that code (``paybill compile`` has no option for them). ``out`` as given appears
    in the printed text; its absolute path names the record.
    """
    key = os.environ.get(SIGNING_KEY_ENV, "")
    signing = hashlib.sha256(key.encode("utf-8", "surrogateescape"))
    if key.strip():
        try:
            with open(key.strip(), "rb") as handle:  # a path to a PEM file: its bytes sign the bundles
                signing.update(b"\0file\0" + handle.read())
        except (OSError, ValueError):
            signing.update(b"\0not a file")
    return (RECORD_FORMAT, os.path.abspath(specs), os.path.abspath(out), out.as_posix(), fmt,
            tuple(sorted(options.items())), sys.prefix, signing.hexdigest(),
            os.environ.get(store.MAX_BYTES_ENV, ""))


def forget(cache: Path, out: Path) -> None:
    """Delete ``out``'s record before a compile writes anything there (a kill mid-write leaves none)."""
    try:
        os.unlink(cache / record_name(out))
    except FileNotFoundError:
        pass
    except OSError:  # cannot delete it: then the record must not survive either way
        store.write(cache, record_name(out), None)


def _folders(paths: Mapping[str, object]) -> list[str]:
    """``""`` (the output folder) and every folder holding a file of ``paths``, parents first."""
    needed: set[str] = {""}
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent not in needed:
            needed.add(parent)
            parent = parent.rpartition("/")[0]
    return sorted(needed)


def _lstat_key(path: str) -> tuple[int, int, int, int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)


def save(cache: Path, out: Path, params: tuple[object, ...], started_ns: int,
         specs: SpecScan | None, digests: Mapping[str, str], printed: str,
         journal: Mapping[str, tuple[int, int, int, bytes]] | None = None,
         folder_stats: Mapping[str, tuple[int, int, int]] | None = None,
         unchanged_from: SpecsChanged | None = None) -> bool:
    """Record a compile that succeeded and wrote ``out``; False when it cannot be proven later (nothing saved).

    ``started_ns``: ``time.time_ns()`` before ``specs`` was scanned (:func:`scan_specs`, before the
    load). ``digests``: SHA-256 (hex) of each spec file's bytes as the compile parsed them
    (``CompileResult.sources``). ``printed``: what the compile printed on standard output.
    ``journal``: the journal the writer just saved for ``out``, if at hand (else it is read back).
    ``folder_stats``: the (mtime_ns, inode, ctime_ns) of exactly the folders of that journal's tree
    (``""``: ``out``), each taken after the writer's last change to it, when the writer has them
    (:func:`paybill.write.spare.write_tree_spare`); else every folder is ``lstat``-ed here.
    ``unchanged_from``: what :func:`check` found when this compile's spec files differ from the record's
    in :attr:`SpecsChanged.paths` only (the delta compile): the record's other rows are reused as they
    are (same stat, same bytes), so the ~10,000-row table is neither rebuilt nor compared field by field.
    """
    if specs is None or set(specs.files) != set(digests):
        return False  # a file the compile did not parse into documents, or the set changed meanwhile
    if journal is None:
        journal = ledger.decode(cache, store.read(cache, journal_name(out)))
    journal_stat = _lstat_key(os.fspath(cache / journal_name(out)))
    if not isinstance(journal, dict) or not journal or journal_stat is None:
        return False
    # str -> 4-tuples (marshal makes no subclass), at C speed: ~25,000 of them
    if not (set(map(type, journal)) <= {str} and set(map(type, journal.values())) <= {tuple}
            and set(map(len, journal.values())) <= {4}):
        return False
    files: Mapping[str, tuple[int, int, int, bytes]] = journal
    base = os.path.abspath(out)
    folders: dict[str, tuple[int, int, int]] = dict(folder_stats) if folder_stats else {}
    if not folders:
        for folder in _folders(files):
            found = _lstat_key(os.path.join(base, folder) if folder else base)
            if found is None or not stat.S_ISDIR(found[0]):
                return False
            folders[folder] = (found[2], found[3], found[4])
    if unchanged_from is not None and unchanged_from.specs.keys() == specs.files.keys():
        table = dict(unchanged_from.specs)  # its rows are the base's: the ledger's diff skips them by identity
        table.update((path, (*specs.files[path], digests[path])) for path in unchanged_from.paths)
    else:
        table = {path: (*stat_, digests[path]) for path, stat_ in specs.files.items()}
    record = {  # the three tables as changes against their bases (paybill.write.ledger), shared with the journal
        "params": params,
        "trusted_before": started_ns - RACY_NS,
        "specs": ledger.encode(cache, "specs", out, table),
        "files": ledger.encode(cache, "files", out, files),
        "folders": ledger.encode(cache, "folders", out, folders),
        "journal": journal_stat,
        "printed": printed,
    }
    return store.write(cache, record_name(out), record)


def _hashes_to(path: str, digest: bytes | str) -> bool:
    """Whether ``path`` is a regular file whose bytes hash to ``digest``.

    Opened without following a symlink and without blocking: a spec or output file replaced by a
    FIFO (or a device) since the record is "changed", never a hang waiting for a writer.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        computed = hashlib.sha256()
        while chunk := os.read(descriptor, 1 << 20):
            computed.update(chunk)
    except OSError:
        return False
    finally:
        os.close(descriptor)
    return computed.digest() == digest if isinstance(digest, bytes) else computed.hexdigest() == digest


def _lists_exactly(path: str, expected: set[str]) -> bool:
    try:
        with os.scandir(path) as entries:
            return {entry.name for entry in entries} == expected
    except OSError:
        return False


class FolderHint(NamedTuple):
    """The output folder's folders as the last record saw them, for the writer (:mod:`paybill.write.spare`).

    Valid for the journal on disk now (the record's journal stat matches it, and it has as many
    files): a folder whose stat still equals ``folders[path]`` and is older than ``trusted_before``
    lists exactly its journal files and recorded sub-folders, so it need not be scanned.
    """

    trusted_before: int
    folders: dict[str, tuple[int, int, int]]
    """Folder (``""``: the output folder) -> (mtime_ns, inode, ctime_ns)."""
    files: int
    """How many files the journal the record was taken with lists."""
    journal: tuple[int, int, int, int, int]
    """That journal file's stat: the hint serves only a journal loaded from that very file."""

    def serves(self, cache: Path, out: Path,
               journal: Mapping[str, object]) -> tuple[int, dict[str, tuple[int, int, int]]] | None:
        """(trusted_before, folders) for ``journal`` (just loaded for ``out``) if it is the one the
        record was taken with, in full (no racy entry left out), else None."""
        if len(journal) != self.files or _lstat_key(os.fspath(cache / journal_name(out))) != self.journal:
            return None
        return self.trusted_before, self.folders


class SpecsChanged(NamedTuple):
    """The record's compile, when only spec files' contents differ from it (for :mod:`paybill.delta`)."""

    paths: list[str]
    """Spec files (display paths) whose stat differs from the record, or whose bytes (racy) do."""
    digests: dict[str, str]
    """Every spec file the record lists -> hex SHA-256 of the bytes that compile parsed."""
    printed: str
    """What that compile printed."""
    base: str
    """The folder display paths are relative to."""
    outputs: dict[str, bytes]
    """Every file of the output folder as that compile left it -> its SHA-256 (the journal it saved)."""
    specs: dict[str, tuple[int, int, int, int, str]]
    """The record's spec rows ((size, mtime_ns, inode, ctime_ns, SHA-256)): those not in :attr:`paths`
    have the scan's stat and the recorded bytes."""


class Checked(NamedTuple):
    printed: str | None
    """The text to print when the short cut applies; None: compile."""
    folders: FolderHint | None
    changed: SpecsChanged | None = None
    """When the same spec files, options and compiler as the record's compile differ only in
    some files' contents: which (the output folder itself is not checked then)."""


def check(cache: Path, out: Path, params: tuple[object, ...], specs: SpecScan | None,
          started_ns: int) -> Checked:
    """Whether compiling again would change nothing (then: the text the last compile into ``out`` printed).

    ``specs``: :func:`scan_specs` of the specs folder, taken after ``started_ns`` (``time.time_ns()``).
    Never raises for a bad record or folder: any doubt is "compile". Also returns the record's
    :class:`FolderHint` when it still describes ``out``'s journal, whatever the rest says.
    """
    found: list[FolderHint] = []
    changed: list[SpecsChanged] = []
    try:
        printed = _check(cache, out, params, specs, started_ns, found, changed)
    except (OSError, TypeError, ValueError, KeyError, AttributeError, IndexError):
        printed, changed = None, []
    return Checked(printed, found[0] if found else None, changed[0] if changed else None)


def read_record(cache: Path, out: Path) -> dict[str, object] | None:
    """``out``'s record with its tables whole (decoded against their bases), or None (absent, damaged, foreign)."""
    record = store.read(cache, record_name(out))
    if not isinstance(record, dict):
        return None
    return {**record, **{table: ledger.decode(cache, record.get(table)) for table in _TABLES}}


_TABLES = ("specs", "files", "folders")


def _check(cache: Path, out: Path, params: tuple[object, ...], specs: SpecScan | None,
           started_ns: int, hint: list[FolderHint], changed: list[SpecsChanged]) -> str | None:
    record = store.read(cache, record_name(out))
    if not isinstance(record, dict):
        return None
    printed, trusted = record["printed"], record["trusted_before"]
    recorded_specs, files, folders = (ledger.decode(cache, record[table]) for table in _TABLES)
    if not (isinstance(printed, str) and isinstance(trusted, int) and isinstance(recorded_specs, dict)
            and isinstance(files, dict) and isinstance(folders, dict)):
        return None
    if _lstat_key(os.fspath(cache / journal_name(out))) != record["journal"]:
        return None
    hint.append(FolderHint(trusted, folders, len(files), record["journal"]))
    if specs is None or record.get("params") != params or len(specs.files) != len(recorded_specs):
        return None
    racy = False
    edited: list[str] = []
    for path, now in specs.files.items():  # cheapest first: a spec edit is the usual change
        entry = recorded_specs.get(path)
        if entry is None:
            return None
        if entry[:4] != now:
            # saved without a change (an editor's save, `touch`, a checkout rewriting the same bytes):
            # same size and same SHA-256 is no edit. Hashed again on every compile until a compile
            # records the new stat; one file's read is far cheaper than a compile.
            if entry[0] != now[0] or not _hashes_to(os.path.join(specs.base, path), entry[4]):
                edited.append(path)
        elif now[1] >= trusted or now[3] >= trusted:
            racy = True
            if not _hashes_to(os.path.join(specs.base, path), entry[4]):
                edited.append(path)
    if edited:
        digests = {path: entry[4] for path, entry in recorded_specs.items()}
        outputs = {path: entry[3] for path, entry in files.items()}
        # every digest a str / bytes (marshal makes no subclass): checked at C speed, ~35,000 of them
        if set(map(type, digests.values())) <= {str} and set(map(type, outputs.values())) <= {bytes} \
                and set(map(len, recorded_specs.values())) <= {5}:
            changed.append(SpecsChanged(sorted(edited), digests, printed, specs.base, outputs, recorded_specs))
        return None
    base = os.path.abspath(out)
    children: dict[str, set[str]] = {}
    for path in files:
        parent, _, name = path.rpartition("/")
        children.setdefault(parent, set()).add(name)
    for folder in folders:
        if folder:
            parent, _, name = folder.rpartition("/")
            children.setdefault(parent, set()).add(name)
    for folder, entry in folders.items():
        where = os.path.join(base, folder) if folder else base
        found = _lstat_key(where)
        if found is None or not stat.S_ISDIR(found[0]) or (found[2], found[3], found[4]) != entry:
            return None
        if entry[0] >= trusted or entry[2] >= trusted:
            racy = True
            if not _lists_exactly(where, children.get(folder, set())):
                return None
    lstat = os.lstat
    for path, (size, mtime_ns, inode, digest) in files.items():
        info = lstat(base + "/" + path)
        if (info.st_size, info.st_mtime_ns, info.st_ino) != (size, mtime_ns, inode) \
                or not stat.S_ISREG(info.st_mode):
            return None
        if mtime_ns >= trusted:
            racy = True
            if not _hashes_to(base + "/" + path, digest):
                return None
    if racy:  # every racy entry verified by content: settled as of this check (git refreshes its index so)
        store.write(cache, record_name(out), {**record, "trusted_before": started_ns - RACY_NS})
    return printed
