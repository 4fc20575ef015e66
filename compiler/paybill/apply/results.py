"""Per-stack results of ``apply run``: one JSON file per shard, the artifact a re-run resumes from.

A record says what happened to one unit (apply, migrate, destroy) of one stack at one commit and
content hash. ``apply run --resume DIR`` reads every record under DIR (the artifacts of earlier
attempts of the same workflow run) and skips a unit that an earlier attempt finished for the same
commit and hash, so re-running a failed run only redoes what did not finish. The file is rewritten
(atomically) after every unit, so a job cancelled half-way still leaves what it finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from paybill.contract.files import read_regular

DONE = frozenset({"applied", "migrated", "destroyed"})


@dataclass(frozen=True, slots=True)
class Record:
    address: str
    action: str
    hash: str
    commit: str | None
    status: str
    """``applied``, ``migrated``, ``destroyed``, ``skipped`` (done by an earlier attempt) or ``failed``."""
    attempts: int = 0
    code: str | None = None
    error: str | None = None
    seconds: float = 0.0

    def key(self) -> tuple[str, str, str, str | None]:
        return (self.address, self.action, self.hash, self.commit)

    def finished(self) -> bool:
        return self.status in DONE or self.status == "skipped"


def write_records(path: Path, shard: str, records: list[Record]) -> None:
    """Write ``records`` to ``path`` atomically (rename over), sorted by stack."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"kind": "ApplyResults", "shard": shard,
                "stacks": [asdict(r) for r in sorted(records, key=lambda r: (r.address, r.action))]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def finished_units(folders: list[Path]) -> set[tuple[str, str, str, str | None]]:
    """Keys of every unit an earlier attempt finished, from the result files under ``folders``.

    A file that is not a results document is ignored (never trusted to skip work).
    """
    done: set[tuple[str, str, str, str | None]] = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.json")):
            try:
                document = json.loads(read_regular(path, 256 * 1024 * 1024))  # a FIFO is ignored, not waited on
            except (OSError, ValueError):
                continue
            if not isinstance(document, dict) or document.get("kind") != "ApplyResults":
                continue
            for raw in document.get("stacks", []):
                try:
                    record = Record(**raw)
                except TypeError:
                    continue
                if record.finished():
                    done.add(record.key())
    return done
