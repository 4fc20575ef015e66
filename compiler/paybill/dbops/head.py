"""What the specs say at HEAD about a tenant: its committed entitlements, read from git objects.

Erasing is irreversible, so it trusts only what was reviewed and merged: ``generated/tenants/<t>.json``
in the HEAD commit of the repository holding the database folder, not the working tree (an
uncommitted edit to ``lifecycle: deleted`` must not unlock an erasure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paybill.dbops.errors import Problem


@dataclass(frozen=True)
class TenantAtHead:
    lifecycle: str | None
    retain_until: str | None
    database_layer: str | None = None
    """Where its rows live at HEAD: ``pooled`` or ``silo`` (``isolation.layers.database``, or the model)."""
    pool: str | None = None
    """``placement.pool`` at HEAD."""
    migration_phase: str | None = None
    """``isolation.migration.phase`` while an isolation migration is under way, else None."""

    def moved_out_of(self, pool: str) -> bool:
        """Whether the tenant is live but its rows no longer belong to ``pool``'s database: its database
        layer moved to a dedicated database, or to another pool, and no isolation migration is still
        before ``decommission`` (until then the pool's rows are the copy source or the rollback)."""
        if self.migration_phase not in (None, "decommission"):
            return False
        return self.database_layer == "silo" or (self.database_layer == "pooled" and self.pool not in (None, pool))


def tenant_at_head(folder: Path, tenant: str) -> tuple[TenantAtHead | None, list[Problem]]:
    """``folder`` is ``<generated>/sql/<database>``; the entitlements are ``<generated>/tenants/<t>.json``."""
    import git  # GitPython: imported here, only erase needs it

    where = (folder / "migrations.json").as_posix()
    try:
        repo = git.Repo(folder.resolve(), search_parent_directories=True)
        root = Path(repo.working_tree_dir or "").resolve()
        relative = (folder.resolve().parent.parent / "tenants" / f"{tenant}.json").relative_to(root).as_posix()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError) as exc:
        return None, [Problem("PB1109", f"cannot read the specs at HEAD: {type(exc).__name__}: {exc}", where,
                              "run erase from a checkout of the spec repository holding this folder")]
    try:
        # One short `git show` rather than GitPython's object database, whose persistent `cat-file`
        # helpers cost more than the rest of an erase.
        data: dict[str, Any] = json.loads(repo.git.show(f"HEAD:{relative}", strip_newline_in_stdout=False))
    except git.GitCommandError:
        try:
            commit = repo.git.rev_parse("HEAD", verify=True)[:12]
        except git.GitCommandError:
            commit = "no commit yet"
        return None, [Problem("PB1109", f"{relative} is not in HEAD ({commit})", where,
                              "the tenant must be committed with lifecycle: deleted (and compiled) before erasing")]
    except ValueError as exc:
        return None, [Problem("PB1109", f"{relative} at HEAD is not JSON: {exc}", where)]
    lifecycle = data.get("lifecycle")
    retain = data.get("retainUntil")
    isolation = _mapping(data.get("isolation"))
    layer = _mapping(isolation.get("layers")).get("database", isolation.get("model"))
    placement = _mapping(data.get("placement"))
    migration = _mapping(isolation.get("migration"))
    return TenantAtHead(_text(lifecycle), _text(retain), layer if layer in ("pooled", "silo") else None,
                        _text(placement.get("pool")), _text(migration.get("phase"))), []


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
