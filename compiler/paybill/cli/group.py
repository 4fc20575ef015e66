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


SUMMARIES: dict[str, str] = {
    "apply": "Plan apply jobs from generated/manifest.json, run one shard of them, check for drift, or "
             "write atlantis.yaml.",
    "audit": "Walk the git history of SPECS: one record per commit with sha, author, committer, date, "
             "trailers (Paybill-Agent, Approved-by) and the semantic changes, oldest first.",
    "authzen": "Answer AuthZEN evaluation requests for one agent bundle over HTTP.",
    "billing": "Turn billing-system (Stripe) subscription events into reviewed tenant proposals.",
    "bundle": "Validate SPECS and write agent bundles only (paybill compile writes them with everything else).",
    "compile": "Compile the spec repository SPECS (default: ./specs) into Terraform, bundles, SQL and manifests.",
    "db": "Migrate, check for drift, export and erase tenant data on live PostgreSQL databases.",
    "graph": "Print the dependency graph of SPECS (default: ./specs).",
    "guard": "Ask, replay and audit an agent bundle's decisions.",
    "init": "Scaffold a new spec repository in DIRECTORY (absent or empty): example specs, change-control "
            "policies, JSON Schemas, the GitHub workflows (pull request, apply, drift), a README saying what to "
            "set before the first merge, and a pre-commit configuration.",
    "plan": "Show what merging a change would do: spec changes field by field, Terraform resources per "
            "stack, and danger flags (data destroyed, isolation moved, lifecycle skipped, permissions widened, "
            "revenue moved).",
    "propose": "Propose spec changes as agent AGENT: edit the YAML (comments and formatting kept), validate the "
               "repository, check every changed field against the agent's spec and the Cedar change-control "
               "rules, compile the proposed specs, then create branch paybill/<agent>/<slug> with one commit "
               "(trailer Paybill-Agent) holding the spec edit and the recompiled generated/ (beside SPECS), "
               "without touching the checkout, and print the pull-request body: the markdown plan of that commit.",
    "schema": "Generate JSON Schemas (one per kind, plus paybill.schema.json for any document).",
    "serve": "Serve the agent of --bundle as an MCP server: generated tools, every call through the guard and "
             "guard.db, run state in PostgreSQL (schema paybill) so replicas share one set of limits.",
    "validate": "Validate the spec repository SPECS (default: ./specs).",
}
"""Each command's first help sentence, so that ``paybill --help`` lists the commands without importing
them (importing all fifteen loads pydantic's models, Cedar, GitPython and psycopg: ~0.5 s idle for a
list of one-liners). ``tests/foundation/test_cli_help.py`` checks each against its command's help."""


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when named (``--help`` lists :data:`SUMMARIES`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``paybill --help``, as :meth:`click.Group.format_commands` writes it, from
        :data:`SUMMARIES` (a command missing from it is imported for its help, as click would)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            summary = SUMMARIES.get(name)
            if summary is None:
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append((name, click.Command(name, help=summary).get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
