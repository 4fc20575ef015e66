"""The ``Example:`` of every command's ``--help``, tried in the repository a new user has: ``paybill init``'s.

A new user copies the example from ``--help``. ``guard check``'s named tenant ``initech`` and ``serve``'s
bundle ``ops-agent``, which only this project's own ``specs/`` have: in a scaffolded repository the first
was denied (``tenant.out-of-scope``, exit 3) and the second refused to start.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from paybill.cli.main import cli

COMMANDS = [("guard", "check"), ("serve",), ("authzen",), ("propose",), ("db", "export"), ("db", "erase")]
"""``guard approve`` is left out: its example approves ops-agent's ``close-tickets``, and no step of the
scaffold's workflows requires an approval."""


def example(*command: str) -> list[str]:
    """The arguments of the first ``paybill ...`` line of the command's help Example, continuation lines joined."""
    text = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200).output
    block = text.split("Example", 1)[1].split(":", 1)[1]
    joined = re.sub(r"\\\n\s*", " ", block.strip())
    line = next(row for row in joined.splitlines() if row.strip().startswith("paybill "))
    return shlex.split(line)[1:]


def test_the_help_examples_name_what_an_init_repository_has(tmp_path: Path, run) -> None:
    repo = tmp_path / "platform"
    assert run(tmp_path, "init", str(repo), "--no-git")[0] == 0
    assert run(repo, "compile")[0] == 0
    named = {(command, arg) for command in COMMANDS for arg in example(*command) if arg.startswith("generated/")}
    missing = sorted((" ".join(command), arg) for command, arg in named if not (repo / arg).exists())
    assert not missing, missing

    code, out, err = run(repo, *example("guard", "check"))
    assert code == 0 and out.startswith("allow: check read invoices (tenant vandelay, step list-invoices)"), out + err

    arguments = example("serve")
    bundle, catalog = arguments[arguments.index("--bundle") + 1], arguments[arguments.index("--catalog") + 1]
    agent = Path(bundle).name
    agents = json.loads((repo / catalog / "migrations.json").read_text(encoding="utf-8"))["catalog"]["agents"]
    assert agent in agents, f"the serve example's agent {agent} has no role in {catalog} (PB1308)"
