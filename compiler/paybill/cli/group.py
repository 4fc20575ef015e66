"""The ``paybill`` command group (click), behind the entry point :func:`paybill.cli.main.main`."""

from __future__ import annotations

import gc
import importlib

import click

from paybill import __version__

# command name -> "module:attribute". Commands import on first use: `paybill validate` should not
# pay for loading Cedar, GitPython, psycopg and five cloud emitters it never calls.
COMMANDS: dict[str, str] = {
    "validate": "paybill.cli.validate_cmd:validate_command",
    "schema": "paybill.cli.schema_cmd:schema_command",
    "compile": "paybill.cli.compile_cmd:compile_command",
    "graph": "paybill.cli.graph_cmd:graph_command",
    "plan": "paybill.cli.plan_cmd:plan_command",
    "audit": "paybill.cli.audit_cmd:audit_command",
    "propose": "paybill.cli.propose_cmd:propose_command",
    "init": "paybill.cli.init_cmd:init_command",
    "guard": "paybill.cli.guard_cmd:guard_group",
    "bundle": "paybill.cli.guard_cmd:bundle_command",
    "db": "paybill.cli.db_cmd:db_group",
    "authzen": "paybill.cli.authzen_cmd:authzen_command",
    "billing": "paybill.cli.billing_cmd:billing_group",
    "serve": "paybill.cli.serve_cmd:serve_command",
    "apply": "paybill.cli.apply_cmd:apply_group",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when named (or listed by --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        import paybill.gcpause

        if not paybill.gcpause.one_shot_process:
            return getattr(importlib.import_module(module_name), attribute)
        # A `paybill` process: its command's modules (pydantic models, click, ...) are ~80,000
        # objects that live until exit; collecting while they are made finds nothing, and after it
        # they are frozen out of every later collection (~0.05 s of a `paybill plan`).
        with paybill.gcpause.gc_paused():
            command = getattr(importlib.import_module(module_name), attribute)
            gc.freeze()
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paybill")
def cli() -> None:
    """paybill: compile multi-tenant SaaS specs into Terraform and agent policy bundles."""
