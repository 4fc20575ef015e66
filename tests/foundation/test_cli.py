"""The command line contract: exit codes 0/1/2, ``--help`` on every command, ``--version``."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from paybill import __version__
from paybill.cli.main import cli
from paybill.models.json_schema import render_schemas

from .support import FIXTURES, ROOT, SCHEMAS, build_repo, cli_env, run_cli


def test_example_specs_are_the_default_and_clean() -> None:
    result = run_cli("validate", cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    files = len(list((ROOT / "specs").rglob("*.yaml")))
    assert result.stdout == f"ok: {files} files checked, no problems\n"


def test_diagnostics_exit_1(tmp_path: Path) -> None:
    build_repo(tmp_path, FIXTURES / "PB0302")
    result = run_cli("validate", "specs", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.endswith("1 error in 9 files checked\n")


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    build_repo(tmp_path, FIXTURES / "PB0309")
    result = run_cli("validate", "specs", cwd=tmp_path)
    assert result.returncode == 0
    assert "warning[PB0309]" in result.stdout
    # and, as compile does, the bundle emitter's PB0704 (the agent's bundle has no tenant to act on)
    assert "warning[PB0704]" in result.stdout
    assert result.stdout.endswith("0 errors, 2 warnings in 9 files checked\n")


def test_a_single_file_can_be_validated(tmp_path: Path) -> None:
    """Schema checks of one file; references to specs outside it are (rightly) unknown."""
    build_repo(tmp_path)
    result = run_cli("validate", "specs/plans/starter.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "ok: 1 file checked, no problems\n")
    result = run_cli("validate", "specs/tenants/bluth.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "bluth.yaml:7:9: error[PB0302]: unknown plan 'starter'" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "no-such-folder"),
        ("validate", "--format", "xml"),
        ("validate", "--no-such-option"),
        ("no-such-command",),
        ("schema", "--no-such-option"),
    ],
    ids=["missing-folder", "bad-format", "bad-option", "bad-command", "schema-bad-option"],
)
def test_usage_errors_exit_2(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Usage: paybill" in result.stderr and "Error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_default_specs_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert ("specs folder 'specs' does not exist (run paybill in your spec repository, or create one with: "
            "paybill init DIR)") in result.stderr
    named = run_cli("validate", "elsewhere/specs", cwd=tmp_path)  # a folder given on purpose: no advice
    assert named.returncode == 2 and "specs folder 'elsewhere/specs' does not exist\n" in named.stderr


def test_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == pyproject["project"]["version"]
    result = run_cli("--version", cwd=ROOT)
    assert (result.returncode, result.stdout) == (0, f"paybill, version {__version__}\n")


def _sub(group: click.Group, name: str) -> click.Command:
    """A sub-command through the public API (the top-level group loads commands lazily)."""
    command = group.get_command(click.Context(group), name)
    assert command is not None, name
    return command


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name in group.list_commands(click.Context(group)):
        command = _sub(group, name)
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


ALL_COMMANDS = [(), *_commands(cli)]


def test_every_expected_command_is_registered() -> None:
    assert {("validate",), ("schema",)} <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "paybill")
def test_help_on_every_command(path: tuple[str, ...]) -> None:
    """Every command and sub-command, including ones added later, documents itself."""
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="paybill")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(('paybill', *path))} ")
    command = cli
    for name in path:
        command = _sub(command, name)
    assert (command.help or "").strip(), f"'paybill {' '.join(path)}' has no help text"
    assert "``" not in result.output, "reStructuredText markup leaks into --help"
    required = [p for p in command.params if p.required]
    if len(required) >= 3:
        assert "Example" in result.output, f"'paybill {' '.join(path)}': {len(required)} required inputs, no example"


def test_help_in_a_real_process() -> None:
    for args in (("--help",), ("-h",), ("validate", "--help")):
        result = run_cli(*args, cwd=ROOT)
        assert result.returncode == 0 and result.stdout.startswith("Usage: paybill")


def test_json_format_is_a_list_of_diagnostic_objects(tmp_path: Path) -> None:
    build_repo(tmp_path, FIXTURES / "PB0302")
    result = run_cli("validate", "specs", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout) == [{
        "path": "specs/tenants/bluth.yaml", "line": 7, "col": 9, "severity": "error", "code": "PB0302",
        "message": "unknown plan 'startr'", "hint": "did you mean 'starter'?",
    }]


def test_clean_json_output_is_an_empty_list(tmp_path: Path) -> None:
    build_repo(tmp_path)
    result = run_cli("validate", "specs", "--format", "json", cwd=tmp_path)
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_github_format_escapes_annotation_syntax(tmp_path: Path) -> None:
    """Commas, colons and newlines in a path or message must not break the ``::error`` command."""
    root = build_repo(tmp_path)
    (root / "tenants" / "a,b:c.yaml").write_text("kind: Tenant\n", encoding="utf-8")
    result = run_cli("validate", "specs", "--format", "github", cwd=tmp_path)
    first = result.stdout.splitlines()[0]
    assert first.startswith("::error file=specs/tenants/a%2Cb%3Ac.yaml,line=1,col=1,title=paybill PB0110::")


def test_schema_check_and_write(tmp_path: Path) -> None:
    assert run_cli("schema", "--check", "--out", str(SCHEMAS), cwd=ROOT).returncode == 0
    out = tmp_path / "schemas"
    result = run_cli("schema", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == render_schemas()
    assert run_cli("schema", "--check", "--out", str(out), cwd=tmp_path).returncode == 0
    (out / "plan.schema.json").write_text("{}\n", encoding="utf-8")
    stale = run_cli("schema", "--check", "--out", str(out), cwd=tmp_path)
    assert stale.returncode == 1 and "plan.schema.json" in stale.stdout


def test_console_script_matches_python_dash_m(tmp_path: Path) -> None:
    """The ``paybill`` script installed next to this interpreter behaves like ``python -m paybill``."""
    build_repo(tmp_path, FIXTURES / "PB0302")
    script = Path(sys.executable).parent / "paybill"
    assert script.is_file(), "install the project (pip install -e .) so the console script exists"
    via_script = subprocess.run([str(script), "validate", "specs"], cwd=tmp_path, env=cli_env(),
                                capture_output=True, text=True, timeout=30, check=False)
    via_module = run_cli("validate", "specs", cwd=tmp_path)
    assert (via_script.returncode, via_script.stdout) == (via_module.returncode, via_module.stdout)
    assert via_script.returncode == 1


def test_schema_out_that_is_not_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    # a FIFO, a device or a symlink loop as --out was an internal error (FileExistsError, exit 70)
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for target in (tmp_path / "fifo", tmp_path / "a", Path("/dev/null")):
        result = run_cli("schema", "--out", str(target), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "exists and is not a folder" in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize("command", ["validate", "compile", "graph", "bundle"])
def test_a_specs_symlink_loop_is_named_as_such(command: str, tmp_path: Path) -> None:
    # said "specs folder 'a' does not exist" about a link that is right there
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = run_cli(command, "a", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "specs folder 'a' is a symbolic link that leads nowhere" in result.stderr, result.stderr
