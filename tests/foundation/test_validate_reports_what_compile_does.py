"""``paybill validate`` reports everything ``paybill compile`` would, the emitters' findings included.

A pre-commit hook or an editor runs ``validate``; CI runs ``compile``. Problems only an emitter can
find (an unused or repeated grant, an agent with no tenant, a workflow step Cedar denies) used to
pass ``validate`` and fail, or warn, only in CI. Each case below edits the example repository and
runs both commands as a user does: the same diagnostics (code, position, message, hint), the same
exit status, and nothing written by ``validate``.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from paybill.emit.registry import all_emitters, reporting_emitters

from .support import ROOT, SPECS, run_cli

BILLING_AGENT = "agents/billing-agent.yaml"
CUSTOMERS_GRANT = "      - table: customers\n        read: [id, name, plan_code]\n"

CASES: dict[str, tuple[str, str, str, str]] = {
    # (the file, the text, its replacement, the code only an emitter reports)
    "unused grant": (BILLING_AGENT, CUSTOMERS_GRANT,
                     CUSTOMERS_GRANT + "      - table: tickets\n        read: [id, subject]\n", "PB0705"),
    "repeated grant": (BILLING_AGENT, CUSTOMERS_GRANT,
                       CUSTOMERS_GRANT + "      - table: customers\n        read: [id]\n", "PB0709"),
    "no tenant in scope": ("agents/support-assistant.yaml", "support-tier: premium", "support-tier: premum",
                           "PB0704"),
}


def _diagnostics(command: str, root: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    result = run_cli(command, "specs", *extra, "--format", "json", cwd=root)
    assert "Traceback" not in result.stderr
    payload = json.loads(result.stdout)  # validate prints the list; compile an object holding it
    return result.returncode, payload["diagnostics"] if isinstance(payload, dict) else payload


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_reports_what_only_an_emitter_finds(case: str, tmp_path: Path) -> None:
    relative, old, new, code = CASES[case]
    shutil.copytree(SPECS, tmp_path / "specs")
    spec = tmp_path / "specs" / relative
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))
    validate_rc, validated = _diagnostics("validate", tmp_path)
    assert sorted(tmp_path.iterdir()) == [tmp_path / "specs"]  # validate wrote nothing
    compile_rc, compiled = _diagnostics("compile", tmp_path, "--out", str(tmp_path / "out"))
    assert code in {d["code"] for d in validated}, validated
    assert validated == compiled and validate_rc == compile_rc


def test_the_reporting_emitters_are_every_emitter_that_can_report() -> None:
    """An emitter module that spells a diagnostic code reports it: its emitter must be one validate runs."""
    emit = ROOT / "compiler" / "paybill" / "emit"
    spelled = set()
    for source in sorted(emit.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"PB\d{4}", node.value):
                spelled.add(source.relative_to(emit).parts[0])
    reporting = {emitter.name for emitter in reporting_emitters()}
    assert spelled == {"sql", "bundles"} == reporting, spelled
    assert [e.name for e in all_emitters() if e.name in reporting] == [e.name for e in reporting_emitters()]


@pytest.mark.parametrize("edit", ["a rule error", "clean"])
def test_validate_with_the_rules_beside_resolve_reports_what_one_process_reports(edit: str, tmp_path: Path) -> None:
    """On a large repository validate runs the semantic rules in a helper while it resolves (forced here
    on the example); its report, exit status and empty footprint are those of one process."""
    import subprocess
    import sys

    from paybill.forked import MIN_ITEMS_ENV, NO_FORK_ENV

    from .support import cli_env

    shutil.copytree(SPECS, tmp_path / "specs")
    if edit == "a rule error":  # PB0407: a fully silo tenant names a pool
        spec = tmp_path / "specs" / "tenants" / "acme-corp.yaml"
        spec.write_text(spec.read_text().replace("    region: us-east-1\n",
                                                 "    region: us-east-1\n    pool: aws-use1-shared\n", 1))
    runs = []
    for mode in ({NO_FORK_ENV: "1"}, {MIN_ITEMS_ENV: "1"}):
        env = {k: v for k, v in cli_env("0").items() if k not in (NO_FORK_ENV, MIN_ITEMS_ENV)}
        done = subprocess.run([sys.executable, "-m", "paybill", "validate", "specs"], cwd=tmp_path,
                              env={**env, **mode, "PAYBILL_CACHE_DIR": "off"}, capture_output=True,
                              text=True, timeout=120, check=False)
        assert "Traceback" not in done.stderr
        runs.append((done.returncode, done.stdout, done.stderr))
    assert runs[0] == runs[1]
    assert runs[0][0] == (1 if edit == "a rule error" else 0)
    assert ("PB0407" in runs[0][1] + runs[0][2]) == (edit == "a rule error")
    assert sorted(tmp_path.iterdir()) == [tmp_path / "specs"]
