"""``paybill compile`` from the command line: exit codes, --check, formats, and the committed tree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from compile_support import ROOT, SPECS, invoke, read_tree, run_paybill

import paybill.cli.compile_cmd as compile_cmd


def test_compile_writes_and_check_is_then_fresh(spec_copy) -> None:
    specs = spec_copy({})
    cwd = specs.parent
    written = run_paybill("compile", cwd=cwd)
    assert written.returncode == 0, written.stdout + written.stderr
    assert "compiled " in written.stdout and "-> generated/" in written.stdout
    tree = read_tree(cwd / "generated")
    assert "manifest.json" in tree and any(p.startswith("tenants/") for p in tree)
    check = run_paybill("compile", "--check", cwd=cwd)
    assert check.returncode == 0, check.stdout
    assert "generated/ is up to date" in check.stdout
    fresh = run_paybill("compile", "--check", "--format", "json", cwd=cwd)
    assert fresh.returncode == 0 and json.loads(fresh.stdout)["fresh"] is True


def test_check_lists_what_would_change_and_writes_nothing(spec_copy) -> None:
    specs = spec_copy({})
    cwd = specs.parent
    assert run_paybill("compile", cwd=cwd).returncode == 0
    (cwd / "generated" / "stray.txt").write_text("stray")
    (cwd / "generated" / "tenants" / "bluth.json").unlink()
    (cwd / "generated" / "tenants" / "hooli.json").write_text("{}")
    before = read_tree(cwd / "generated")
    check = run_paybill("compile", "--check", cwd=cwd)
    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert "added: generated/tenants/bluth.json" in lines
    assert "changed: generated/tenants/hooli.json" in lines
    assert "removed: generated/stray.txt" in lines
    assert read_tree(cwd / "generated") == before
    as_json = run_paybill("compile", "--check", "--format", "json", cwd=cwd)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["fresh"] is False  # "ok" says only that there were no errors
    changes = json.loads(as_json.stdout)["changes"]
    assert changes == {"added": ["tenants/bluth.json"], "changed": ["tenants/hooli.json"], "removed": ["stray.txt"]}
    github = run_paybill("compile", "--check", "--format", "github", cwd=cwd)
    assert "::error file=generated/stray.txt,title=paybill stale output::removed" in github.stdout


def test_errors_write_nothing(spec_copy) -> None:
    specs = spec_copy({"tenants/bluth.yaml": lambda t: t.replace("plan: starter", "plan: startr")})
    cwd = specs.parent
    result = run_paybill("compile", cwd=cwd)
    assert result.returncode == 1
    assert "error[PB0" in result.stdout and "did you mean 'starter'" in result.stdout
    assert not (cwd / "generated").exists()
    assert list(cwd.iterdir()) == [specs]  # no scratch folder either
    as_json = json.loads(run_paybill("compile", "--format", "json", cwd=cwd).stdout)
    assert as_json["ok"] is False and as_json["diagnostics"][0]["code"].startswith("PB0")


def test_errors_keep_the_previous_tree(spec_copy) -> None:
    specs = spec_copy({})
    cwd = specs.parent
    assert run_paybill("compile", cwd=cwd).returncode == 0
    before = read_tree(cwd / "generated")
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("plan: starter", "plan: startr"))
    assert run_paybill("compile", cwd=cwd).returncode == 1
    assert read_tree(cwd / "generated") == before


def test_usage_errors_exit_2(spec_copy, tmp_path: Path) -> None:
    specs = spec_copy({})
    cwd = specs.parent
    assert invoke("compile", "nope", cwd=cwd).exit_code == 2
    assert invoke("compile", "--out", "specs", cwd=cwd).exit_code == 2
    assert invoke("compile", "--out", ".", cwd=cwd).exit_code == 2
    for command in ("compile", "validate"):  # "$SPECS" unset: not the working directory (Path("") is ".")
        empty = invoke(command, "", cwd=cwd)
        assert empty.exit_code == 2 and "an empty path names no specs" in empty.output, empty.output
    mine = cwd / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("keep")
    refused = invoke("compile", "--out", "mine", cwd=cwd)
    assert refused.exit_code == 2 and "refusing to replace" in refused.output
    assert (mine / "keep.txt").read_text() == "keep"


def test_write_failure_is_a_diagnostic(spec_copy) -> None:
    specs = spec_copy({})
    cwd = specs.parent
    (cwd / "blocker").write_text("a file where a folder is needed")  # works even as root, unlike chmod
    result = run_paybill("compile", "--out", "blocker/generated", cwd=cwd)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "blocker/generated:1:1: error[PB0694]: cannot write output: File exists (blocker)" in result.stdout
    assert "Traceback" not in result.stderr


def test_progress_bar_only_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with compile_cmd._progress(10_000, "text") as bar:
        assert bar is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with compile_cmd._progress(10, "text") as bar:
        assert bar is None  # small repositories: not worth a bar
    with compile_cmd._progress(10_000, "json") as bar:
        assert bar is None  # machine-readable output: never
    with compile_cmd._progress(10_000, "text") as bar:
        assert bar is not None and bar.length == 10_000
        bar.update(10_000)


def test_committed_generated_tree_is_fresh(tmp_path: Path) -> None:
    """`generated/` in the repository must be exactly what `paybill compile` makes from `specs/`. With a
    cache folder of its own: the repository's `.paybill/cache` may hold what an earlier run or another
    xdist worker left, and the check should compile as CI's fresh clone does."""
    assert (ROOT / "generated").is_dir(), "generated/ is missing: run `paybill compile` at the repository root"
    result = run_paybill("compile", str(SPECS), "--out", str(ROOT / "generated"), "--check", cwd=ROOT,
                         env={"PAYBILL_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, "generated/ is stale; run `paybill compile`:\n" + result.stdout[-3000:]


def test_stage_progress_appears_only_after_a_delay_and_only_when_enabled() -> None:
    quiet = compile_cmd.StageProgress(False, 5, delay=0)
    quiet("load")
    assert quiet.bar is None
    slow = compile_cmd.StageProgress(True, 5, delay=3600)
    slow("load")
    slow("validate")
    assert slow.bar is None  # a fast compile never shows a bar
    shown = compile_cmd.StageProgress(True, 5, delay=0)
    shown("load")
    shown("validate")
    shown("graph")
    assert shown.bar is not None and shown.bar.pos == 2  # load and validate are finished
    shown.close()
    assert shown.bar is None


def test_a_compile_process_exits_without_tearing_down_its_heap(spec_copy, tmp_path: Path) -> None:
    """A successful ``paybill compile`` ends with :func:`paybill.gcpause.exit_process`: whether it compiled in
    full, patched an identity edit in (the delta compile) or found nothing to do (the short cut), what it
    printed is all there, the exit status is 0, the spare tree's lock is released, and an exit handler
    registered before the command never runs (the interpreter was not torn down)."""
    import os
    import re
    import subprocess

    from paybill.write.lease import TREES_FOLDER, SpareLease

    specs = spec_copy({})
    cache = tmp_path / "cache"
    env = {"PAYBILL_CACHE_DIR": str(cache)}
    probe = ("import atexit, sys; atexit.register(print, 'torn down'); from paybill.cli.main import main; "
             "sys.argv = ['paybill', 'compile', 'specs', '--format', 'json']; main()")
    tenant = specs / "tenants" / "bluth.yaml"
    for step in range(4):  # full, full (keeps a spare), delta, delta again with nothing changed: short cut
        if step in (1, 2):
            tenant.write_text(re.sub(r"displayName: .*", f"displayName: Bluth {step}", tenant.read_text(), count=1))
        result = subprocess.run([sys.executable, "-c", probe], cwd=specs.parent, capture_output=True, text=True,
                                env={**os.environ, **env}, check=False)
        assert result.returncode == 0, result.stderr
        assert "torn down" not in result.stdout
        assert json.loads(result.stdout)["ok"] is True
        (cache / TREES_FOLDER).mkdir(exist_ok=True)
        lease = SpareLease.take(cache, specs.parent / "generated")
        assert lease is not None, step
        lease.close()
    assert run_paybill("compile", "--check", cwd=specs.parent, env=env).returncode == 0  # and it is fresh


def test_an_output_folder_in_a_symlink_loop_is_a_usage_error(tmp_path: Path) -> None:
    # Path.resolve() raised RuntimeError on the loop: an internal error (exit 70) instead of exit 2
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    done = run_paybill("compile", str(SPECS), "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is not a plain folder" in done.stderr and "internal error" not in done.stderr
