"""``paybill billing sync|serve`` on the command line: exit codes, diagnostics, pull-request bodies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from support.processes import first_line_then_signal

from .conftest import CUSTOMERS, T0, invoice


def test_sync_reports_bad_lines_processes_the_rest_and_writes_the_body(brepo, run, tmp_path) -> None:
    events = tmp_path / "events.jsonl"
    good = invoice("evt_1", "invoice.payment_failed", T0, CUSTOMERS["vandelay"])
    listed = {"object": "list", "data": [invoice("evt_2", "invoice.payment_failed", T0 + 1, CUSTOMERS["vandelay"])]}
    events.write_text(json.dumps(good) + "\n\nnot json\n" + json.dumps(listed) + "\n", encoding="utf-8")
    code, out, err = run(brepo.root, "billing", "sync", str(events), "--base", "main", "--now", "2026-01-12T00:00:00Z",
                         "--state", str(tmp_path / "state.json"), "--pr-dir", str(tmp_path / "prs"))
    assert code == 1, out + err
    assert f"{events}:3:1: error[PB1010]: " in out
    assert out.endswith("1 error in 2 events checked\n")  # events, not spec files (was "in 2 files checked")
    assert "proposed paybill/billing-agent/billing-vandelay-billing-status for tenant 'vandelay'" in err
    [body] = (tmp_path / "prs").iterdir()
    # the operator is told what to do with the branch (it printed the branch only)
    assert (f"  next: git push origin paybill/billing-agent/billing-vandelay-billing-status, then open its pull "
            f"request with the body {body.as_posix()} (gh pr create --head "
            f"paybill/billing-agent/billing-vandelay-billing-status --body-file {body.as_posix()})") in err, err
    assert body.read_text(encoding="utf-8").startswith("**Proposed by `paybill billing`** for tenant `vandelay`")
    assert "evt_1" in body.read_text(encoding="utf-8") and "evt_2" in body.read_text(encoding="utf-8")
    state = ("--base", "main", "--state", str(tmp_path / "state.json"))
    again = run(brepo.root, "billing", "sync", *state, "--now", "2026-01-12T00:00:00Z")
    assert again[0] == 0 and "0 proposal(s)" in again[2]
    weeks_later = run(brepo.root, "billing", "sync", *state, "--now", "2026-01-26T00:00:00Z")  # the dunning clock
    assert "billing-vandelay-billing-status-suspend" in weeks_later[2]
    assert ("  next: git push origin paybill/billing-agent/billing-vandelay-billing-status-suspend, then open its "
            "pull request with the body of `paybill plan --head") in weeks_later[2]   # no --pr-dir
    # the first proposal was never merged: the new one includes its change and says to close it
    assert ("events: evt_1; supersedes paybill/billing-agent/billing-vandelay-billing-status, close it)"
            in weeks_later[2])


def test_usage_errors_exit_2(brepo, run, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    assert run(brepo.root, "billing", "serve")[0] == 2
    assert run(brepo.root, "billing", "sync", "--now", "yesterday")[0] == 2
    both = run(brepo.root, "billing", "sync", "--state", str(tmp_path / "s.json"), "--database-url", "postgresql://x")
    assert both[0] == 2


def test_an_unreachable_state_store_is_one_diagnostic_and_exit_3(brepo, run) -> None:
    """It printed `paybill billing: cannot open the state store: OperationalError: ...` over several
    lines (libpq's own), unlike every other diagnostic."""
    code, out, err = run(brepo.root, "billing", "sync", "--database-url",
                         "host=127.0.0.1 port=1 user=nobody password=hunter2 dbname=x connect_timeout=2")
    assert code == 3
    lines = err.splitlines()
    assert lines[0].startswith("<billing-database>:1:1: error[PB1019]: cannot open the billing state store: ")
    assert "Connection refused" in lines[0] and lines[1].startswith("  hint: ") and len(lines) == 2, err
    assert "hunter2" not in out + err


def test_serve_stops_cleanly_on_sigterm(brepo) -> None:
    """SIGTERM (systemd, Kubernetes) stops the receiver like Ctrl-C, after the pass under way, exit 0;
    its default action killed the process (status -15) wherever a pass was."""
    env = {**os.environ, "STRIPE_WEBHOOK_SECRET": "whsec_test"}
    process = subprocess.Popen([sys.executable, "-m", "paybill", "billing", "serve", "--port", "0", "--state",
                                str(brepo.root / "state.json")], cwd=brepo.root, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first, rest = first_line_then_signal(process, signal.SIGTERM, timeout=60)
    assert "paybill billing: listening on http://127.0.0.1:" in first, first + rest
    assert process.returncode == 0, first + rest
    assert "Traceback" not in rest


def test_an_events_file_that_is_a_fifo_or_device_is_a_usage_error_not_a_hang(brepo, tmp_path) -> None:
    # `billing sync FIFO` waited for a writer forever; `billing sync /dev/zero` read without end
    import os
    import subprocess
    import sys
    from pathlib import Path

    os.mkfifo(tmp_path / "events.jsonl")
    for events, kind in ((tmp_path / "events.jsonl", "a FIFO"), (Path("/dev/zero"), "a device")):
        done = subprocess.run([sys.executable, "-m", "paybill", "billing", "sync", str(events), "--state",
                               str(tmp_path / "s.json")], cwd=brepo.root, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 2, done.stderr
        assert f"is {kind}, not a regular file" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_state_file_that_is_a_fifo_device_or_damaged_is_pb1019_not_a_hang(brepo, tmp_path) -> None:
    # `--state FIFO` waited forever, `--state /dev/zero` read without end, damaged JSON was an internal error
    import os
    import subprocess
    import sys
    from pathlib import Path

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "damaged.json").write_text("{not json")
    (tmp_path / "zero.json").symlink_to(Path("/dev/zero"))  # a link, so the lock files stay in tmp_path
    for state, reason in ((tmp_path / "fifo", "is a FIFO, not a regular file"),
                          (tmp_path / "zero.json", "is a device, not a regular file"),
                          (tmp_path / "damaged.json", "is not a billing state file")):
        done = subprocess.run([sys.executable, "-m", "paybill", "billing", "sync", "--state", str(state)],
                              cwd=brepo.root, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 3, done.stderr
        assert "error[PB1019]: cannot open the billing state store" in done.stderr, done.stderr
        assert reason in done.stderr and "internal error" not in done.stderr, done.stderr


def test_an_unusable_pr_dir_is_refused_before_any_proposal_is_made(brepo, run, tmp_path) -> None:
    # A proposal is final once made (a re-run says "already proposed"): a --pr-dir found unusable only
    # afterwards crashed (internal error, exit 70) and the pull-request body was lost for good.
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(invoice("evt_1", "invoice.payment_failed", T0, CUSTOMERS["vandelay"])) + "\n",
                      encoding="utf-8")
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    state = ("--base", "main", "--now", "2026-01-12T00:00:00Z", "--state", str(tmp_path / "state.json"))
    unusable = str(tmp_path / "a-file" / "prs")
    code, out, err = run(brepo.root, "billing", "sync", str(events), *state, "--pr-dir", unusable)
    assert code == 2, out + err
    assert "--pr-dir" in err and "cannot write pull-request bodies there" in err and "Traceback" not in err
    assert "proposed" not in err
    code, out, err = run(brepo.root, "billing", "sync", str(events), *state, "--pr-dir", str(tmp_path / "prs"))
    assert code == 0, out + err
    [body] = (tmp_path / "prs").iterdir()
    assert body.name == "paybill__billing-agent__billing-vandelay-billing-status.md"


def test_a_body_that_cannot_be_written_after_the_proposal_names_the_branch(tmp_path, capsys) -> None:
    from paybill.billing.engine import Proposed
    from paybill.cli.billing_cmd import _Bodies

    (tmp_path / "prs").write_text("", encoding="utf-8")  # the folder became a file after the check
    bodies = _Bodies(tmp_path / "prs")
    bodies(Proposed("vandelay", "paybill/billing-agent/billing-vandelay-billing-status", "c0ffee", "auto",
                    ["billing-status"], ["evt_1"], "body"))
    err = capsys.readouterr().err
    assert not bodies.written
    assert "error[PB1020]: the pull-request body of paybill/billing-agent/billing-vandelay-billing-status" in err
    assert "paybill plan --head paybill/billing-agent/billing-vandelay-billing-status --format markdown" in err


def test_sync_of_a_garbage_file_lists_the_first_bad_lines_and_counts_the_rest(brepo, run, tmp_path) -> None:
    """One error per bad line with no cap: the wrong file (a 1 GB binary) flooded the terminal."""
    from paybill.contract.line_problems import MAX_LINE_PROBLEMS

    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(b"\x00\xffnot an event %d\n" % n for n in range(5000)))
    args = ("billing", "sync", str(events), "--base", "main", "--now", "2026-01-12T00:00:00Z",
            "--state", str(tmp_path / "state.json"))
    code, out, err = run(brepo.root, *args)
    assert code == 1, out + err
    assert out.count("error[PB1010]") == MAX_LINE_PROBLEMS
    assert f"{events}:{MAX_LINE_PROBLEMS}:1: error[PB1010]" in out
    assert f"{events}:{MAX_LINE_PROBLEMS + 1}:1: " not in out
    assert out.endswith(f"... and {5000 - MAX_LINE_PROBLEMS} more errors not listed\n5000 errors in 0 events checked\n")
    assert "billing: 0 event(s) read, 5000 line(s) unreadable," in err
    code, out, err = run(brepo.root, *args, "--format", "github")
    assert code == 1 and out.count("::error ") == MAX_LINE_PROBLEMS
    code, out, err = run(brepo.root, *args, "--format", "json")
    assert code == 1 and len(json.loads(out)) == MAX_LINE_PROBLEMS
