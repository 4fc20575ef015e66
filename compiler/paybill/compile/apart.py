"""Independent emitters in a forked helper, beside the ones this process runs.

An emitter marked ``independent`` (:class:`paybill.emit.contract.Emitter`) reads only the index and
the stack units, so on a large repository it can run in a helper process (:mod:`paybill.forked`)
started before the graph is built, while this process builds the graph and runs Terraform. The
pipeline asks for the helper's results when it reaches the first independent emitter, and merges
files, published facts and diagnostics in the emitters' order: the result equals one process's.

When the compile streams its output (``ctx.writer``, :mod:`paybill.emit.files`), the helper writes
its emitters' files into the scratch tree itself and sends back only their sizes and digests.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from paybill.compile.checks import path_problem
from paybill.diagnostics import Diagnostic
from paybill.emit.cache import CompileCache
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.files import Written
from paybill.forked import ForkedCall
from paybill.graph.stacks import StackUnit

Parts = dict[str, tuple[OutputTree, dict[str, Written], dict[str, bytes]]]
"""Per emitter: the files it returned in memory, those written early (:mod:`paybill.emit.files`) and
those it kept in place (path -> SHA-256, :attr:`EmitContext.kept`)."""
_Apart = tuple[Parts, dict[str, Any], list[Diagnostic]]


def _emit_apart(ctx: EmitContext, emitters: list[Emitter], reported: int) -> _Apart:
    """In a helper: run ``emitters`` in order; return their files, the facts they published, their diagnostics.

    With ``ctx.writer`` the files are written here and only their digests go back (the parent
    checks their paths as if it had them): no bytes cross the pipe.
    """
    before = dataclasses.replace(ctx.facts)
    parts: Parts = {}
    for emitter in emitters:
        kept_before = set(ctx.kept)
        files = emitter.emit(ctx)
        written, ctx.written = ctx.written, {}
        kept = {path: digest for path, digest in ctx.kept.items() if path not in kept_before}
        if ctx.writer is not None and files:
            # A bad path stays in memory, for the parent to report (PB0692) like any other.
            safe = {path: data for path, data in files.items() if path_problem(path) is None}
            written.update(ctx.writer.write_now(safe))
            files = {path: data for path, data in files.items() if path not in safe}
        parts[emitter.name] = (files, written, kept)
    published = ctx.facts.published_since(before)
    return parts, published, ctx.sink.items()[reported:]


class ApartHelper:
    """Independent emitters running in a forked helper while this process runs the others."""

    def __init__(self, ctx: EmitContext, emitters: list[Emitter]) -> None:
        self.emitters = emitters
        self._call: ForkedCall[_Apart] | None = ForkedCall(_emit_apart, ctx, emitters, len(ctx.sink))

    def collect(self, ctx: EmitContext) -> Parts:
        """Wait for the helper; its facts and diagnostics join ``ctx``; returns files per emitter."""
        call, self._call = self._call, None
        if call is None:
            raise RuntimeError("the helper's results were already collected")
        parts, published, diagnostics = call.result()
        ctx.facts.update(published)
        ctx.sink.extend(diagnostics)
        for _, written, _ in parts.values():
            ctx.digests.update((path, entry.digest) for path, entry in written.items())
        return parts

    def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None


def start_apart(ctx: EmitContext, ordered: list[Emitter], units: list[StackUnit], cache: CompileCache | None,
                final: tuple[Emitter, ...]) -> ApartHelper | None:
    """Fork a helper for the independent emitters when the repository is large enough to gain from it
    (``ctx.parallelism``, counted in stacks).

    ``final`` emitters (the manifest) describe the whole tree, so they never run apart. Not with a
    cache (its memo would fill in the helper and be lost), and only when this process keeps an
    emitter of its own to run meanwhile.
    """
    if cache is not None or not ctx.parallelism.worth_it(len(units)):
        return None
    apart = [e for e in ordered if e.independent and e not in final]
    if not apart or not any(not e.independent and e not in final for e in ordered):
        return None
    return ApartHelper(ctx, apart)
