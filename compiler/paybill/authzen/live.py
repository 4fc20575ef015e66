"""Following the deployed bundle folder: the guard an AuthZEN endpoint decides with *now*.

Why. ``paybill compile`` replaces ``generated/`` as a whole (a new tree swapped in), and a deploy
copies or syncs a new bundle folder in place of the old. A policy decision point that kept the
bundle it loaded at start would go on answering with the old permissions (a tenant suspended by
the new compile still ``active``) until someone restarts it. :class:`LiveGuard` notices a new bundle
before each decision and loads it, verified exactly as at start; a bundle it cannot load makes every
decision refused with the reason (:class:`Unavailable`), never answered by the previous bundle.

How it notices, cheaply. Before each request it ``os.stat``\\ s the folder's ``manifest.json``
(about 1 microsecond; a decision costs about 9): device, inode, size, modification and change time.
Any deploy replaces or rewrites the manifest (it holds the revision, the hash of every file), so a
new bundle always changes that identity; the change time cannot be set back by a user, so an edit
in place is seen too. An unchanged identity costs nothing more; a changed one loads the folder
(hashes, signature with the trusted keys, the agent, Cedar validation, golden decisions, then the
revision store), and the identity is taken *before* that load, so a swap during the load is seen by
the next request and loaded again (the load itself re-reads a bundle whose manifest changed under
it, :func:`paybill.guard.bundle.load_bundle`).

Decisions made while a new bundle is loaded wait for it (the load runs on the request's thread,
under a lock): an answer is never given from the bundle the folder no longer holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paybill.contract.bundle import MANIFEST_FILE
from paybill.guard.bundle import BundleError
from paybill.guard.guard import Guard
from paybill.guard.shadow import ShadowGuard

Decider = Guard | ShadowGuard
Identity = tuple[int, int, int, int, int] | None
"""(device, inode, size, mtime ns, ctime ns) of ``manifest.json``; None when it cannot be stat'ed."""


class Unavailable(Exception):
    """No bundle may decide now: the deployed folder was refused (the message says why)."""


@dataclass(frozen=True)
class Origin:
    """Where the bundle comes from and how it is verified (the options of ``paybill authzen``), so a
    reload checks exactly what the start checked."""

    bundle: Path
    public_key: tuple[Path, ...] = ()
    """Trusted public keys (``--public-key``, several during a key rotation); empty: none."""
    expect_agent: str | None = None
    revision_store: Path | None = None
    """``--revision-store``: a revision loaded here before a newer one is refused (``rollback``)."""


def identity(manifest: str) -> Identity:
    """What changes whenever the file ``manifest`` is replaced or rewritten (see the module docstring)."""
    try:
        st = os.stat(manifest)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def load(origin: Origin, expect_agent: str | None = None) -> Guard:
    """The bundle of ``origin``, verified as at start; :class:`BundleError` when refused.

    ``expect_agent``: the agent the endpoint already decides for, when ``origin`` names none: a
    folder that now holds another agent's bundle is refused (``agent``), not served under the
    endpoint's name.
    """
    return Guard.load(origin.bundle, list(origin.public_key) or None,
                      expect_agent=origin.expect_agent or expect_agent, revisions=origin.revision_store)


class LiveGuard:
    """The guard of the bundle its folder holds now (:meth:`current`), loaded again when it changes.

    ``wrap`` turns a loaded guard into what decides (``paybill authzen --shadow``: a ShadowGuard
    sharing the candidate and its log). ``report`` is told, once per change, what is served or why
    nothing is (``paybill authzen`` writes it to standard error).
    """

    def __init__(self, origin: Origin, guard: Guard, seen: Identity, *,
                 wrap: Callable[[Guard], Decider] | None = None, report: Callable[[str], None] | None = None) -> None:
        self.origin = origin
        self.agent = guard.agent
        self.guard = guard
        """The guard of the last bundle loaded (``current()`` may be its ``wrap``)."""
        self._manifest = os.fspath(origin.bundle / MANIFEST_FILE)  # built once: a Path join costs as much as the stat
        self._wrap = wrap or (lambda loaded: loaded)
        self._report = report or (lambda message: None)
        self._decider: Decider = self._wrap(guard)
        self._seen = seen
        self._refusal: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, origin: Origin, *, wrap: Callable[[Guard], Decider] | None = None,
             report: Callable[[str], None] | None = None) -> LiveGuard:
        """Load ``origin`` once (:class:`BundleError` when refused) and follow it from then on."""
        seen = identity(os.fspath(origin.bundle / MANIFEST_FILE))
        return cls(origin, load(origin), seen, wrap=wrap, report=report)

    def current(self) -> Decider:
        """What decides now; :class:`Unavailable` (with the reason) while the deployed folder is refused."""
        seen = identity(self._manifest)
        if seen != self._seen or seen is None:
            with self._lock:
                if seen != self._seen or seen is None:
                    self._reload(seen)
        if self._refusal is not None:
            raise Unavailable(self._refusal)
        return self._decider

    def _reload(self, seen: Identity) -> None:
        """Load the folder again; on refusal keep nothing of the old bundle in service.

        ``seen`` becomes the followed identity only once the load ended: a request on another thread
        that sees the new manifest meanwhile finds it unlike the followed one and waits on the lock
        for this load, instead of taking the unlocked path to the decider of the bundle replaced.
        """
        before = self._refusal
        try:
            guard = load(self.origin, self.agent)
        except BundleError as exc:
            self._refusal = f"bundle {self.origin.bundle.as_posix()} refused ({exc.reason}): {exc}"
        except Exception as exc:  # fail closed: anything that breaks a load is a refusal, with its kind
            self._refusal = f"bundle {self.origin.bundle.as_posix()} could not be loaded ({type(exc).__name__})"
        else:
            previous = None if before is not None else self._decider.revision
            self.guard, self._decider, self._refusal = guard, self._wrap(guard), None
            self._seen = seen
            if guard.revision != previous:
                self._report(f"now deciding with revision {guard.revision[:12]} of {self.origin.bundle.as_posix()}")
            return
        self._seen = seen
        if self._refusal != before:
            self._report(f"{self._refusal}; every decision is refused (HTTP 503) until the folder holds a "
                         "bundle that loads")

    def rewrap(self, wrap: Callable[[Guard], Decider]) -> None:
        """Decide with ``wrap(guard)`` from now on, for this bundle and every one loaded later."""
        with self._lock:
            self._wrap = wrap
            self._decider = wrap(self.guard)

    @property
    def revision(self) -> str | None:
        """The revision deciding now (None while refused), without checking the folder."""
        return None if self._refusal is not None else self._decider.revision


__all__ = ["Decider", "LiveGuard", "Origin", "Unavailable", "identity", "load"]
