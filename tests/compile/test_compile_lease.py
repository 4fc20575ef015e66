"""The spare tree's lease (paybill.write.lease): its lock held for a whole compile, its survey made ahead.

``paybill compile`` takes the lease before it scans the spec files and surveys the spare tree in a
forked child meanwhile; the writer then patches the spare from that survey instead of surveying
again. These tests pin what users depend on: the survey made ahead finds exactly what an in-process
survey finds (hand edits in the spare included), the writer uses it only for the journal it was made
for, a failed child costs time and never correctness, and the lock is released whatever the
compile's end (the CLI also runs in-process, e.g. from tests and tools).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from compile_support import read_tree, touch_output

from paybill.write import spare
from paybill.write.journal import write_tree_linked
from paybill.write.lease import TREES_FOLDER, SpareLease
from paybill.write.spare import _read_spare_journal, _write_spare_journal, spare_journal_key, spare_path, survey_spare


def _tree(version: int) -> dict[str, bytes]:
    """A small output tree in a few folders; ``version`` changes one file."""
    tree = {"manifest.json": b'{\n  "generatedBy": "paybill"\n}\n', f"tenants/t{version % 3}.json": b"{}\n"}
    for n in range(12):
        tree[f"terraform/s{n}/main.tf.json"] = f'{{"n": {n}, "v": {version if n == 5 else 0}}}\n'.encode()
    return tree


def _with_spare(tmp_path: Path) -> tuple[Path, Path]:
    """An output folder written twice through the journal, so the cache keeps a spare tree."""
    out, cache = tmp_path / "generated", tmp_path / "cache"
    for version in range(2):
        write_tree_linked(_tree(version), out, cache)
        touch_output(out)
    assert spare_path(cache, out).is_dir()
    return out, cache


def _no_survey_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make an in-process survey visible (the child forked before this runs the real one)."""
    calls: list[str] = []
    real_known, real_whole = spare._survey_known, spare._survey

    def known(*args: object, **kwargs: object) -> object:
        calls.append("known")
        return real_known(*args, **kwargs)  # type: ignore[arg-type]

    def whole(*args: object, **kwargs: object) -> object:
        calls.append("whole")
        return real_whole(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(spare, "_survey_known", known)
    monkeypatch.setattr(spare, "_survey", whole)
    return calls


@pytest.mark.parametrize("tamper", ["none", "edited-in-place", "stray-file", "removed"])
def test_the_survey_made_ahead_is_used_and_finds_hand_edits_in_the_spare(tmp_path: Path, tamper: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out, cache = _with_spare(tmp_path)
    held = spare_path(cache, out)
    if tamper == "edited-in-place":
        with open(held / "terraform/s3/main.tf.json", "r+b") as handle:  # same inode, same size
            handle.write(b"X")
    elif tamper == "stray-file":
        (held / "terraform/s4/stray.txt").write_bytes(b"left by hand\n")
    elif tamper == "removed":
        (held / "terraform/s7/main.tf.json").unlink()
    expected = survey_spare(cache, out)
    with SpareLease.take(cache, out) as lease:
        calls = _no_survey_here(monkeypatch)
        ahead = lease.survey(spare_journal_key(cache, out))
        assert ahead == expected
    with SpareLease.take(cache, out) as lease:
        write_tree_linked(_tree(2), out, cache, lease=lease)
    assert calls == []  # the writer patched from the child's survey
    assert read_tree(out) == _tree(2)
    write_tree_linked(_tree(3), out, cache)  # and the tree it swapped out is a sound spare again
    assert read_tree(out) == _tree(3)


def test_a_survey_made_for_another_spare_journal_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, cache = _with_spare(tmp_path)
    done = tmp_path / "surveyed"
    real = spare.survey_spare

    def survey_then_say_so(folder: Path, out: Path) -> object:
        found = real(folder, out)
        done.touch()
        return found

    monkeypatch.setattr(spare, "survey_spare", survey_then_say_so)  # what the child will run
    with SpareLease.take(cache, out) as lease:
        calls = _no_survey_here(monkeypatch)
        deadline = time.monotonic() + 60
        while not done.exists():  # the child has surveyed: what follows changes the spare after it looked
            assert time.monotonic() < deadline, "the survey child never finished"
            time.sleep(0.01)
        saved = _read_spare_journal(cache, out)
        assert saved is not None
        (spare_path(cache, out) / "terraform/s2/main.tf.json").write_bytes(b"{}\n")  # after the child looked
        _write_spare_journal(cache, out, saved[0], None)  # a journal saved again: another cache entry
        write_tree_linked(_tree(2), out, cache, lease=lease)
    assert calls == ["whole"]  # surveyed again here, for the journal it patched by
    assert read_tree(out) == _tree(2)


def test_a_survey_child_that_fails_costs_a_survey_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, cache = _with_spare(tmp_path)

    def broken(folder: Path, out: Path) -> None:
        raise RuntimeError("the child's survey failed")

    monkeypatch.setattr(spare, "survey_spare", broken)  # what the child will run
    with SpareLease.take(cache, out) as lease:
        calls = _no_survey_here(monkeypatch)
        write_tree_linked(_tree(2), out, cache, lease=lease)
    assert calls  # surveyed in process
    assert read_tree(out) == _tree(2)


def test_a_failed_first_compile_creates_no_cache_folder_for_the_lease(tmp_path: Path) -> None:
    assert SpareLease.take(tmp_path / "cache", tmp_path / "generated") is None
    assert not (tmp_path / "cache").exists()


def test_the_lease_holds_the_spare_for_the_whole_compile(tmp_path: Path) -> None:
    out, cache = _with_spare(tmp_path)
    journal_before = _read_spare_journal(cache, out)
    with SpareLease.take(cache, out) as lease:
        assert SpareLease.take(cache, out) is None  # another compile cannot take it meanwhile ...
        write_tree_linked(_tree(5), out, cache)  # ... and writes without the spare (a linked tree)
        assert read_tree(out) == _tree(5)
        assert lease.survey(spare_journal_key(cache, out)) is not None
    assert _read_spare_journal(cache, out) == journal_before  # the other write left the spare alone
    with SpareLease.take(cache, out) as again:  # released
        assert again is not None


def test_paybill_compile_releases_the_spare_on_every_way_out(spec_copy, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs (CliRunner): a compile that wrote, one that took the short cut, one that failed."""
    from paybill.cli.main import cli

    specs = spec_copy({})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    monkeypatch.setenv("PAYBILL_CACHE_DIR", str(cache))
    tenant = specs / "tenants" / "bluth.yaml"
    original = tenant.read_text()
    runner = CliRunner()
    steps = [("Bluth A", 0), ("Bluth B", 0), ("Bluth B", 0), ("Bluth C", 0), (None, 1)]
    for step, (display, status) in enumerate(steps):
        text = re.sub(r"displayName: .*", f"displayName: {display}", original, count=1) if display \
            else re.sub(r"plan: .*", "plan: no-such-plan", original, count=1)
        tenant.write_text(text)
        result = runner.invoke(cli, ["compile", str(specs), "--out", str(out)])
        assert result.exit_code == status, (step, result.output)
        (cache / TREES_FOLDER).mkdir(exist_ok=True)  # (there is no spare after the first compile yet)
        lease = SpareLease.take(cache, out)
        assert lease is not None, step  # the lock was released
        lease.close()
    assert not [name for name in os.listdir(tmp_path) if name.startswith("generated.")]
