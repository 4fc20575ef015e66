"""The job plan as JSON (the file ``apply run`` reads) and as GitHub step outputs (the matrices).

The plan file is uploaded once by the planning job and downloaded by every shard job, so shards
never re-plan (and never disagree about the day a retention ends). The step outputs carry only
shard ids and names: a matrix entry stays small whatever the number of stacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import orjson

from paybill.apply.errors import UNKNOWN_SHARD, ApplyError, Problem
from paybill.apply.schedule import JobPlan, Phase, Shard, Unit
from paybill.contract.files import read_regular

API_VERSION = "paybill.dev/v1alpha1"
KIND = "ApplyPlan"


def plan_to_json(plan: JobPlan) -> dict[str, object]:
    counts = {"apply": 0, "migrate": 0, "destroy": 0}
    for phase in plan.phases:
        for shard in phase.shards:
            for unit in shard.units:
                counts[unit.action] += 1
                if unit.action == "apply" and unit.migrate:
                    counts["migrate"] += 1
    return {
        "apiVersion": API_VERSION, "kind": KIND, "base": plan.base, "commit": plan.commit,
        "summary": {**counts, "phases": len(plan.phases), "jobs": plan.jobs},
        "phases": [{"phase": p.number, "action": p.action, "label": p.label,
                    "shards": [{"id": s.id, "resources": s.resources, "units": [u.to_json() for u in s.units]}
                               for s in p.shards]} for p in plan.phases],
        "held": list(plan.held), "vanished": list(plan.vanished),
        **({"applied": plan.applied} if plan.applied is not None else {}),
    }


def dumps(plan: JobPlan) -> str:
    return (orjson.dumps(plan_to_json(plan), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n").decode()


def shard_name(phase: Phase, index: int, shard: Shard) -> str:
    """The matrix job's name: the phase, the shard's place in it, and what it holds."""
    what = shard.units[0].address if len(shard.units) == 1 else f"{len(shard.units)} stacks"
    return f"{phase.label}, {index}/{len(phase.shards)}: {what}"


def github_outputs(plan: JobPlan) -> dict[str, str]:
    """Step outputs: ``phases`` (``phase<k>`` -> its ``action``, ``count`` and ``matrix``, for every
    phase job the workflow has, empty ones included), ``destroys`` and ``jobs``.

    One JSON output read with ``fromJSON(...).phase<k>.matrix`` keeps the workflow's list of outputs
    the same whatever the number of phases."""
    phases: dict[str, object] = {}
    for k in range(1, plan.max_phases + 1):
        phase = plan.phases[k - 1] if k <= len(plan.phases) else None
        include = [] if phase is None else [{"shard": s.id, "name": shard_name(phase, i, s)}
                                            for i, s in enumerate(phase.shards, start=1)]
        phases[f"phase{k}"] = {"action": phase.action if phase else "none", "count": len(include),
                               "matrix": {"include": include}}
    destroys = sum(len(s.units) for p in plan.phases if p.action == "destroy" for s in p.shards)
    return {"phases": json.dumps(phases, separators=(",", ":"), sort_keys=True), "destroys": str(destroys),
            "jobs": str(plan.jobs)}


def _unit(raw: dict[str, object]) -> Unit:
    migrate = raw.get("migrate")
    return Unit(action=str(raw["action"]), address=str(raw["address"]), hash=str(raw.get("hash", "")),
                resources=int(cast(int, raw.get("resources", 0))),
                migrate=str(migrate) if isinstance(migrate, str) else None,
                unprotect=tuple(str(x) for x in cast(list[object], raw.get("unprotect", []))),
                sources=tuple(str(x) for x in cast(list[object], raw.get("sources", []))))


MAX_PLAN_BYTES = 1024 * 1024 * 1024


def read_plan(path: Path) -> JobPlan:
    """The plan ``apply plan --out`` wrote; anything else is PB1210."""
    where = path.as_posix()
    try:
        document = orjson.loads(read_regular(path, MAX_PLAN_BYTES))  # never a FIFO or a device
        if not isinstance(document, dict) or document.get("kind") != KIND:
            raise ValueError(f"not a {KIND} document")
        phases = tuple(
            Phase(int(p["phase"]), str(p["action"]), str(p["label"]),
                  tuple(Shard(str(s["id"]), tuple(_unit(u) for u in s["units"])) for s in p["shards"]))
            for p in document["phases"])
        applied = document.get("applied")
        if applied is not None and not isinstance(applied, str):
            raise ValueError("applied is not a commit id")
        return JobPlan(phases, tuple(document.get("held", [])), tuple(document.get("vanished", [])),
                       document.get("base"), document.get("commit"), applied=applied)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ApplyError([Problem(UNKNOWN_SHARD, where, f"cannot use the job plan: {error}",
                                  "pass the file `paybill apply plan --out` wrote (the apply-plan artifact)")]) \
            from None
