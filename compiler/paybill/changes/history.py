"""Commits touching a path, with the blobs of every file they changed, in one git call."""

from __future__ import annotations

from dataclasses import dataclass, field

from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import SpecsLocation
from paybill.gitio.sources import _hidden, under
from paybill.load import SpecDocument

ZERO = "0" * 40
SPEC_SUFFIXES = (".yaml", ".yml")
"""What counts as a spec file in history (the loader's discovery reads the same suffixes)."""
_FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cn%x1f%ce%x1f%cI%x1f%B%x1f"


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed file: repository path and the blob before and after (None when absent)."""

    path: str
    old: str | None
    new: str | None
    old_mode: str = ""
    new_mode: str = ""
    """Git file modes (``100644``, ``120000`` a symlink, ``000000`` absent...)."""
    others: tuple[str | None, ...] = ()
    """For a merge: the blob in each parent after the first (``old`` is the first parent's). A merge
    lists only the files that differ from every parent (git's dense combined diff)."""


@dataclass
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str
    files: list[FileChange] = field(default_factory=list)


def loaded_spec_file(path: str, prefix: str) -> bool:
    """Whether the loader reads ``path`` (a repository path) as a spec file: below the specs root, a
    spec suffix, no hidden part. History is compared through these files only, as the loader sees the
    tree: a hidden copy of a spec (``specs/.old/hooli.yaml``) is never loaded, so it must not stand in
    for the spec it copies when a commit's changes are worked out."""
    return path.endswith(SPEC_SUFFIXES) and under(path, prefix) and not _hidden(path, prefix)


def _parse_raw(raw: bytes) -> list[FileChange]:
    tokens = raw.split(b"\0")
    files: list[FileChange] = []
    i = 0
    while i < len(tokens):
        token = tokens[i].strip(b"\n")
        if not token.startswith(b":"):
            i += 1
            continue
        parents = len(token) - len(token.lstrip(b":"))  # a merge's combined line starts with one ':' per parent
        meta = token[parents:].decode().split(" ")
        path = tokens[i + 1].decode("utf-8", errors="surrogateescape") if i + 1 < len(tokens) else ""
        i += 2
        modes, blobs = meta[:parents + 1], meta[parents + 1:2 * parents + 2]
        if len(modes) != parents + 1 or len(blobs) != parents + 1:
            continue
        present = [None if blob == ZERO or mode in ("000000", "160000") else blob
                   for mode, blob in zip(modes, blobs, strict=True)]
        files.append(FileChange(path, present[0], present[-1], modes[0], modes[-1], tuple(present[1:-1])))
    return files


def changed_files(repo: GitRepo, old: str, new: str, *prefixes: str) -> list[FileChange]:
    """Files below ``prefixes`` (all files when one is '') that differ between two commits (one
    ``git diff-tree``; no rename detection)."""
    args = ["diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", old, new]
    if all(prefixes):
        args += ["--", *prefixes]
    return _parse_raw(repo.run_bytes(*args))


def walk_history(repo: GitRepo, prefix: str, *, since: str | None = None, until: str | None = None,
                 author: str | None = None, rev: str = "HEAD", merges: bool = False) -> list[CommitInfo]:
    """Non-merge commits reachable from ``rev`` that touch ``prefix``, oldest first.

    Merge commits are skipped: with merge or rebase workflows every change is in the non-merge
    commits, and a merge would repeat them (squash merges are ordinary commits and are kept).
    ``merges=True`` lists them too, each with only the files that differ from *every* parent (git's
    dense combined diff, ``--cc``): what the merge itself changed, such as a conflict resolved by
    hand or an edit slipped into the merge. Their :class:`FileChange` carry the other parents' blobs.
    """
    args = ["log", "--reverse", "--raw", "--no-abbrev", "--no-renames", "-z", f"--format={_FORMAT}"]
    args.insert(1, "--cc" if merges else "--no-merges")
    if since:
        args.append(f"--since={since}")
    if until:
        args.append(f"--until={until}")
    if author:
        args.append(f"--author={author}")
    args += [rev, "--"]
    if prefix:
        args.append(prefix)
    out = repo.run_bytes(*args)
    commits: list[CommitInfo] = []
    for chunk in out.split(b"\x1e"):
        if not chunk.strip(b"\0\n"):
            continue
        parts = chunk.split(b"\x1f", 9)
        if len(parts) < 10:
            continue
        text = [p.decode("utf-8", errors="replace") for p in parts[:9]]
        commits.append(CommitInfo(text[0], tuple(text[1].split()), text[2], text[3], text[4], text[5], text[6],
                                  text[7], text[8], _parse_raw(parts[9])))
    return commits


def documents_at(files: list[tuple[str, str]], where: SpecsLocation, cache: BlobCache,
               contents: dict[str, bytes]) -> dict[tuple[str, str], SpecDocument]:
    docs: dict[tuple[str, str], SpecDocument] = {}
    for path, blob in files:
        display = where.display(path)
        parsed = cache.get(blob, display)
        if parsed is None:
            parsed = cache.parse(blob, display, contents[blob])
        for doc in parsed.documents:
            if doc.kind and doc.name:
                docs.setdefault((doc.kind, doc.name), doc)
    return docs
