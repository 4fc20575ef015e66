"""The contract every emitter follows (Terraform, agent bundles, SQL, tenant entitlements...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paybill.diagnostics import DiagnosticSink
from paybill.validate.index import SpecIndex

OutputTree = dict[str, bytes]
"""Output-relative POSIX path (``terraform/tenant-acme/main.tf.json``) -> file bytes."""


@dataclass
class EmitContext:
    """What an emitter sees: the valid specs, a sink for emit-time diagnostics, shared facts.

    ``shared`` lets one emitter publish derived facts for later ones (the graph's waves for the
    manifest, for example) without emitters importing each other.
    """

    index: SpecIndex
    sink: DiagnosticSink
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Emitter:
    """A named output producer; ``emit`` returns the files it owns.

    ``independent``: the emitter reads only the index and ``ctx.shared["stack_units"]`` (not the
    ``graph``, nor another emitter's files or facts), and it keeps no state between compiles (no
    ``cache``). On large repositories the pipeline may then run it in a forked helper, started
    before the graph is built and running while the other emitters do; what it publishes in
    ``ctx.shared`` must pickle.
    """

    name: str
    emit: Callable[[EmitContext], OutputTree]
    independent: bool = False
