"""``paybill db prune-runs``: delete the state of ``paybill serve`` runs that expired long ago.

Why an operator command: the server's login (through ``paybill_guard``) may not DELETE runs, so a
compromised or buggy server cannot erase the state that limits its agents
(:mod:`paybill.contract.run_state`); ``paybill.runs`` therefore grows by one row per run until the
database's admin prunes it. Only runs whose expiry passed more than ``keep_seconds`` ago go: a live
run, or one that expired recently (people still ask why an agent was refused), stays. A run's
approvals live in its row and go with it; the audit trail of decisions is the decision log
(``paybill serve --log``) and git, not this table.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from paybill.contract.run_state import TABLE
from paybill.dbops.connect import connect, database_error, set_timeouts


@dataclass(frozen=True)
class PruneResult:
    pruned: int
    """Runs deleted (with ``dry_run``: runs that would be)."""
    remaining: int
    cutoff: float
    """Runs that expired before this time (Unix seconds) are pruned."""
    dry_run: bool
    table: bool
    """False when the database has no run-state table (nothing was ever served from it)."""

    def text(self) -> str:
        if not self.table:
            return f"no {TABLE} table in this database: nothing to prune"
        verb = "would prune" if self.dry_run else "pruned"
        return f"{verb} {self.pruned} expired run{'s' if self.pruned != 1 else ''}; {self.remaining} kept"

    def to_json(self) -> dict[str, object]:
        return {"pruned": self.pruned, "remaining": self.remaining, "cutoff": self.cutoff, "dryRun": self.dry_run,
                "table": self.table}


def prune_runs(url: str, *, keep_seconds: float, now: float, dry_run: bool = False,
               statement_timeout: str = "10min") -> PruneResult:
    """Delete (or count, ``dry_run``) the runs whose ``expires_at`` is before ``now - keep_seconds``."""
    cutoff = now - keep_seconds
    with connect(url, TABLE, "paybill db prune-runs") as conn:
        try:
            with conn.transaction():
                set_timeouts(conn, "10s", statement_timeout)
                row = conn.execute("SELECT pg_catalog.to_regclass('paybill.runs') IS NOT NULL").fetchone()
                if row is None or not row[0]:
                    return PruneResult(0, 0, cutoff, dry_run, table=False)
                if dry_run:
                    counted = conn.execute("SELECT count(*) FROM paybill.runs WHERE expires_at < %s",
                                           (cutoff,)).fetchone()
                    pruned = int(counted[0]) if counted else 0
                else:
                    pruned = conn.execute("DELETE FROM paybill.runs WHERE expires_at < %s", (cutoff,)).rowcount
                left = conn.execute("SELECT count(*) FROM paybill.runs").fetchone()
                remaining = int(left[0]) - (pruned if dry_run else 0) if left else 0
        except psycopg.Error as exc:
            raise database_error(exc, TABLE, "pruning expired runs") from exc
    return PruneResult(pruned, remaining, cutoff, dry_run, table=True)
