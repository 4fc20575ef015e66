"""``paybill audit``: git history of the specs root as an audit trail.

* :mod:`.history`  - one ``git log`` for the commits touching the specs root, with the old and new
                     blob of every changed file, and one ``cat-file --batch`` for all those blobs.
* :mod:`.trailers` - commit message trailers (``Paybill-Agent:``, ``Approved-by:``).
* :mod:`.events`   - tenant life events (onboarded, plan changed, isolation moved, suspended...)
                     derived from the semantic changes.
* :mod:`.trail`    - puts it together: one :class:`AuditRecord` per commit, changes computed by the
                     same engine as ``paybill plan`` (:func:`paybill.changes.specdiff.diff_documents`).
* :mod:`.render`   - text and JSON Lines.
"""

from paybill.audit.trail import AuditFilter, AuditRecord, audit_history

__all__ = ["AuditFilter", "AuditRecord", "audit_history"]
