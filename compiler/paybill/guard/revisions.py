"""The revision store: which bundle revisions a deployment has loaded, so an older one is refused.

A bundle revision is a content hash (``manifest.json`` ``revision``): it names a bundle but has no
order, so "older" can only mean "loaded here before the newest one". The store is a small JSON
file the caller keeps next to the guard (one per agent and deployment)::

    {"agent": "ops-agent", "format": "paybill.dev/revision-store/v1", "revisions": ["<oldest>", ..., "<newest>"]}

:meth:`RevisionStore.admit` refuses (``BundleError`` reason ``rollback``) a revision that is in the
list but not its last entry, accepts the newest again, and appends a revision it has not seen (after
the bundle passed every other check). A store of another agent, or one that cannot be read or
written, refuses the bundle too (``store``): the guard fails closed. A revision never loaded here is
taken as new; the oldest entries beyond ``MAX_REVISIONS`` are forgotten.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson

from paybill.guard.bundle import BundleError
from paybill.guard.files import read_regular

STORE_FORMAT = "paybill.dev/revision-store/v1"
MAX_REVISIONS = 4096
MAX_STORE_BYTES = 1024 * 1024


class RevisionStore:
    """The revisions one agent's bundle had here, oldest first, kept in the JSON file ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def revisions(self, agent: str) -> list[str]:
        """The recorded revisions (oldest first); empty when the file does not exist yet."""
        try:
            data = orjson.loads(read_regular(self.path, MAX_STORE_BYTES))
        except FileNotFoundError:
            return []
        except (OSError, orjson.JSONDecodeError) as exc:  # FileRefused is an OSError
            raise BundleError("store", f"revision store {self.path.as_posix()} cannot be read: {exc}") from None
        revisions = data.get("revisions") if isinstance(data, dict) else None
        if (not isinstance(data, dict) or data.get("format") != STORE_FORMAT or not isinstance(revisions, list)
                or not all(isinstance(r, str) for r in revisions)):
            raise BundleError("store", f"revision store {self.path.as_posix()} is not a {STORE_FORMAT} file")
        if data.get("agent") != agent:
            raise BundleError("store", f"revision store {self.path.as_posix()} belongs to agent "
                                       f"{data.get('agent')!r}, not '{agent}'")
        return revisions

    def admit(self, agent: str, revision: str, *, current: bool = False) -> None:
        """Refuse ``revision`` if a newer one was loaded here since; else record it as the newest.

        ``current``: the caller has proved that ``revision`` is what is deployed now, not a replay
        (``paybill serve``: the database's ledger records this compile's catalog as its last migrate,
        and the bundle is of that compile, PB1312/PB1313). A revision seen before is then recorded as
        the newest again instead of refused: revisions are content hashes, so suspending a tenant
        and reactivating it recreates an earlier revision, which is the deployed truth again.
        """
        revisions = self.revisions(agent)
        if revisions and revisions[-1] == revision:
            return
        if revision in revisions and current:
            self._write(agent, [*(r for r in revisions if r != revision), revision][-MAX_REVISIONS:])
            return
        if revision in revisions:
            newer = len(revisions) - 1 - revisions.index(revision)
            raise BundleError("rollback", f"revision {revision[:12]} is older than the newest loaded here "
                                          f"({revisions[-1][:12]}, {newer} revision(s) later); "
                                          f"see {self.path.as_posix()}")
        self._write(agent, [*revisions, revision][-MAX_REVISIONS:])

    def _write(self, agent: str, revisions: list[str]) -> None:
        """Replace the file atomically (a temporary file in the same folder, then ``os.replace``)."""
        data = orjson.dumps({"agent": agent, "format": STORE_FORMAT, "revisions": revisions},
                            option=orjson.OPT_SORT_KEYS) + b"\n"
        folder = self.path.parent
        try:
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)  # pragma: no mutate (it exists: mkstemp made it)
                raise
        except OSError as exc:
            raise BundleError("store", f"revision store {self.path.as_posix()} cannot be written: "
                                       f"{exc.strerror or exc}") from None
