"""The contract every emitter follows (Terraform, agent bundles, SQL, tenant entitlements...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from paybill.diagnostics import DiagnosticSink
from paybill.forked import Parallelism
from paybill.validate.index import SpecIndex

if TYPE_CHECKING:  # resolve is imported when a context resolves its own model: importing the contract
    # (as `paybill plan` does for the SQL catalogs) does not load the resolve stage and its rules
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from paybill.emit.cache import CompileCache
    from paybill.emit.files import ScratchWriter, Written
    from paybill.emit.terraform.emitter import TerraformResult
    from paybill.graph.model import DependencyGraph
    from paybill.resolve import ResolvedModel, StackUnit
    from paybill.store import UnitStore

OutputTree = dict[str, bytes]
"""Output-relative POSIX path (``terraform/tenant-acme/main.tf.json``) -> file bytes."""


@dataclass
class EmitFacts:
    """What emitters publish for later emitters and for the compile's result, one typed field each.

    Why fields and not a string-keyed dict: a reader of a fact names its type, a typo is a type
    error instead of a silent ``None``, and the forked helper's facts merge field by field. Every
    value must pickle (an independent emitter may publish from a forked helper).
    """

    terraform: TerraformResult | None = None
    """Stack facts of the Terraform emitter (the manifest and the compile's checks read them)."""
    sql_databases: tuple[str, ...] | None = None
    """Keys of the databases the SQL emitter wrote a folder for."""
    source_listings: dict[str, tuple[str, ...]] | None = None
    """Output file -> the spec files whose SHA-256 it lists under ``sources`` (an SQL folder's
    ``migrations.json``, a bundle's ``manifest.json``): the files a one-tenant delta compile must
    patch when only that tenant's bytes changed (:mod:`paybill.delta`). Each emitter adds its own
    files to the dictionary (a helper's are merged key by key)."""

    def published_since(self, before: EmitFacts) -> dict[str, Any]:
        """Facts set (or replaced) since ``before``: what a helper sends back."""
        return {name: value for name in _FACT_NAMES
                if (value := getattr(self, name)) is not None and getattr(before, name) is not value}

    def update(self, published: Mapping[str, Any]) -> None:
        for name, value in published.items():
            if name not in _FACT_NAMES:
                raise KeyError(f"unknown emit fact '{name}'")
            if name == "source_listings" and self.source_listings is not None:
                value = {**self.source_listings, **value}
            setattr(self, name, value)

    def list_sources(self, listings: Mapping[str, tuple[str, ...]]) -> None:
        """Add output files and the spec files whose digests they list (:attr:`source_listings`).

        A new dictionary each time, so a forked helper's :meth:`published_since` sees it changed."""
        self.source_listings = {**(self.source_listings or {}), **listings}


_FACT_NAMES = ("terraform", "sql_databases", "source_listings")


@dataclass
class EmitContext:
    """What an emitter sees: the valid specs and their resolved model, a sink, and typed inputs.

    The compile pipeline fills every input: ``resolved`` (the model the resolve stage built, its
    rules already reported), ``graph`` (None for independent emitters, which run before it
    exists), ``cache`` (a :class:`~paybill.emit.cache.CompileCache` or None) and ``tree`` (a
    read-only view of the files emitted so far), ``store`` (the on-disk unit store or None). A
    caller that builds a context from an index alone (tests, tools) gets the model resolved on
    first use by :meth:`model`, its findings reported into ``sink`` as the pipeline would.

    ``facts`` carries what one emitter publishes for later ones (:class:`EmitFacts`) without
    emitters importing each other. ``signing_key``: the Ed25519 key bundles are signed with, when a
    command took ``--signing-key`` (otherwise the bundle emitter reads ``PAYBILL_BUNDLE_SIGNING_KEY``).
    """

    index: SpecIndex
    sink: DiagnosticSink
    facts: EmitFacts = field(default_factory=EmitFacts)
    signing_key: Ed25519PrivateKey | None = None
    resolved: ResolvedModel | None = None
    graph: DependencyGraph | None = None
    cache: CompileCache | None = None
    """Built outputs by fingerprint, kept across compiles in one process (``plan`` compiles both sides)."""
    tree: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    store: UnitStore | None = None
    parallelism: Parallelism = field(default_factory=Parallelism.from_env)
    digests: dict[str, bytes] = field(default_factory=dict)
    """SHA-256 of emitted files an emitter already knows (path -> digest: a stack read back from the
    unit store carries it), so the manifest and the writer do not hash 100+ MB again. An emitter may
    only put here the digest of exactly the bytes it returns (or keeps, below) for that path."""
    kept: dict[str, bytes] = field(default_factory=dict)
    """Files of the output tree kept in place (path -> SHA-256): unchanged units whose bytes are
    already in the output folder (``store.in_place``), so nobody reads, renders or hashes them. They
    belong to the tree like returned files (an emitter never returns a path it keeps, and also puts
    its digest in ``digests``); the writer keeps them (:mod:`paybill.write.spare`)."""
    writer: ScratchWriter | None = None
    """Set when the compile streams its output (:mod:`paybill.emit.files`): an emitter producing many
    files may write them into the scratch tree as they are rendered, instead of returning them, and
    record each in ``written`` (and its digest in ``digests``); the pipeline checks those paths as
    if they had been returned. None: every file is returned."""
    written: dict[str, Written] = field(default_factory=dict)
    """Files the running emitter wrote through ``writer`` (the pipeline collects them after each emitter)."""
    """When an emitter may split its work with a forked helper: the compile driver's one setting."""
    """Units built by earlier compiles, on disk (:class:`paybill.store.UnitStore`), or None: an emitter
    that can name every input of a unit (:func:`paybill.emit.cache.unit_key`) reuses its stored bytes."""

    def model(self) -> ResolvedModel:
        """The resolved model: the pipeline's, or resolved now (once) for a context built from an index."""
        if self.resolved is None:
            from paybill.resolve import resolve_index

            self.resolved = resolve_index(self.index, self.sink)
        return self.resolved

    @property
    def units(self) -> tuple[StackUnit, ...]:
        """Every live stack unit (the layout graph, Terraform, entitlements and the manifest share)."""
        return self.model().units


@dataclass(frozen=True)
class Emitter:
    """A named output producer; ``emit`` returns the files it owns.

    ``independent``: the emitter reads only the index and the resolved model (not the ``graph``,
    nor another emitter's files or facts), and it keeps no state between compiles (no ``cache``).
    On large repositories the pipeline may then run it in a forked helper, started before the graph
    is built and running while the other emitters do; what it publishes in ``ctx.facts`` must
    pickle.
    """

    name: str
    emit: Callable[[EmitContext], OutputTree]
    independent: bool = False
