"""``paybill guard check|replay|verify-log`` and ``paybill bundle``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from guard_support import SPECS, copy_bundle

from paybill.cli.main import cli
from paybill.guard import Guard, ManualClock


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def check_args(bundles: Path, *extra: str) -> list[str]:
    return ["guard", "check", "--bundle", str(bundles / "ops-agent"), "--tenant", "acme-corp",
            "--workflow", "incident-response", "--step", "inspect", *extra]


def test_check_allow_exits_0_with_the_permitting_policy(bundles):
    result = invoke(*check_args(bundles, "--action", "read", "--resource", "tickets", "--columns", "id,status",
                                "--columns", "subject", "--rows", "3"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "allow: check read tickets (tenant acme-corp, step inspect)",
        "  policy: specs/agents/ops-agent.yaml#permissions.tables.tickets.read"]


def test_check_deny_exits_3_with_reasons(bundles):
    result = invoke(*check_args(bundles, "--action", "read", "--resource", "tickets", "--columns", "id,body"))
    assert result.exit_code == 3
    assert "deny: check read tickets (tenant acme-corp, step inspect): acl.pii-column" in result.output
    assert "policy: specs/data/crm.yaml#tables.tickets.pii" in result.output
    cross = invoke(*check_args(bundles, "--action", "read", "--resource", "tickets", "--columns", "id",
                               "--resource-tenant", "globex", "--json"))
    assert cross.exit_code == 3
    assert json.loads(cross.output)["violations"] == ["tenant.cross-tenant"]


def test_check_transition_and_unknown_step(bundles):
    result = invoke(*check_args(bundles, "--action", "advance", "--resource", "close-tickets"))
    assert result.exit_code == 3 and "workflow.approval-required" in result.output
    usage = invoke(*check_args(bundles)[:-1], "nope", "--action", "read", "--resource", "tickets")
    assert usage.exit_code == 2 and "has no step 'nope'" in usage.output


def test_check_at_or_into_an_approval_step_says_approval_is_required(bundles):
    args = check_args(bundles, "--action", "update", "--resource", "tickets", "--columns", "status")
    at = invoke(*[arg if arg != "inspect" else "close-tickets" for arg in args])
    assert at.exit_code == 0, at.output
    assert at.output.splitlines()[1] == ("  note: step 'close-tickets' requires approval: a run reaches it only after "
                                         "run.approve('close-tickets', by=<human>) and advance; this what-if assumes "
                                         "it did")
    into = invoke(*check_args(bundles, "--action", "advance", "--resource", "close-tickets", "--json"))
    assert into.exit_code == 3
    assert json.loads(into.output)["notes"] == [
        "step 'close-tickets' requires approval: a run enters it only after run.approve('close-tickets', by=<human>)"]
    plain = invoke(*check_args(bundles, "--action", "advance", "--resource", "done", "--json"))
    assert "notes" not in json.loads(plain.output)
    inside = invoke(*check_args(bundles, "--action", "read", "--resource", "tickets", "--columns", "id"))
    assert "note:" not in inside.output


def test_check_refuses_a_tampered_bundle_with_exit_4(bundles, tmp_path):
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (folder / "entities.json").write_text((folder / "entities.json").read_text().replace("acme-corp", "evil-corp"))
    result = CliRunner().invoke(cli, ["guard", "check", "--bundle", str(folder), "--tenant", "acme-corp",
                                      "--workflow", "incident-response", "--step", "inspect", "--action", "read",
                                      "--resource", "tickets"])
    assert result.exit_code == 4 and "bundle refused (hash)" in result.output


def test_check_with_public_key_from_the_environment(signed_bundles, bundles, keys):
    args = ["--action", "read", "--resource", "tickets", "--columns", "id"]
    env = {"PAYBILL_BUNDLE_PUBLIC_KEY": str(keys["public_pem"])}
    assert invoke(*check_args(signed_bundles, *args), env=env).exit_code == 0
    refused = invoke(*check_args(bundles, *args), env=env)
    assert refused.exit_code == 4 and "(unsigned)" in refused.output


def record_trace(bundles: Path, path: Path) -> None:
    """Record a realistic trace through the guard with a decision log (the log is the trace)."""
    clock = ManualClock(50.0)
    guard = Guard.load(bundles / "ops-agent", clock=clock, log=path)
    run = guard.start(tenant="acme-corp", workflow="incident-response", run_id="r-1")
    for _ in range(31):  # the 31st call in a minute is over maxCallsPerMinute
        clock.advance(0.5)
        run.check("read", "tickets", columns=["id", "status"], rows=2)
    run.check("read", "tickets", columns=["id"], rows=1, tenant="globex")
    run.advance("close-tickets")
    run.approve("close-tickets", by="oncall@example.com")
    clock.advance(60)
    run.advance("close-tickets")
    run.check("update", "tickets", columns=["status"], rows=4)
    guard.log.close()


def test_replay_of_a_recorded_log_matches_and_exits_0(bundles, tmp_path):
    trace = tmp_path / "trace.jsonl"
    record_trace(bundles, trace)
    result = invoke("guard", "replay", "--bundle", str(bundles / "ops-agent"), str(trace), "--strict")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "36 decisions replayed, 0 differ"


def test_replay_exits_1_when_a_decision_differs(bundles, tmp_path):
    trace = tmp_path / "trace.jsonl"
    record_trace(bundles, trace)
    lines = trace.read_bytes().splitlines()
    edited = orjson.loads(lines[2])
    edited["decision"] = {"allowed": False, "violations": ["acl.not-granted"], "reasons": []}
    lines[2] = orjson.dumps(edited)
    trace.write_bytes(b"\n".join(lines) + b"\n")
    result = invoke("guard", "replay", "--bundle", str(bundles / "ops-agent"), str(trace))
    assert result.exit_code == 1
    assert f"{trace.as_posix()}:3: check read tickets [id, status] rows=2 tenant=acme-corp:" in result.output
    assert "recorded deny (acl.not-granted), now allow" in result.output


def _replay_without_the_id_column(bundles, edited_bundles, tmp_path):
    """A trace recorded with ops-agent's bundle, replayed against one whose tickets read drops ``id``:
    (the trace, the replay's result)."""
    trace = tmp_path / "trace.jsonl"
    record_trace(bundles, trace)
    changed = edited_bundles({"agents/ops-agent.yaml": lambda t: t.replace("read: [id, subject, status,",
                                                                           "read: [subject, status,")})
    return trace, invoke("guard", "replay", "--bundle", str(changed / "ops-agent"), str(trace))


def test_replay_against_a_changed_bundle_shows_the_behaviour_change(bundles, edited_bundles, tmp_path):
    _, result = _replay_without_the_id_column(bundles, edited_bundles, tmp_path)
    assert result.exit_code == 1
    assert "30 differ" in result.output and "now deny (acl.column-not-granted)" in result.output


def test_replay_of_an_unreadable_trace_exits_2(bundles, tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text('{"op": "check", "run": "r-9", "input": {}}\n')
    result = CliRunner().invoke(cli, ["guard", "replay", "--bundle", str(bundles / "ops-agent"), str(trace)])
    assert result.exit_code == 2 and "line 1: run 'r-9' was not started" in result.output


def test_replay_against_another_agents_bundle_is_refused_not_a_list_of_differences(bundles, tmp_path):
    trace = tmp_path / "trace.jsonl"
    record_trace(bundles, trace)  # ops-agent's decision log
    other = next(p.name for p in sorted(bundles.iterdir()) if p.is_dir() and p.name != "ops-agent")
    result = invoke("guard", "replay", "--bundle", str(bundles / other), str(trace))
    assert result.exit_code == 2, result.output
    assert f"line 1: the trace records agent 'ops-agent', the bundle is agent '{other}'" in result.output


def test_verify_log_exit_codes(bundles, tmp_path):
    trace = tmp_path / "trace.jsonl"
    record_trace(bundles, trace)
    ok = invoke("guard", "verify-log", str(trace))
    assert ok.exit_code == 0 and "36 lines, intact" not in ok.output and "37 lines, intact" in ok.output
    lines = trace.read_bytes().splitlines()
    del lines[5]
    trace.write_bytes(b"\n".join(lines) + b"\n")
    broken = invoke("guard", "verify-log", str(trace))
    assert broken.exit_code == 1 and ":6: hash chain broken" in broken.output
    assert "BROKEN (2 problems);" in broken.output
    lines = trace.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"allowed":true', b'"allowed":false', 1)  # one line edited in place
    trace.write_bytes(b"\n".join(lines[:4]) + b"\n")
    edited = invoke("guard", "verify-log", str(trace))
    assert edited.exit_code == 1 and "BROKEN (1 problem);" in edited.output, edited.output  # not "1 problems"


def test_bundle_command_writes_signed_bundles(tmp_path, keys):
    out = tmp_path / "generated"
    result = invoke("bundle", str(SPECS), "--out", str(out), "--signing-key", str(keys["private_pem"]))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and "wrote 21 bundle files" in result.output
    assert Guard.load(out / "bundles" / "support-assistant", keys["public_pem"]).agent == "support-assistant"
    again = invoke("bundle", str(SPECS), "--out", str(out), "--signing-key", str(keys["private_pem"]))
    assert "wrote 0 bundle files" in again.output, "same specs, same key: same bytes"


@pytest.mark.parametrize("bad", ["--agent=nobody", "--signing-key=/dev/null"])
def test_bundle_command_usage_errors(tmp_path, bad):
    result = CliRunner().invoke(cli, ["bundle", str(SPECS), "--out", str(tmp_path), bad])
    assert result.exit_code == 2


@pytest.mark.parametrize("kind", ["fifo", "loop", "file"])
def test_bundle_command_refuses_an_out_that_is_not_a_folder(tmp_path, kind):
    # --out pointed at a FIFO, a device or a symlink loop was an internal error (exit 70)
    out = tmp_path / "out"
    if kind == "fifo":
        import os

        os.mkfifo(out)
    elif kind == "loop":
        out.symlink_to(tmp_path / "other")
        (tmp_path / "other").symlink_to(out)
    else:
        out.write_text("x")
    result = invoke("bundle", str(SPECS), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "not a folder" in result.output or "is a file" in result.output


def test_bundle_command_reports_a_write_failure_as_a_diagnostic(tmp_path):
    out = tmp_path / "generated"
    out.mkdir()
    (out / "bundles").write_text("in the way")  # a file where the bundles folder goes
    result = invoke("bundle", str(SPECS), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "error[PB0694]: cannot write output" in result.output and "Traceback" not in result.output


def test_bundle_command_over_a_compiled_tree_says_its_manifest_is_now_stale(tmp_path, keys):
    # `paybill bundle --signing-key` into generated/ left generated/manifest.json listing the unsigned
    # manifests without a word: `compile --check` (CI) then failed on a tree the user thought signed
    out = tmp_path / "generated"
    assert CliRunner().invoke(cli, ["compile", str(SPECS), "--out", str(out)]).exit_code == 0
    plain = invoke("bundle", str(SPECS), "--out", str(out))
    assert plain.exit_code == 0 and "warning" not in plain.output, plain.output
    signed = invoke("bundle", str(SPECS), "--out", str(out), "--signing-key", str(keys["private_pem"]))
    assert signed.exit_code == 0, signed.output
    assert "still lists other bytes for 3 bundle files" in signed.output, signed.output
    assert "PAYBILL_BUNDLE_SIGNING_KEY" in signed.output
    elsewhere = invoke("bundle", str(SPECS), "--out", str(tmp_path / "dist"), "--signing-key", str(keys["private_pem"]))
    assert elsewhere.exit_code == 0 and "warning" not in elsewhere.output, elsewhere.output


def test_approve_with_a_log_that_is_not_a_regular_file_is_a_usage_error(bundles, tmp_path):
    # was an internal error (LogError, exit 70) before the database was even asked
    import os

    os.mkfifo(tmp_path / "fifo")
    result = CliRunner().invoke(cli, ["guard", "approve", "run-x", "close-tickets", "--by", "alice@example.com",
                                      "--bundle", str(bundles / "ops-agent"), "--database-url", "host=127.0.0.1 port=1",
                                      "--log", str(tmp_path / "fifo")])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --log" in result.output and "is a FIFO, not a regular file" in result.output


def garbage(path: Path, lines: int) -> Path:
    """The wrong file given to a line reader: every line is a problem."""
    path.write_bytes(b"".join(b"\x00\xffgarbage %d\n" % n for n in range(lines)))
    return path


def test_verify_log_of_a_garbage_file_lists_the_first_problems_and_counts_the_rest(tmp_path):
    """One line per problem with no cap: a 1 GB wrong file flooded the terminal (and kept every message)."""
    from paybill.contract.line_problems import MAX_LINE_PROBLEMS
    from paybill.guard import verify_log

    log = garbage(tmp_path / "decisions.jsonl", 5000)
    result = invoke("guard", "verify-log", str(log))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == MAX_LINE_PROBLEMS + 2, lines[:3]
    assert lines[0].startswith(f"{log.as_posix()}:1: not JSON")
    assert lines[MAX_LINE_PROBLEMS - 1].startswith(f"{log.as_posix()}:{MAX_LINE_PROBLEMS}: not JSON")
    assert lines[-2] == f"... and {5000 - MAX_LINE_PROBLEMS} more problems not listed"
    assert lines[-1].startswith("5000 lines, BROKEN (5000 problems); head ")
    report = verify_log(log)
    assert len(report.problems) == MAX_LINE_PROBLEMS and report.omitted == 5000 - MAX_LINE_PROBLEMS


def test_shadow_report_of_a_garbage_file_lists_the_first_problems_and_counts_the_rest(tmp_path):
    from paybill.contract.line_problems import MAX_LINE_PROBLEMS

    log = garbage(tmp_path / "shadow.jsonl", 5000)
    result = CliRunner().invoke(cli, ["guard", "shadow-report", str(log)])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error[PB1402]" in line]
    assert len(errors) == MAX_LINE_PROBLEMS
    assert result.stderr.endswith(f"... and {5000 - MAX_LINE_PROBLEMS} more errors not listed\n"
                                  "5000 errors in 1 file checked\n"), result.stderr[-300:]
    as_json = CliRunner().invoke(cli, ["guard", "shadow-report", str(log), "--format", "json"])
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 1
    assert len(report["problems"]) == MAX_LINE_PROBLEMS and report["problemsOmitted"] == 5000 - MAX_LINE_PROBLEMS


def test_replay_lists_the_first_differences_and_counts_the_rest(bundles, edited_bundles, tmp_path):
    from paybill.contract.line_problems import MAX_LINE_PROBLEMS

    trace, result = _replay_without_the_id_column(bundles, edited_bundles, tmp_path)
    assert result.exit_code == 1
    listed = [line for line in result.output.splitlines() if line.startswith(f"{trace.as_posix()}:")]
    assert len(listed) == MAX_LINE_PROBLEMS
    assert result.output.endswith(f"... and {30 - MAX_LINE_PROBLEMS} more differences not listed\n"
                                  "36 decisions replayed, 30 differ\n")
