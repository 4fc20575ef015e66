"""Write a whole output tree atomically, or compare it with what is on disk.

The new tree is built beside the old one (``.<name>.tmp-<pid>-<random>`` in the same parent, so the
final rename never crosses a filesystem), made durable, then swapped in. Whatever kills the process
before the swap leaves the old tree exactly as it was; after the swap the new tree is complete.
Stale files disappear because the whole tree is replaced, never patched.

Replacing a folder wholesale is dangerous when it is not ours (``--out .`` would wipe a
repository), so an existing, non-empty folder is only replaced when it holds a paybill
``manifest.json``; see :func:`check_replaceable`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from paybill.write.swap import exchange, fsync_path, has_syncfs, syncfs

MANIFEST = "manifest.json"
MANIFEST_MARKER = b'"generatedBy": "paybill"'
DELAY_ENV = "PAYBILL_TEST_WRITE_DELAY"
"""Test-only: seconds to sleep after each file, so a test can kill a compile mid-write."""


class UnsafeOutput(Exception):
    """The output folder exists and does not look like paybill output; it is left alone."""


@dataclass(frozen=True)
class TreeDiff:
    """What writing a tree would change: output-relative paths, sorted."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def __len__(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def _walk_files(root: Path) -> list[str]:
    """Every file (and symlink) under ``root``, output-relative with ``/``, sorted."""
    found: list[str] = []
    if not root.is_dir():
        return found
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                else:
                    found.append(rel)
    return sorted(found)


def diff_tree(tree: Mapping[str, bytes], out: Path) -> TreeDiff:
    """Compare ``tree`` with the folder ``out`` byte for byte, without writing anything."""
    on_disk = set(_walk_files(out))
    added, changed = [], []
    for path in sorted(tree):
        if path not in on_disk:
            added.append(path)
            continue
        target = out / path
        try:
            if target.is_symlink() or target.stat().st_size != len(tree[path]) or target.read_bytes() != tree[path]:
                changed.append(path)
        except OSError:
            changed.append(path)
    removed = sorted(on_disk.difference(tree))
    return TreeDiff(added, changed, removed)


def check_replaceable(out: Path) -> None:
    """Raise :class:`UnsafeOutput` unless ``out`` is absent, empty, or earlier paybill output."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UnsafeOutput(f"'{out}' exists and is not a plain folder")
    if not out.exists() or not any(out.iterdir()):
        return
    manifest = out / MANIFEST
    try:
        if manifest.is_file():
            with open(manifest, "rb") as handle:  # its head only: the whole is ~9.5 MB at 10,000 tenants
                head = handle.read(4096)
        else:
            head = b""
    except OSError:
        head = b""
    if MANIFEST_MARKER not in head:
        raise UnsafeOutput(
            f"'{out}' is not empty and holds no paybill {MANIFEST}; refusing to replace it"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(out: Path) -> None:
    """Repair what an interrupted earlier write may have left beside ``out``.

    * ``.<name>.old-*``: the two-rename fallback was interrupted between its renames; if ``out`` is
      missing, the old tree is put back.
    * ``.<name>.tmp-<pid>-*`` of a process that no longer runs: a half-built or already swapped-out
      tree; removed.
    """
    parent = out.parent
    if not parent.is_dir():
        return
    for entry in sorted(parent.iterdir()):
        name = entry.name
        if name.startswith(f".{out.name}.old-") and not out.exists():
            os.rename(entry, out)
        elif name.startswith(f".{out.name}.tmp-") or name.startswith(f".{out.name}.old-"):
            pid_text = name.rsplit(".", 1)[-1].removeprefix("tmp-").removeprefix("old-").split("-", 1)[0]
            if pid_text.isdigit() and not _pid_alive(int(pid_text)):
                _rmtree(entry, ignore_errors=True)


def _scratch(out: Path, kind: str) -> Path:
    """A new, empty sibling folder of ``out`` (mode from the umask, unlike mkdtemp's 0700)."""
    while True:
        candidate = out.parent / f".{out.name}.{kind}-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            os.mkdir(candidate)
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        return candidate


def _make_folder(root: Path | str, folder: str, made: set[str]) -> None:
    """Create ``root/folder`` and its missing parents, but never ``root`` itself.

    Not ``os.makedirs``: if ``root`` vanished (a later compile's :func:`recover` removed the scratch
    tree of a killed writer), recreating it would leave a stray folder behind; failing is right.
    ``made``: the folders known to exist already (updated), so a folder is created once per writer.
    """
    base = os.fspath(root)
    start = 0
    while True:  # each prefix of ``folder``, shortest first, without building a list per call
        end = folder.find("/", start)
        prefix = folder if end < 0 else folder[:end]
        if prefix not in made:
            with contextlib.suppress(FileExistsError):  # a concurrent writer made it first
                os.mkdir(f"{base}/{prefix}")
            made.add(prefix)
        if end < 0:
            return
        start = end + 1


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
"""The flags of ``open(path, "wb")``, for :func:`write_file`."""


def write_file(path: str, data: bytes, durable: bool = False) -> None:
    """Create (or truncate) ``path`` and write ``data``: what ``open(path, "wb").write(data)`` does.

    Why not ``open()``: a buffered file object costs three more system calls per file (``fstat``,
    ``ioctl`` for isatty, ``lseek``) and a few microseconds of Python, and a 100,000-tenant compile
    writes 250,000 files. Here: ``open``, ``write`` (looped for a short write), ``close``.
    """
    fd = os.open(path, _CREATE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def _fill(root: Path, tree: Mapping[str, bytes], progress: Callable[[int], None] | None, durable_each: bool,
          keep_going: Callable[[], bool] | None = None, made: set[str] | None = None) -> None:
    """Write every file of ``tree`` under ``root`` (which exists), in path order.

    ``made``: folders under ``root`` already created by this writer (updated), when it writes a tree
    in several calls (:meth:`paybill.write.stream.StreamingWrite.write_now`).
    """
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    made = set() if made is None else made
    base = os.fspath(root)
    for path in sorted(tree):
        if keep_going is not None and not keep_going():
            raise OSError(errno.ECANCELED, "the compile that started this write has ended")
        parent, _, _ = path.rpartition("/")
        if parent and parent not in made:
            _make_folder(base, parent, made)
        write_file(f"{base}/{path}", tree[path], durable_each)
        if progress is not None:
            progress(1)
        if delay:
            time.sleep(delay)
    if durable_each:
        for directory in sorted(made, key=len, reverse=True):
            fsync_path(root / directory)
        fsync_path(root)


def _no_sync(path: Path) -> None:
    """Stand-in for :func:`fsync_path` when durability was not asked for."""


_DOTS = re.compile(r"(?:^|/)\.\.?(?:/|$)", re.MULTILINE)
"""In paths joined by newlines: a ``.`` or ``..`` part."""


def _validate_paths(tree: Mapping[str, object]) -> None:
    """Raise ``ValueError`` for a path that could escape the tree (every compile checks ~25,000: substring
    tests and one regex over them all; the per-path loop only names the culprit, or handles a newline)."""
    joined = "\n".join(tree)
    if not tree or ("" not in tree and joined.count("\n") == len(tree) - 1 and "\\" not in joined and "//" not in joined
                    and not joined.startswith(("/", "\n")) and not joined.endswith(("/", "\n"))
                    and "\n/" not in joined and "/\n" not in joined and "\n\n" not in joined
                    and (("/." not in joined and "\n." not in joined and not joined.startswith("."))
                         or not _DOTS.search(joined))):
        return
    for path in tree:
        parts = path.split("/")
        if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"unsafe output path {path!r}")


def write_tree(
    tree: Mapping[str, bytes], out: Path, progress: Callable[[int], None] | None = None, *, durable: bool = False
) -> None:
    """Replace the folder ``out`` with exactly ``tree``, atomically.

    Atomic against the process dying at any point (``kill -9``, Ctrl-C, a crash): the new tree is
    complete before one rename swaps it in, so readers see the old tree or the new one, never a mix.
    ``durable`` also flushes the new tree to the disk before the swap, so it survives a power loss
    too. That costs seconds on a large tree (it waits for the disk), and ``generated/`` is committed
    and reproducible from the specs, so it is opt-in (``paybill compile --durable``).

    Raises :class:`UnsafeOutput` when ``out`` is not ours to replace, ``OSError`` when the disk
    says no (the old tree is then untouched), ``ValueError`` for a path escaping the tree.
    """
    _validate_paths(tree)
    out, scratch = prepare_scratch(out)
    try:
        fill_scratch(scratch, tree, progress, durable=durable)
        swap_in(scratch, out, durable=durable)
    except BaseException:
        discard(scratch)
        raise


def prepare_scratch(out: Path) -> tuple[Path, Path]:
    """Check that ``out`` may be replaced and make the empty sibling folder to build its successor in.

    Returns ``out`` made absolute and the scratch folder. Raises :class:`UnsafeOutput` or ``OSError``.
    """
    out = Path(os.path.abspath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    check_replaceable(out)
    return out, _scratch(out, "tmp")


def fill_scratch(
    scratch: Path, tree: Mapping[str, bytes], progress: Callable[[int], None] | None = None, *, durable: bool = False
) -> None:
    """Write ``tree`` into ``scratch``; with ``durable``, fsync each file where ``syncfs`` is missing."""
    _fill(scratch, tree, progress, durable_each=durable and not has_syncfs())


def swap_in(scratch: Path, out: Path, *, durable: bool = False, keep: Callable[[Path], bool] | None = None) -> None:
    """Make the complete tree in ``scratch`` become ``out`` in one step (the old tree is removed).

    ``keep``: offered the old tree's folder after an atomic exchange; when it returns True it took
    the folder (:func:`paybill.write.spare.keep_spare`) and nothing is deleted. On failure the old
    tree is where it was and ``scratch`` is left for the caller to :func:`discard`.
    """
    # One syncfs after writing everything is far cheaper than an fsync per file (fill_scratch falls
    # back to per-file fsync when the platform lacks it). Either way the data is durable before the swap.
    if durable and has_syncfs():
        syncfs(scratch)
    sync_parent = fsync_path if durable else _no_sync
    old: Path | None = None
    try:
        if out.exists():
            if exchange(scratch, out):
                sync_parent(out.parent)
                if keep is None or not keep(scratch):
                    _rmtree(scratch)  # now the old tree
                return
            old = _scratch(out, "old")
            os.rmdir(old)
            os.rename(out, old)  # a crash right here is repaired by recover() on the next write
            os.rename(scratch, out)
            sync_parent(out.parent)
            _rmtree(old)
            return
        os.rename(scratch, out)
        sync_parent(out.parent)
    except BaseException:
        if old is not None and old.exists() and not out.exists():
            os.rename(old, out)
        raise


def discard(scratch: Path) -> None:
    """Remove a scratch tree that will not be swapped in."""
    if scratch.exists():
        _rmtree(scratch, ignore_errors=True)


def _rmtree(path: Path, ignore_errors: bool = False) -> None:
    """``shutil.rmtree``, imported only when a tree is removed (a compile that patches the spare removes
    none; ``shutil`` and the ``bz2``, ``lzma`` it loads are ~3 ms of imports)."""
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)
