"""``paybill plan`` as a command: default sides, exit codes, colour rules, json, the work tree untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from paybill.cli.plan_cmd import use_color


class Tty:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_tty_and_never_with_no_color(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert use_color("auto", Tty()) is True
    assert use_color("auto", object()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color("auto", Tty()) is False
    assert use_color("always", object()) is True
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert use_color("auto", Tty()) is False


def test_text_output_has_no_escape_codes_unless_forced(repo, run) -> None:
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    _, plain, _ = run(repo.root, "plan", "specs", "--no-terraform")
    assert "\x1b[" not in plain
    assert "~ Tenant/vandelay  specs/tenants/vandelay.yaml:9:9" in plain
    assert "spec.plan: free -> starter  (line 9)" in plain
    _, coloured, _ = run(repo.root, "plan", "specs", "--no-terraform", "--color", "always")
    assert "\x1b[" in coloured


def test_default_base_is_the_merge_base_with_main_and_head_the_work_tree(repo, run) -> None:
    main_sha = repo.head()
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    repo.commit("feature commit")
    repo.git("checkout", "--quiet", "main")
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli Main")
    repo.commit("main moved on")
    repo.git("checkout", "--quiet", "feature")
    repo.edit("specs/tenants/acme-corp.yaml", "displayName: Acme Corp", "displayName: Acme Corporation")
    status = repo.git("status", "--porcelain")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--format", "json")
    report = json.loads(out)
    assert report["base"]["commit"] == main_sha and report["head"]["label"] == "work tree"
    assert sorted(c["name"] for c in report["changes"]) == ["acme-corp", "vandelay"]  # not hooli: main's change
    assert repo.git("status", "--porcelain") == status
    assert code == 0


def test_a_clean_checkout_is_named_by_its_commit(repo, run) -> None:
    """CI plans its fresh checkout without ``--head``: the report named the head "work tree", not the
    commit it planned. A clean checkout is named like ``--head HEAD``; a modified or untracked file in
    the specs or policies folder keeps "work tree" (the side is what is on disk)."""
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    repo.commit("feature commit")
    head = repo.head()

    def head_side() -> tuple[str, str]:
        code, out, err = run(repo.root, "plan", "specs", "--no-terraform", "--format", "json")
        assert code == 0, err
        text = run(repo.root, "plan", "specs", "--no-terraform")[1]
        return json.loads(out)["head"]["label"], text.splitlines()[0]

    label, first = head_side()
    assert label == f"HEAD ({head[:12]})" and first.endswith(f" -> HEAD ({head[:12]})")
    repo.write("policies/local.cedar", "// not committed\n")
    assert head_side()[0] == "work tree"
    os.remove(repo.root / "policies" / "local.cedar")
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli Inc")
    assert head_side()[0] == "work tree"


def test_diagnostics_on_the_head_side_exit_1(repo, run) -> None:
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: platinum")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform")
    assert code == 1
    assert "specs/tenants/vandelay.yaml:9:9: error[PB0302]: unknown plan 'platinum'" in out


def test_no_changes_exit_0_and_out_file(repo, run, tmp_path) -> None:
    target = tmp_path / "plan.md"
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--format", "markdown", "--out", str(target))
    assert code == 0 and out == ""
    assert "No spec changes." in target.read_text()


def test_plan_runs_as_a_real_process(repo) -> None:
    result = subprocess.run([sys.executable, "-m", "paybill", "plan", "specs", "--no-terraform"], cwd=repo.root,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("paybill plan: merge base (")


def test_a_real_process_exits_with_the_report_written_whole_and_its_exit_status(repo, run) -> None:
    """A ``paybill`` process ends without tearing down its heap (:func:`paybill.gcpause.exit_process`):
    what it printed (block-buffered into a pipe) is all there, and the exit status is the command's."""
    from .scenarios import SCENARIOS

    SCENARIOS["agent_permissions_widened"](repo)
    SCENARIOS["isolation_migration"](repo)
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: platinum")  # an error: exit 1
    printed = {}
    for fmt in ("json", "markdown"):
        code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--format", fmt)
        printed[fmt] = out
        result = subprocess.run([sys.executable, "-m", "paybill", "plan", "specs", "--no-terraform", "--format", fmt],
                                cwd=repo.root, capture_output=True, text=True, check=False)
        assert (result.returncode, result.stdout) == (code, out) == (1, out)
        assert len(out) > 1000
    # the interpreter was not torn down: an exit handler registered before the command never ran
    probe = ("import atexit, sys; atexit.register(print, 'torn down'); from paybill.cli.main import main; "
             "sys.argv = ['paybill', 'plan', 'specs', '--no-terraform', '--format', 'json']; main()")
    result = subprocess.run([sys.executable, "-c", probe], cwd=repo.root, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (1, printed["json"])


def test_markdown_is_byte_identical_across_hash_seeds(repo) -> None:
    from .scenarios import SCENARIOS

    SCENARIOS["agent_permissions_widened"](repo)
    SCENARIOS["isolation_migration"](repo)
    outputs = set()
    for seed in ("1", "4242"):
        result = subprocess.run([sys.executable, "-m", "paybill", "plan", "specs", "--format", "markdown"],
                                cwd=repo.root, capture_output=True, text=True, check=False,
                                env={**os.environ, "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_out_to_a_fifo_nobody_reads_a_symlink_loop_or_a_missing_folder_fails_at_once(repo, tmp_path) -> None:
    # a FIFO without a reader hung the plan forever; a symlink loop was an internal error (exit 70)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for target, reason in ((fifo, "a FIFO no process is reading"), (tmp_path / "a", "symbolic links"),
                           (tmp_path / "no" / "plan.md", "No such file or directory")):
        done = subprocess.run([sys.executable, "-m", "paybill", "plan", "specs", "--no-terraform", "--out",
                               str(target)], cwd=repo.root, capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 1, done.stderr
        assert f"Could not open file '{target}'" in done.stderr and reason in done.stderr, done.stderr
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_out_to_a_pipe_with_a_reader_gets_the_whole_report(repo, tmp_path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    import time

    deadline = time.monotonic() + 30  # the reader must have opened its end before plan opens the writing one
    done = None
    while time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-m", "paybill", "plan", "specs", "--no-terraform", "--out", str(fifo)],
                              cwd=repo.root, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode == 0:
            break
        time.sleep(0.2)
    assert done is not None and done.returncode == 0, done and done.stderr
    report, _ = reader.communicate(timeout=30)
    assert b"Spec changes" in report or b"No spec changes" in report, report


def test_the_terraform_line_says_its_counts_are_resources(repo, run) -> None:
    """"Terraform: 1 stack change (0 to create, 2 to update, ...)" read as two stacks out of one."""
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: growth")
    code, text, _ = run(repo.root, "plan", "specs")
    assert code == 0, text
    line = next(row for row in text.splitlines() if row.startswith("Terraform: "))
    assert line.startswith("Terraform: 1 stack changes (resources: 0 to create, 2 to update, 0 to replace, "
                           "0 to destroy)"), line
