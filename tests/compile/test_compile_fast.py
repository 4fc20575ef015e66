"""``paybill compile`` without click (paybill.cli.compile_fast): the same command, fewer imports.

The entry point offers the command line to :func:`compile_without_click` before importing click. It
must take only command lines click would parse to the same values, finish only compiles the short
cut or the delta compile finish, print what they print, and hand everything else to the click
command whole (the spare's lease and the spec scan, done once). These run real ``paybill``
processes: the in-process CLI runner used elsewhere never goes through the entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from compile_support import exit_probe, read_tree
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill import store
from paybill.cli.compile_cmd import compile_command
from paybill.cli.compile_fast import Invocation, parse

TOKENS = ["specs", "other", "--out", "--out=gen", "gen", "--format", "json", "text", "github", "--format=github",
          "--format=xml", "--check", "--durable", "--no-cache", "--strict-quotas", "--", "-h", "--help", "--out=",
          "-", "", "--outx=gen", "--format=", "-x"]


@settings(max_examples=400, deadline=None)
@given(args=st.lists(st.sampled_from(TOKENS), max_size=6))
def test_a_command_line_it_takes_is_one_click_parses_to_the_same_values(args: list[str]) -> None:
    call = parse(["compile", *args])
    if call is None:
        return
    context = compile_command.make_context("compile", list(args))
    assert Invocation(context.params["specs"], context.params["out"], context.params["fmt"]) == call
    assert not (context.params["check"] or context.params["durable"] or context.params["no_cache"]
                or context.params["strict_quotas"])


def test_only_the_compile_command_is_taken() -> None:
    assert parse(["compile"]) == Invocation(Path("specs"), Path("generated"), "text")
    assert parse(["compile", "s", "--out=o", "--format", "json"]) == Invocation(Path("s"), Path("o"), "json")
    for argv in ([], ["validate", "specs"], ["--version"], ["compile", "--out", "o", "--out", "p"],
                 ["compile", "--out"], ["compile", "a", "b"]):
        assert parse(argv) is None, argv


def _paybill(base: Path, *args: str, report: str = "''") -> subprocess.CompletedProcess[str]:
    """A real ``paybill`` process in ``base`` (its cache folder there), reporting ``report`` on stderr at its end."""
    probe = exit_probe(f"'REPORT', {report}", f"['paybill', *{list(args)!r}]")
    return subprocess.run([sys.executable, "-c", probe], cwd=base, capture_output=True, text=True, check=False,
                          env={**os.environ, store.CACHE_ENV: str(base / "cache")})


def _reference(tmp_path: Path, specs: Path) -> tuple[dict[str, bytes], str]:
    where = tmp_path / "reference"
    where.mkdir(exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "paybill", "compile", str(specs), "--out", "generated", "--no-cache"],
                         cwd=where, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    tree = read_tree(where / "generated")
    import shutil

    shutil.rmtree(where)
    return tree, run.stdout


@pytest.fixture
def repo(tmp_path: Path, spec_copy) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    base = tmp_path / "work"
    base.mkdir()
    specs = spec_copy({}, name="work")
    first = _paybill(base, "compile", str(specs), "--out", "generated")
    assert first.returncode == 0, first.stderr
    return base, specs


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


LOADED = "sorted(m for m in ('click', 'paybill.cli.group', 'paybill.cli.compile_cmd') if m in sys.modules)"
LEAN = ("sorted(m for m in ('click', 'paybill.cli.group', 'paybill.cli.compile_cmd', 'shutil', 'tempfile') "
        "if m in sys.modules)")
"""What the short cut and the delta compile never import (shutil and tempfile: ~4 ms, only to remove a tree)."""


def test_an_identity_edit_and_an_unchanged_compile_run_without_click_and_print_the_same(
        repo: tuple[Path, Path], tmp_path: Path) -> None:
    base, specs = repo
    unchanged = _paybill(base, "compile", str(specs), "--out", "generated")  # the short cut (first time: verifies)
    assert unchanged.returncode == 0, unchanged.stderr
    for round_, customer in enumerate(("cus_FAST01", "cus_FAST02")):
        _edit(specs / "tenants" / "acme-corp.yaml", "customerId: ", f"customerId: {customer}")
        run = _paybill(base, "compile", str(specs), "--out=generated", report=f"{LEAN}, __import__('gc').isenabled()")
        assert run.returncode == 0, run.stderr
        assert "REPORT [] False" in run.stderr, (round_, run.stderr)  # no click; and no collector either
        tree, printed = _reference(tmp_path, specs)
        assert read_tree(base / "generated") == tree and run.stdout == printed == unchanged.stdout
    again = _paybill(base, "compile", str(specs), "--out", "generated", report=LEAN)
    assert again.returncode == 0 and "REPORT []" in again.stderr and again.stdout == unchanged.stdout


def test_a_compile_that_needs_the_stages_is_handed_to_click_with_its_scan(repo: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    base, specs = repo
    _edit(specs / "tenants" / "acme-corp.yaml", "support-tier: premium", "support-tier: basic")  # not an identity edit
    count = ("import paybill.write.shortcut as _s\n_scan = _s.scan_specs\n_n = []\n"
             "_s.scan_specs = lambda root: (_n.append(1), _scan(root))[1]\n")
    probe = count + exit_probe(f"'REPORT', len(_n), {LOADED}",
                               f"['paybill', 'compile', {str(specs)!r}, '--out', 'generated']")
    run = subprocess.run([sys.executable, "-c", probe], cwd=base, capture_output=True, text=True, check=False,
                         env={**os.environ, store.CACHE_ENV: str(base / "cache")})
    assert run.returncode == 0, run.stderr
    assert "REPORT 1 ['click', 'paybill.cli.compile_cmd', 'paybill.cli.group']" in run.stderr, run.stderr
    tree, printed = _reference(tmp_path, specs)
    assert read_tree(base / "generated") == tree and run.stdout == printed


def test_command_lines_it_declines_are_clicks_to_report(repo: tuple[Path, Path]) -> None:
    base, specs = repo
    (base / "a-file").write_text("not a folder\n")
    as_file = _paybill(base, "compile", str(specs), "--out", "a-file")
    assert as_file.returncode == 2 and "a-file" in as_file.stderr and "is a file" in as_file.stderr
    inside = _paybill(base, "compile", str(specs), "--out", str(specs.parent))
    assert inside.returncode == 2 and "would replace the specs folder" in inside.stderr
    missing = _paybill(base, "compile", str(base / "nowhere"), "--out", "generated")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_format = _paybill(base, "compile", str(specs), "--format", "xml")
    assert bad_format.returncode == 2 and "xml" in bad_format.stderr
    checked = _paybill(base, "compile", str(specs), "--out", "generated", "--check")
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
def test_a_compile_with_a_standard_stream_closed_succeeds_on_every_path(repo: tuple[Path, Path], tmp_path: Path,
                                                                        closed: str) -> None:
    """``paybill compile >&-`` or ``2>&-`` (a cron job, a daemon): Python's ``sys.stdout`` or ``sys.stderr``
    is None and click writes nothing to it. Ending the process must not flush a missing stdout, nor the
    stages ask a missing stderr whether it is a terminal (each was an internal error, exit 70; the
    second only on the path through the stages)."""
    base, specs = repo

    def compile_closed() -> subprocess.CompletedProcess[str]:
        redirect = ">&-" if closed == "stdout" else "2>&-"
        return subprocess.run(["sh", "-c", f'exec "$0" "$@" {redirect}', sys.executable, "-m", "paybill", "compile",
                               str(specs), "--out", "generated"], cwd=base, text=True, check=False,
                              capture_output=True,  # the closed one stays closed (exec ... >&- in the child)
                              env={**os.environ, store.CACHE_ENV: str(base / "cache")})

    for edit in (None, ("customerId: ", "customerId: cus_CLOSED"), ("support-tier: premium", "support-tier: basic")):
        if edit is not None:  # none: the short cut; an identity edit: the delta compile; a label: the stages
            _edit(specs / "tenants" / "acme-corp.yaml", *edit)
        run = compile_closed()
        tree, printed = _reference(tmp_path, specs)
        assert run.returncode == 0, (edit, run.stdout, run.stderr)
        assert (run.stderr if closed == "stdout" else run.stdout) == ("" if closed == "stdout" else printed), edit
        assert read_tree(base / "generated") == tree, edit
