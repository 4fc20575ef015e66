"""Apply matrices for ``.github/workflows/paybill-apply.yml``, from ``generated/manifest.json``.

GitHub Actions cannot create jobs dynamically, so the workflow has a fixed number of wave jobs and
asks this module, once, which stacks each wave must apply: those whose content ``hash`` differs from
the previous commit's manifest (all of them when there is none), so a merge that touches one tenant
applies one stack. A matrix holds at most 256 jobs; a wave with more changed stacks is split into
chunks applied one after another inside a job (the workflow-level concurrency group already keeps
two apply runs from overlapping; per-stack groups guard manual re-runs of single stacks).

Stacks that disappeared (a deleted tenant, a removed pool) are destroyed after every apply wave, in
reverse wave order, from their previous configuration. Run it as::

    python -m paybill.plan.waves --manifest generated/manifest.json --previous prev.json \
        --github-output "$GITHUB_OUTPUT" --max-waves 4
"""

from __future__ import annotations

import argparse
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


def destroyed_stacks(current: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """Stacks of the previous manifest that are gone now, tenants before pools (reverse waves)."""
    if previous is None:
        return []
    now = {s["address"] for s in current.get("stacks", [])}
    gone = [s for s in previous.get("stacks", []) if s["address"] not in now]
    gone.sort(key=lambda s: (-int(s.get("wave", 1)), s["address"]))
    return [s["address"] for s in gone]


def matrix(stacks: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """One job per stack, or chunks of stacks when a wave has more than the matrix limit."""
    addresses = sorted(s["address"] for s in stacks)
    if len(addresses) <= MATRIX_LIMIT:
        return {"include": [{"name": a, "stacks": a, "group": a} for a in addresses]}
    size = -(-len(addresses) // CHUNKS)
    chunks = [addresses[i:i + size] for i in range(0, len(addresses), size)]
    return {"include": [{"name": f"{chunk[0]} (+{len(chunk) - 1})", "stacks": " ".join(chunk),
                         "group": f"chunk-{i}"} for i, chunk in enumerate(chunks)]}


def outputs(current: dict[str, Any], previous: dict[str, Any] | None, max_waves: int) -> dict[str, str]:
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
    destroy = destroyed_stacks(current, previous)
    result["destroy"] = " ".join(destroy)
    result["destroy_count"] = str(len(destroy))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paybill.plan.waves", description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--previous", type=Path, help="the previous commit's manifest (missing: apply everything)")
    parser.add_argument("--github-output", type=Path, help="append name=value lines here (else print them)")
    parser.add_argument("--max-waves", type=int, default=4)
    args = parser.parse_args(argv)
    current = _load(args.manifest)
    if current is None:
        print(f"error: {args.manifest} is missing or empty; run paybill compile", file=sys.stderr)
        return 1
    try:
        values = outputs(current, _load(args.previous), args.max_waves)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = "".join(f"{k}={v}\n" for k, v in values.items())
    if args.github_output:
        with args.github_output.open("a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
