"""Consistency checks the pipeline runs on emitter output before anything can be written.

These guard against bugs rather than user mistakes, but they still end as diagnostics (PB069x)
with nothing written, never as a half-trusted tree: two emitters writing one path, a path that
would escape the output folder, or a Terraform stack whose dependencies disagree with the graph
(which would put it in the wrong apply wave).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill.diagnostics import DiagnosticSink
from paybill.graph.stacks import StackUnit
from paybill.validate.index import SpecIndex

OVERLAP = "PB0691"
BAD_PATH = "PB0692"
STACK_MISMATCH = "PB0693"
NO_CLOUD_EMITTER = "PB0695"


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an output path, or None."""
    if not isinstance(path, str) or not path:
        return "empty path"
    if path.startswith("/") or "\\" in path or ":" in path.split("/", 1)[0]:
        return "absolute or non-POSIX path"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "path with an empty, '.' or '..' segment"
    return None


def check_paths(emitter: str, paths: list[str], owners: dict[str, str], sink: DiagnosticSink) -> list[str]:
    """Report bad and doubly-owned paths; return the paths that may be kept."""
    kept = []
    for path in paths:
        problem = path_problem(path)
        if problem:
            sink.error(BAD_PATH, f"internal: emitter '{emitter}' produced {problem}: {path!r}", "<compile>",
                       hint="this is a bug in paybill; please report it")
            continue
        owner = owners.get(path)
        if owner is not None:
            sink.error(OVERLAP, f"internal: emitters '{owner}' and '{emitter}' both write '{path}'", "<compile>",
                       hint="each emitter owns a disjoint part of the output tree; this is a bug in paybill")
            continue
        owners[path] = emitter
        kept.append(path)
    return kept


def check_stacks(
    terraform: Any, units: list[StackUnit], index: SpecIndex, cloud_emitters: Mapping[str, Any], sink: DiagnosticSink
) -> None:
    """Emitted stacks must be exactly the graph's stacks, with the same dependencies.

    A stack may be missing only when its cloud has no emitter yet (a warning, so work in progress
    stays usable) or when an emit-time error was already reported for it.
    """
    if terraform is None:
        return
    expected = {unit.address: unit for unit in units}
    emitted = {info.address: info for info in terraform.stacks}
    for address in sorted(emitted):
        info = emitted[address]
        unit = expected.get(address)
        if unit is None:
            sink.error(STACK_MISMATCH, f"internal: Terraform stack '{address}' has no node in the dependency graph",
                       "<compile>", hint="this is a bug in paybill; please report it")
        elif tuple(sorted(info.depends_on)) != tuple(sorted(unit.depends_on)):
            sink.error(STACK_MISMATCH,
                       f"internal: Terraform stack '{address}' reads {list(info.depends_on)} but the graph says "
                       f"{list(unit.depends_on)}", unit.owner.path, unit.owner.position("metadata", "name"),
                       "this is a bug in paybill; please report it")
    missing: dict[str, list[StackUnit]] = {}
    for address, unit in expected.items():
        if address in emitted:
            continue
        cloud_name = unit.owner.model.spec.cloud if unit.kind == "pool" else unit.owner.model.spec.placement.cloud
        cloud_doc = index.get("Cloud", cloud_name)
        provider = cloud_doc.model.spec.provider if cloud_doc else "?"
        if provider not in cloud_emitters:
            missing.setdefault(provider, []).append(unit)
        elif not sink.has_errors:
            sink.error(STACK_MISMATCH, f"internal: no Terraform was emitted for stack '{address}'",
                       unit.owner.path, unit.owner.position("metadata", "name"),
                       "this is a bug in paybill; please report it")
    for provider in sorted(missing):
        skipped = missing[provider]
        first = skipped[0].owner
        sink.warning(NO_CLOUD_EMITTER,
                     f"no Terraform emitter for provider '{provider}': {len(skipped)} stack(s) not emitted "
                     f"({', '.join(u.address for u in skipped[:5])}{', ...' if len(skipped) > 5 else ''})",
                     first.path, first.position("metadata", "name"),
                     "this paybill build does not support the provider yet")
    removed = sorted(terraform.removed)
    wanted = sorted(f"tenant/{doc.name}" for doc in index.of_kind("Tenant")
                    if doc.model.spec.lifecycle == "deleted" and doc.model.spec.decommission is None)
    if removed != wanted:
        sink.error(STACK_MISMATCH, f"internal: Terraform removed stacks {removed} differ from the graph's {wanted}",
                   "<compile>", hint="this is a bug in paybill; please report it")
