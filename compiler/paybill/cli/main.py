"""Entry point: the ``paybill`` command group.

Anything a user can write must end in diagnostics and an exit code, never a traceback; an
unexpected exception is an internal error, reported in one line (set PAYBILL_DEBUG=1 for the trace).
"""

from __future__ import annotations

import os
import sys

import click

from paybill import __version__
from paybill.cli.audit_cmd import audit_command
from paybill.cli.compile_cmd import compile_command
from paybill.cli.graph_cmd import graph_command
from paybill.cli.guard_cmd import bundle_command, guard_group
from paybill.cli.init_cmd import init_command
from paybill.cli.plan_cmd import plan_command
from paybill.cli.propose_cmd import propose_command
from paybill.cli.schema_cmd import schema_command
from paybill.cli.validate_cmd import validate_command

EXIT_INTERNAL = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paybill")
def cli() -> None:
    """paybill: compile multi-tenant SaaS specs into Terraform and agent policy bundles."""


cli.add_command(validate_command)
cli.add_command(schema_command)
cli.add_command(compile_command)
cli.add_command(graph_command)
cli.add_command(plan_command)
cli.add_command(audit_command)
cli.add_command(propose_command)
cli.add_command(init_command)
cli.add_command(guard_group)
cli.add_command(bundle_command)


def main() -> None:
    try:
        cli.main(prog_name="paybill", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("PAYBILL_DEBUG"):
            raise
        click.echo(f"paybill: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("  please report this with the input that caused it (PAYBILL_DEBUG=1 shows the trace)",
                   err=True)
        sys.exit(EXIT_INTERNAL)
