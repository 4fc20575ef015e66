"""Serve only a catalog of the revision the database was migrated to (checked once, at start).

The catalog names every table, column and role the server's statements use, and the bundle's policies
were compiled with it; a database still at an older revision (the merge's migrate has not run, or
failed) or already at a newer one (the server was started from an old checkout) may lack a column
the catalog grants, or hold one it does not know. Either way the server would answer with what review
approved for another state of the database, so it does not start (PB1312): fail closed.

The revision is what ``paybill db migrate`` recorded in the ledger (``paybill.schema_migrations``),
which grants ``paybill_guard`` (the server login's role) read access to the revision columns only. A
database paybill never migrated has no ledger: the server starts, as docs/serve.md allows, with a
warning that nothing was compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.dbops.ledger import Revisions

CODE = "PB1312"
MIGRATE = "paybill db migrate --database-url ADMIN_URL"


@dataclass(frozen=True)
class RevisionCheck:
    """The outcome: a refusal (message and hint), a warning, or neither."""

    error: tuple[str, str] | None = None
    warning: str | None = None


def check_revision(recorded: Revisions, database: str, revision: str, folder: str) -> RevisionCheck:
    """Compare the ledger's latest revision of ``database`` with the catalog's ``revision``."""
    short = revision[:12]
    if recorded.state == "absent":
        return RevisionCheck(warning=f"{database} has no paybill ledger (never migrated with `paybill db migrate`): "
                                     f"the catalog's revision {short} is not compared with the database")
    if recorded.state == "unreadable":
        return RevisionCheck(error=(
            f"cannot read which revision {database} is migrated to: the server's login may not read the ledger "
            "(paybill.schema_migrations)",
            f"run `{MIGRATE} {folder}` once: it grants paybill_guard read access to the ledger's revision "
            "(a database already at this revision is not migrated again)"))
    current = recorded.latest.get(database)
    if current == revision:
        return RevisionCheck()
    if current is None:
        others = sorted(recorded.latest)
        if others:
            return RevisionCheck(error=(
                f"the database's ledger records {', '.join(others)}, not {database}",
                "the --database-url points at another paybill database than the catalog's: check the URL"))
        return RevisionCheck(error=(f"no `paybill db migrate` of {database} is recorded in its ledger",
                                    f"migrate it first: `{MIGRATE} {folder}`"))
    return RevisionCheck(error=(
        f"{database} is migrated to revision {current[:12]}, the catalog is revision {short}: the server would "
        "act on tables, columns and grants the database may not have",
        f"serve the catalog and bundle of the commit the database was migrated to, or migrate it to this one "
        f"first (`{MIGRATE} {folder}`, as the apply workflow does)"))
