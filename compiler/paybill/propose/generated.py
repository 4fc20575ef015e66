"""The recompiled ``generated/`` a proposal commits together with its spec edit.

A spec repository commits its compiled output and the pull-request check runs
``paybill compile --check``, so a proposal that carried only the spec edit would fail that check on
its own branch. The proposed tree is compiled here from the *proposed specs in memory* (the
documents of the base commit with the edited files replaced, never the user's work tree) and
compared with the base commit's ``generated/`` in git: every added, changed and removed file
becomes part of the proposal commit, so the branch's ``generated/`` is byte for byte what
``paybill compile`` would write from its specs.

The output folder is where ``paybill compile SPECS`` puts it when run from the repository root
(``generated/`` beside the specs folder, the layout the shipped workflows use; ``--out`` for
another); see :func:`paybill.changes.committed.generated_prefix`, which ``paybill plan`` reads the same
folder by.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from paybill.changes.committed import MANIFEST, generated_prefix
from paybill.diagnostics import Diagnostic, DiagnosticSink, Position
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import Snapshot
from paybill.gitio.sources import blob_hash
from paybill.write.tree import MANIFEST_MARKER

CODE_NOT_OURS = "PB0983"
"""The output folder of the base commit holds files but no paybill manifest: it is not replaced."""


@dataclass
class GeneratedChange:
    """What committing the proposed tree's compile does to ``prefix`` (repository paths)."""

    prefix: str
    written: dict[str, bytes] = field(default_factory=dict)
    """Added or changed files: repository path -> new bytes."""
    removed: list[str] = field(default_factory=list)
    """Files of the base commit's output folder the new compile does not produce."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    """Files in the new output tree."""

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def as_commit_files(self) -> dict[str, bytes | None]:
        """Repository path -> bytes, or None for a removal (what :func:`create_branch` takes)."""
        files: dict[str, bytes | None] = dict(self.written)
        files.update(dict.fromkeys(self.removed))
        return files


def output_prefix(repo: GitRepo, specs_prefix: str, out: Path | None) -> str:
    """The repository prefix of the output folder: ``out`` when given, else ``generated/`` beside the specs."""
    if out is None:
        return generated_prefix(specs_prefix)
    return repo.relative(Path(os.path.abspath(out)))


def _overlaps(a: str, b: str) -> bool:
    return a == b or a == "" or b == "" or a.startswith(b + "/") or b.startswith(a + "/")


def recompile(repo: GitRepo, base_commit: str, head: Snapshot, specs_prefix: str, prefix: str) -> GeneratedChange:
    """Compile ``head`` (an already validated snapshot) and diff it against ``base_commit``'s ``prefix``.

    Like ``paybill compile``, it replaces only a folder that is absent, empty or paybill's own output
    (a ``manifest.json`` paybill wrote), and never one that is, contains or lies inside the specs."""
    from paybill.compile import compile_index

    change = GeneratedChange(prefix)
    if _overlaps(prefix, specs_prefix):
        change.diagnostics.append(Diagnostic(
            CODE_NOT_OURS, f"the output folder '{prefix or '.'}/' would replace the specs folder '{specs_prefix}/'",
            prefix or ".", Position(), "give --out a folder of its own, like generated"))
        return change
    committed = {entry.path: entry for entry in repo.ls_tree(base_commit, prefix)}
    manifest = committed.get(f"{prefix}/{MANIFEST}")
    if committed and (manifest is None or MANIFEST_MARKER not in repo.read_blob(manifest.blob)[:4096]):
        change.diagnostics.append(Diagnostic(
            CODE_NOT_OURS, f"'{prefix}/' in the base commit holds files but no paybill {MANIFEST}; refusing to "
            "replace it", prefix, Position(),
            "move those files elsewhere, or give --out the folder paybill compile writes"))
        return change
    result = compile_index(head.index, DiagnosticSink(), files=len(head.files))
    change.diagnostics = [d for d in result.diagnostics if d not in head.diagnostics]
    if not result.ok:
        return change
    change.files = len(result.tree)
    for path, data in result.tree.items():
        repo_path = f"{prefix}/{path}"
        entry = committed.pop(repo_path, None)
        if entry is None or entry.mode != "100644" or entry.blob != blob_hash(data):
            change.written[repo_path] = data
    change.removed = sorted(committed)
    return change
