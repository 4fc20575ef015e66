"""``paybill graph``: the dependency graph, whole or focused on one node (impact questions)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paybill.cli.common import EXIT_DIAGNOSTICS, require_specs, specs_argument
from paybill.diagnostics import DiagnosticSink
from paybill.diagnostics.render import render as render_diagnostics
from paybill.diagnostics.suggest import did_you_mean
from paybill.validate import validate_repository

if TYPE_CHECKING:
    from paybill.graph import DependencyGraph

FORMATS = ("mermaid", "dot", "json")  # paybill.graph.render.FORMATS; not imported to keep startup light


def resolve_focus(graph: DependencyGraph, text: str) -> str:
    """``KIND/NAME`` (kind case-insensitive: ``tenant/acme``, ``stack/pool/x``) -> node id, or UsageError."""
    from paybill.graph.model import KIND_ORDER

    kind, sep, name = text.partition("/")
    canonical = {k.lower(): k for k in KIND_ORDER}.get(kind.lower())
    if not sep or canonical is None:
        raise click.UsageError(f"--focus '{text}': expected KIND/NAME with KIND one of {', '.join(KIND_ORDER)}")
    identifier = f"{canonical}/{name}"
    if identifier not in graph:
        same_kind = [n for n in graph.nodes() if n.startswith(canonical + "/")]
        hint = did_you_mean(identifier, same_kind)
        raise click.UsageError(f"--focus: no node '{identifier}' in the graph" + (f"; {hint}" if hint else ""))
    return identifier


@click.command("graph")
@specs_argument
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mermaid", show_default=True,
              help="mermaid (paste into Markdown), dot (Graphviz), or json (tools; includes waves).")
@click.option("--focus", "focus_on", metavar="KIND/NAME",
              help="Show only this node and what it reaches, e.g. Plan/growth, Pool/aws-use1-shared, Stack/pool/x.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="With --focus: at most this many hops.")
@click.option("--direction", type=click.Choice(["both", "dependents", "dependencies"]), default="both",
              show_default=True,
              help="With --focus: dependents = everything a change to the node touches (impact); "
                   "dependencies = everything it needs.")
def graph_command(specs: Path, fmt: str, focus_on: str | None, depth: int | None, direction: str) -> None:
    """Print the dependency graph of SPECS (default: ./specs).

    An edge A -> B means A must exist before B. Stacks carry their apply wave. With --focus, the
    dependents of a node answer impact questions: which tenants and stacks a plan or pool change
    touches. Exit status: 0 printed, 1 diagnostics (specs invalid or a cycle), 2 usage error.
    """
    from paybill.gcpause import gc_paused

    with gc_paused():  # large repositories: see paybill.gcpause
        _graph(specs, fmt, focus_on, depth, direction)


def _graph(specs: Path, fmt: str, focus_on: str | None, depth: int | None, direction: str) -> None:
    from paybill.graph import build_graph, report_cycles
    from paybill.graph.render import focus, render

    require_specs(specs)
    if depth is not None and focus_on is None:
        raise click.UsageError("--depth needs --focus")
    result = validate_repository(specs)
    if not result.ok:
        click.echo(render_diagnostics("text", result.diagnostics, result.files), nl=False, err=True)
        sys.exit(EXIT_DIAGNOSTICS)
    graph = build_graph(result.index)
    sink = DiagnosticSink()
    if not report_cycles(graph, sink):
        click.echo(render_diagnostics("text", sink.sorted(), result.files), nl=False, err=True)
        sys.exit(EXIT_DIAGNOSTICS)
    query = focus(graph, resolve_focus(graph, focus_on), depth, direction) if focus_on else None
    click.echo(render(fmt, graph, query), nl=False)
