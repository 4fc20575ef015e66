"""Exact wording of two refusals: an unopenable path, and the rollback distance."""

from __future__ import annotations

import pytest

from paybill.guard import BundleError
from paybill.guard.files import FileRefused, open_regular
from paybill.guard.revisions import RevisionStore


def test_a_path_that_cannot_be_opened_names_the_os_reason(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileRefused) as raised:
        open_regular(tmp_path / "file" / "below")
    assert str(raised.value) == f"cannot open {(tmp_path / 'file' / 'below').as_posix()}: Not a directory"


def test_the_rollback_distance_counts_from_the_refused_revision(tmp_path):
    store = RevisionStore(tmp_path / "revisions.json")
    for revision in ("a", "b", "c", "d"):
        store.admit("ops-agent", revision)
    with pytest.raises(BundleError, match=r"\(d, 2 revision\(s\) later\)"):
        store.admit("ops-agent", "b")
