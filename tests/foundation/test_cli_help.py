"""``paybill --help`` lists every command from :data:`paybill.cli.group.SUMMARIES`, without importing them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from paybill.cli.group import COMMANDS, SUMMARIES, LazyGroup


def _command(name: str) -> click.Command:
    module, attribute = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    return command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_what_click_shows_for_the_command_at_every_width(name: str) -> None:
    """A summary that drifts from its command's help would list another text than `paybill NAME --help` says."""
    command, listed = _command(name), click.Command(name, help=SUMMARIES[name])
    for limit in range(20, 240):
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


def test_every_command_has_a_summary() -> None:
    assert set(SUMMARIES) == set(COMMANDS)


def test_the_command_list_is_what_click_would_write() -> None:
    """The same text as click's own Group.format_commands, which imports each command."""
    from paybill.cli.group import cli

    ours = cli.get_help(click.Context(cli, info_name="paybill"))
    eager = click.Group("paybill", commands={name: _command(name) for name in COMMANDS})
    theirs = eager.get_help(click.Context(eager, info_name="paybill"))
    assert ours.partition("Commands:")[2] == theirs.partition("Commands:")[2] != ""
    assert isinstance(cli, LazyGroup)


def test_top_level_help_imports_no_command() -> None:
    """`paybill --help` used to import all fifteen commands (pydantic models, Cedar, GitPython, psycopg)."""
    probe = ("import sys, runpy\nsys.argv = ['paybill', '--help']\n"
             "try:\n    runpy.run_module('paybill', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "heavy = sorted(m for m in sys.modules if m.startswith(('paybill.cli.', 'pydantic', 'cedarpy', 'git', "
             "'psycopg')) and m not in ('paybill.cli.main', 'paybill.cli.group', 'paybill.cli.compile_fast'))\n"
             "print('HEAVY', heavy, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert "Commands:" in done.stdout and "validate  Validate the spec repository" in done.stdout
    assert "HEAVY []" in done.stderr, done.stderr
