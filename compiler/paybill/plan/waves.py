"""Apply matrices for ``.github/workflows/paybill-apply.yml``, from ``generated/manifest.json``.

GitHub Actions cannot create jobs dynamically, so the workflow has a fixed number of wave jobs and
asks this module, once, which stacks each wave must apply: those whose content ``hash`` differs from
the previous commit's manifest (all of them when there is none), so a merge that touches one tenant
applies one stack. A matrix holds at most 256 jobs; a wave with more changed stacks is split into
chunks applied one after another inside a job (the workflow-level concurrency group already keeps
two apply runs from overlapping; per-stack groups guard manual re-runs of single stacks).

After every apply wave, the destroy job destroys the stacks listed under ``removed`` in the current
manifest, from their decommission configuration (``generated/terraform/removed/<kind>/<name>/``, see
:mod:`paybill.emit.terraform.decommission`), tenants before pools. A stack stays listed, and so is
destroyed again by every run (a no-op once its state is empty), until its destroy is recorded in the
specs (``spec.decommission.destroyedAt``). A listed stack is held, not destroyed, until its
``retainUntil`` day (the tenant's ``lifecycleSince`` plus the plan's backup retention): this is the
one place that reads the clock (``--today`` overrides it), since compile never does. A stack with
no ``retainUntil`` is held until the specs give one. Run it as::

    python -m paybill.plan.waves --manifest generated/manifest.json --previous prev.json \
        --github-output "$GITHUB_OUTPUT" --max-waves 4
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

MATRIX_LIMIT = 256
CHUNKS = 200


def _load(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def changed_stacks(current: dict[str, Any], previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    before = {s["address"]: s.get("hash") for s in (previous or {}).get("stacks", [])}
    return [s for s in current.get("stacks", []) if previous is None or before.get(s["address"]) != s.get("hash")]


KIND_ORDER = {"tenant": 0, "pool": 1}
"""Destroy order: tenants read their pool's state, so they go first."""


def destroy_stacks(current: dict[str, Any], today: datetime.date) -> tuple[list[str], list[str]]:
    """(addresses to destroy now, notices for the ones held), from the current manifest's ``removed``.

    Only entries with a decommission configuration (``path``) whose ``retainUntil`` is today or
    earlier are destroyed; every other entry is held, with a notice saying why.
    """
    ready: list[dict[str, Any]] = []
    held: list[str] = []
    for entry in current.get("removed", []):
        address = entry["address"]
        until = entry.get("retainUntil")
        if not entry.get("path"):
            held.append(f"{address}: no decommission configuration in the manifest; recompile with this paybill")
        elif until is None:
            held.append(f"{address}: held, its tenant has no spec.lifecycleSince, so the end of its data "
                        "retention is unknown")
        elif datetime.date.fromisoformat(until) > today:
            held.append(f"{address}: held until {until}, the end of its data retention")
        else:
            ready.append(entry)
    ready.sort(key=lambda e: (KIND_ORDER.get(e.get("kind", ""), 2), e["address"]))
    return [e["address"] for e in ready], held


def vanished_stacks(current: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """Stacks of the previous manifest that are neither live nor listed under ``removed`` now.

    Nothing destroys them (there is no configuration to destroy from): the workflow warns, and
    ``paybill plan`` should have flagged the change (PB0911, PB0661).
    """
    if previous is None:
        return []
    now = {s["address"] for s in current.get("stacks", [])} | {r["address"] for r in current.get("removed", [])}
    return sorted(s["address"] for s in previous.get("stacks", []) if s["address"] not in now)


def matrix(stacks: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """One job per stack, or chunks of stacks when a wave has more than the matrix limit."""
    addresses = sorted(s["address"] for s in stacks)
    if len(addresses) <= MATRIX_LIMIT:
        return {"include": [{"name": a, "stacks": a, "group": a} for a in addresses]}
    size = -(-len(addresses) // CHUNKS)
    chunks = [addresses[i:i + size] for i in range(0, len(addresses), size)]
    return {"include": [{"name": f"{chunk[0]} (+{len(chunk) - 1})", "stacks": " ".join(chunk),
                         "group": f"chunk-{i}"} for i, chunk in enumerate(chunks)]}


def outputs(current: dict[str, Any], previous: dict[str, Any] | None, max_waves: int,
            today: datetime.date | None = None) -> dict[str, str]:
    waves = current.get("waves", [])
    if len(waves) > max_waves:
        raise ValueError(f"the manifest has {len(waves)} apply waves; the workflow runs at most {max_waves} "
                         "(add wave jobs to paybill-apply.yml)")
    changed = changed_stacks(current, previous)
    result: dict[str, str] = {}
    for wave in range(1, max_waves + 1):
        in_wave = [s for s in changed if int(s.get("wave", 1)) == wave]
        result[f"wave{wave}"] = json.dumps(matrix(in_wave), separators=(",", ":"))
        result[f"wave{wave}_count"] = str(len(in_wave))
    destroy, _held = destroy_stacks(current, today or _today())
    result["destroy"] = " ".join(destroy)
    result["destroy_count"] = str(len(destroy))
    return result


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def notices(current: dict[str, Any], previous: dict[str, Any] | None, today: datetime.date) -> list[str]:
    """GitHub annotations for the run log: removed stacks held back, stacks that vanished unlisted."""
    _ready, held = destroy_stacks(current, today)
    lines = [f"::notice::{text}" for text in held]
    lines += [f"::warning::stack {address} is gone from the manifest without a decommission configuration; "
              "nothing destroys it" for address in vanished_stacks(current, previous)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paybill.plan.waves", description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--previous", type=Path, help="the previous commit's manifest (missing: apply everything)")
    parser.add_argument("--github-output", type=Path, help="append name=value lines here (else print them)")
    parser.add_argument("--max-waves", type=int, default=4)
    parser.add_argument("--today", type=datetime.date.fromisoformat,
                        help="the day (YYYY-MM-DD) compared with removed stacks' retainUntil (default: today, UTC)")
    args = parser.parse_args(argv)
    current = _load(args.manifest)
    if current is None:
        print(f"error: {args.manifest} is missing or empty; run paybill compile", file=sys.stderr)
        return 1
    previous = _load(args.previous)
    today = args.today or _today()
    try:
        values = outputs(current, previous, args.max_waves, today)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in notices(current, previous, today):
        print(line)
    text = "".join(f"{k}={v}\n" for k, v in values.items())
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
