"""What a server serves: a bundle and a catalog of one compile, at the revision the database runs.

Why this module. ``paybill serve`` decides with the bundle (Cedar: which tenant is in which
lifecycle state, which step may do what) and acts with the catalog (which tables, columns and
roles exist; which tenants each agent role's row-level security admits). Both are outputs of one
``paybill compile``, and the database runs one of them (``paybill db migrate`` records its
revision in the ledger). Three things must therefore agree, at start and for as long as it serves:

* **bundle and catalog** (:func:`mismatch`, PB1313): every spec file both were compiled from has
  the same sha256 in the bundle's ``manifest.json`` and the catalog's ``migrations.json``
  (``sources``), and every tenant the catalog lets the agent act for is a tenant the bundle knows.
  A bundle of one compile beside the catalog of another would decide with one state of the specs
  (a tenant ``active``) while PostgreSQL enforces another (its rows hidden because it is
  ``suspended``): the agent would get empty reads instead of a refusal with the reason. Files only
  one of them lists do not matter to the other (a tenant of another database), so they are not
  compared;
* **catalog and database**: the catalog's ``revision`` is the one the ledger records last for its
  database (:mod:`paybill.serve.revision`, PB1312 at start);
* **while serving**: a migrate moves the ledger; the server then loads both again from their
  folders (:func:`load`, verified exactly as at start) - see :class:`paybill.serve.service.Service`.

A compile swaps the whole ``generated/`` folder at once, but a reader opening bundle and catalog
file by file may straddle a swap: :func:`load` reads the catalog before and after the bundle and
starts again when it changed in between.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paybill.contract.sql_catalog import CatalogError, DatabasePlan, plan_from_catalog
from paybill.guard import BundleError, Guard, LoadedBundle
from paybill.guard.cache import DecisionCache
from paybill.guard.clock import Clock
from paybill.guard.files import read_regular
from paybill.guard.log import DecisionLog
from paybill.guard.revisions import RevisionStore

MISMATCH = "PB1313"
CATALOG_FILE = "migrations.json"
MAX_CATALOG_BYTES = 64 * 1024 * 1024
SWAP_RETRIES = 5
"""Loads of a bundle and catalog pair started again because the catalog changed while the bundle was read."""
SAME_COMPILE = ("serve the bundle and the catalog of the same `paybill compile` (generated/bundles/<agent> and "
                "generated/sql/<database> of one commit)")


class Refused(Exception):
    """What was loaded cannot be served: a PB13xx code, the file it concerns, a message and a hint."""

    def __init__(self, code: str, path: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code, self.path, self.message, self.hint = code, path, message, hint

    def problem(self) -> tuple[str, str, str, str]:
        """(path, code, message, hint), as ``paybill serve`` reports a start-up problem."""
        return self.path, self.code, self.message, self.hint


@dataclass(frozen=True)
class Catalog:
    """A database's compiled folder as the server uses it: the plan, and what identifies its compile."""

    folder: Path
    plan: DatabasePlan
    database: str
    revision: str
    """What ``paybill db migrate`` of this folder records in the ledger."""
    sources: dict[str, str]
    """Spec file -> sha256, of every spec file the folder was compiled from."""
    data: bytes
    """``migrations.json`` as read (to tell whether it changed since)."""


@dataclass(frozen=True)
class Origin:
    """Where the served bundle and catalog come from, and how the bundle is verified (the options of
    ``paybill serve``): loading again after a migrate checks exactly what the start checked."""

    bundle: Path
    catalog: Path
    public_key: tuple[Path, ...] = ()
    """The trusted public keys (``--public-key``, repeated during a key rotation); empty: none."""
    expect_agent: str | None = None
    revision_store: Path | None = None


def _catalog_refused(folder: Path, message: str) -> Refused:
    return Refused("PB1302", (folder / CATALOG_FILE).as_posix(), message,
                   "pass the database's folder generated/sql/<database> (recompile if it was edited)")


def read_catalog(folder: Path) -> Catalog:
    """Read ``folder/migrations.json`` once (a regular file, capped) and rebuild its plan; :class:`Refused`
    (PB1302) when it cannot be used."""
    try:
        data = read_regular(folder / CATALOG_FILE, MAX_CATALOG_BYTES)
        index = json.loads(data)
        if not isinstance(index, dict) or not isinstance(index.get("catalog"), dict):
            raise CatalogError(f"{(folder / CATALOG_FILE).as_posix()} has no catalog")
        plan = plan_from_catalog(index["catalog"])
    except (OSError, ValueError) as exc:  # FileRefused is an OSError; CatalogError and JSON errors ValueErrors
        raise _catalog_refused(folder, f"the catalog is unusable: {type(exc).__name__}: {exc}") from None
    database, revision = index.get("database"), index.get("revision")
    if not (isinstance(database, str) and isinstance(revision, str) and database and revision):
        raise _catalog_refused(folder, "the catalog names no database revision")
    return Catalog(folder, plan, database, revision, _sources(index.get("sources")), data)


def _sources(listed: Any) -> dict[str, str]:
    """``[{"path", "sha256"}, ...]`` as a mapping; entries of another shape are left out (nothing to compare)."""
    found: dict[str, str] = {}
    for entry in listed if isinstance(listed, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str):
            found[entry["path"]] = entry["sha256"]
    return found


def mismatch(bundle: LoadedBundle, catalog: Catalog) -> Refused | None:
    """Why ``bundle`` and ``catalog`` are not of one compile (PB1313), or None.

    Compared: the sha256 of every spec file both list under ``sources``, and the tenants the catalog
    lets the agent act for in this database, which the bundle must know (a tenant added to the specs
    after the bundle was compiled has no Cedar entity: the agent would be refused it as out of scope
    while PostgreSQL admits its rows).
    """
    path = (bundle.path / "manifest.json").as_posix()
    theirs = _sources(bundle.manifest.get("sources"))
    differ = sorted(p for p in set(theirs) & set(catalog.sources) if theirs[p] != catalog.sources[p])
    if differ:
        more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
        return Refused(MISMATCH, path,
                       f"bundle revision {bundle.revision[:12]} and catalog {catalog.folder.as_posix()} (revision "
                       f"{catalog.revision[:12]}) were compiled from different versions of {differ[0]}{more}",
                       SAME_COMPILE)
    agent = next((a for a in catalog.plan.agents if a.name == bundle.agent), None)
    unknown = sorted(set(agent.tenants if agent else ()) - set(bundle.tenant_lifecycles))
    if unknown:
        return Refused(MISMATCH, path,
                       f"catalog {catalog.folder.as_posix()} lets agent '{bundle.agent}' act for tenant "
                       f"'{unknown[0]}', which bundle revision {bundle.revision[:12]} does not know", SAME_COMPILE)
    return None


def no_role(agent: str, catalog: Catalog) -> Refused | None:
    """PB1308 when the agent has no role in the catalog's database."""
    if any(a.name == agent for a in catalog.plan.agents):
        return None
    return Refused("PB1308", (catalog.folder / CATALOG_FILE).as_posix(),
                   f"agent '{agent}' has no role in database '{catalog.plan.key}'",
                   "serve the agent against a database that stores tenants of its scope")


def load(origin: Origin, *, clock: Clock, log: DecisionLog | None, cache: DecisionCache | None = None,
         ledger: str | None = None) -> tuple[Guard, Catalog]:
    """The bundle and the catalog of ``origin``, verified as ``paybill serve`` verifies them at start
    (hashes, signature, agent, goldens; a usable catalog in which the agent has a role; one compile;
    then the revision store); :class:`Refused` with the first problem.

    ``log`` and ``cache``: the serving guard's, so a process keeps one decision log (one hash chain)
    across loads. ``ledger``: the revision the database's ledger records last; a catalog of another
    revision is refused before the revision store records anything, and one of that revision is the
    deployed one (:func:`admit_revision`).
    """
    for attempt in range(SWAP_RETRIES + 1):
        catalog = read_catalog(origin.catalog)
        try:
            guard = Guard.load(origin.bundle, list(origin.public_key) or None, clock=clock,
                               expect_agent=origin.expect_agent, log=log, cache=cache)
        except BundleError as exc:
            raise _bundle_refused(origin.bundle, exc) from None
        problem = no_role(guard.agent, catalog) or mismatch(guard.bundle, catalog)
        if problem is None:
            if ledger is not None and catalog.revision != ledger:
                raise Refused("PB1312", (catalog.folder / CATALOG_FILE).as_posix(),
                              f"--catalog {origin.catalog.as_posix()} holds revision {catalog.revision[:12]} of "
                              f"{catalog.database}, the database is migrated to {ledger[:12]}", SAME_COMPILE)
            admit_revision(origin, guard, current=ledger is not None)
            return guard, catalog
        if attempt == SWAP_RETRIES or _unchanged(origin.catalog, catalog.data):
            raise problem
    raise AssertionError("unreachable")  # pragma: no cover


def admit_revision(origin: Origin, guard: Guard, *, current: bool) -> None:
    """Record the served bundle's revision in ``--revision-store`` (if any): a revision loaded here before
    a newer one is refused as a rollback (PB1301), unless ``current``.

    ``current``: the database's ledger records this bundle's compile as its last migrate (the catalog
    is that revision, PB1312, and the bundle of the same compile, PB1313), so the revision is what is
    deployed, not a replay of an old bundle: a tenant suspended then reactivated compiles to the
    revision it had before the suspension, and the server must serve it again. Checked after every
    other check, so a bundle that is refused for another reason never enters the store.
    """
    if origin.revision_store is None:
        return
    try:
        RevisionStore(origin.revision_store).admit(guard.agent, guard.bundle.revision, current=current)
    except BundleError as exc:
        raise _bundle_refused(origin.bundle, exc) from None


def _bundle_refused(bundle: Path, exc: BundleError) -> Refused:
    return Refused("PB1301", (bundle / "manifest.json").as_posix(), f"bundle refused ({exc.reason}): {exc}",
                   "serve only what `paybill compile` wrote and review approved")


def _unchanged(folder: Path, data: bytes) -> bool:
    try:
        return read_regular(folder / CATALOG_FILE, MAX_CATALOG_BYTES) == data
    except OSError:
        return False


__all__ = ["MISMATCH", "Catalog", "Origin", "Refused", "admit_revision", "load", "mismatch", "no_role",
           "read_catalog"]
