"""The job plan of an apply: ordered phases, each packed into shards a CI matrix runs in parallel.

GitHub Actions allows at most 256 jobs in a matrix and cannot create jobs while a run is under way,
so the plan is made once, up front, from the manifest and the base commit's manifest:

* **apply phases**, one per wave that has changed stacks, in wave order (a stack reads the state of
  the stacks in earlier waves);
* **migrations** ride with the stack that creates their database: the shard that applies the stack
  migrates its database right after it; a database whose SQL changed while its stack did not is
  migrated in its stack's wave (so after the stacks it depends on);
* **destroy phases** for removed stacks whose retention has ended, each placed right after the last
  wave that still needed the stack (a stack that, at the base commit, something depended on is
  destroyed only after that something was applied without it), and removed stacks that depended on
  another removed stack are destroyed before it (tenants before their pool);
* within a phase, units are packed into at most N shards balanced by resource count (longest first
  onto the lightest shard, a deterministic tie-break), with N chosen so that the whole run fits the
  job budget (256 by default) unless given.

Everything here is a pure function of its inputs (the day is passed in), so the same commit plans
the same jobs on every machine.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from paybill.apply.errors import TOO_MANY_JOBS, TOO_MANY_PHASES, ApplyError, Problem
from paybill.apply.manifest import Manifest, Removed, Stack

GITHUB_MATRIX_LIMIT = 256
"""Jobs one matrix may generate (GitHub Actions documentation, "Using a matrix for your jobs")."""
DEFAULT_MAX_JOBS = GITHUB_MATRIX_LIMIT
DEFAULT_MAX_PHASES = 8
"""Phase jobs in the shipped paybill-apply.yml; more phases than this is PB1203."""
KIND_ORDER = {"tenant": 0, "pool": 1}
"""Without the base graph, removed tenants are destroyed before removed pools (tenants read pools)."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing a shard does to one stack: apply it (then maybe migrate), only migrate, or destroy it."""

    action: str
    """``apply``, ``migrate`` or ``destroy``."""
    address: str
    hash: str
    resources: int
    migrate: str | None = None
    """``sql/<database>`` to migrate right after this stack (apply and migrate units)."""
    unprotect: tuple[str, ...] = ()
    """Destroy units: resources applied first (protections lifted) if still in state."""
    sources: tuple[str, ...] = ()

    @property
    def weight(self) -> int:
        return max(self.resources, 1)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"action": self.action, "address": self.address, "hash": self.hash,
                                   "resources": self.resources}
        if self.migrate:
            data["migrate"] = self.migrate
        if self.action == "destroy":
            data["unprotect"] = list(self.unprotect)
            data["sources"] = list(self.sources)
        return data


@dataclass(frozen=True, slots=True)
class Shard:
    id: str
    units: tuple[Unit, ...]

    @property
    def resources(self) -> int:
        return sum(u.resources for u in self.units)


@dataclass(frozen=True, slots=True)
class Phase:
    number: int
    action: str
    """``apply`` (a wave's stacks and migrations) or ``destroy``."""
    label: str
    shards: tuple[Shard, ...]


@dataclass(frozen=True, slots=True)
class JobPlan:
    phases: tuple[Phase, ...]
    held: tuple[str, ...] = ()
    """Removed stacks not destroyed in this run, each with the reason."""
    vanished: tuple[str, ...] = ()
    """Stacks of the base manifest that are neither live nor removed now: nothing can destroy them."""
    base: str | None = None
    commit: str | None = None
    max_phases: int = DEFAULT_MAX_PHASES
    applied: str | None = None
    """What ``--applied`` said was applied when the plan was made (the workflow's marker commit, '' when it
    had none yet); None when not given. ``apply run --applied`` refuses a plan another run overtook."""
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def jobs(self) -> int:
        return sum(len(p.shards) for p in self.phases)

    def shard(self, shard_id: str) -> tuple[Phase, Shard] | None:
        for phase in self.phases:
            for shard in phase.shards:
                if shard.id == shard_id:
                    return phase, shard
        return None


# ---------------------------------------------------------------------------------------------- what


def changed_stacks(current: Manifest, base: Manifest | None, comment_only: Collection[str] = ()) -> list[Stack]:
    """Stacks whose content hash differs from the base (every stack when there is no base), except those
    ``comment_only`` names: proven to differ only in the comment Terraform ignores
    (:func:`paybill.apply.base.comment_only_changes`), so applying them would change nothing."""
    if base is None:
        return list(current.stacks)
    before = {s.address: s.hash for s in base.stacks}
    return [s for s in current.stacks
            if (before.get(s.address) != s.hash or not s.hash) and s.address not in comment_only]


def changed_pairs(current: Manifest, base: Manifest | None) -> list[tuple[Stack, Stack]]:
    """(base, current) of every stack the base has and whose hash changed: what a comment-only check reads."""
    if base is None:
        return []
    before = base.by_address()
    return [(before[s.address], s) for s in changed_stacks(current, base) if s.address in before]


def migrations(current: Manifest, base: Manifest | None, changed: Iterable[Stack]) -> dict[str, str]:
    """Stack address -> SQL folder to migrate: its database's SQL changed, or the stack itself did."""
    changed_addresses = {s.address for s in changed}
    before = base.sql_folders if base is not None else {}
    found: dict[str, str] = {}
    for stack in current.stacks:
        folder = stack.sql_folder
        if folder not in current.sql_folders:
            continue
        if stack.address in changed_addresses or before.get(folder) != current.sql_folders[folder]:
            found[stack.address] = folder
    return found


def ready_to_destroy(current: Manifest, today: datetime.date) -> tuple[list[Removed], list[str]]:
    """(removed stacks to destroy now, notices for the held ones): retention must have ended.

    A stack stays listed (and is destroyed again, a no-op once its state is empty) until its destroy
    is recorded in the specs; one without a decommission configuration or a ``retainUntil`` is held.
    """
    ready: list[Removed] = []
    held: list[str] = []
    for entry in current.removed:
        if not entry.path:
            held.append(f"{entry.address}: no decommission configuration in the manifest; recompile with this paybill")
        elif entry.retain_until is None:
            held.append(f"{entry.address}: held, its tenant has no spec.lifecycleSince, so the end of its data "
                        "retention is unknown")
        else:
            try:
                until = datetime.date.fromisoformat(entry.retain_until)
            except ValueError:
                held.append(f"{entry.address}: held, retainUntil {entry.retain_until!r} is not a date")
                continue
            if until > today:
                # nothing runs the apply on that day by itself: say what does (the run also asks for approval)
                held.append(f"{entry.address}: held until {entry.retain_until}, the end of its data retention; "
                            "the first apply run on or after that day destroys it (a push to main, or the apply "
                            "workflow run by hand)")
            else:
                ready.append(entry)
    return ready, held


def vanished_stacks(current: Manifest, base: Manifest | None) -> list[str]:
    if base is None:
        return []
    now = {s.address for s in current.stacks} | {r.address for r in current.removed}
    return sorted(s.address for s in base.stacks if s.address not in now)


# --------------------------------------------------------------------------------------------- order


def destroy_slots(current: Manifest, base: Manifest | None, ready: list[Removed]) -> dict[str, tuple[int, int]]:
    """Removed address -> (the last wave that needs it, its step among destroys after that wave).

    "Needs": at the base commit, a stack depended on it; if that stack is live now, the destroy waits
    for its wave (it is applied without the removed stack first). A removed dependent is destroyed
    one step earlier. Without a base graph every destroy waits for the last wave, tenants first.
    """
    last_wave = max((s.wave for s in current.stacks), default=0)
    ready_addresses = {r.address for r in ready}
    if base is None:
        return {r.address: (last_wave, KIND_ORDER.get(r.kind, len(KIND_ORDER))) for r in ready}
    wave_now = {s.address: s.wave for s in current.stacks}
    dependents: dict[str, set[str]] = {}
    for stack in base.stacks:
        for dep in stack.depends_on:
            dependents.setdefault(dep, set()).add(stack.address)
    slots: dict[str, tuple[int, int]] = {}

    def slot(address: str, trail: frozenset[str]) -> tuple[int, int]:
        if address in slots:
            return slots[address]
        best = (0, 0)
        for dependent in sorted(dependents.get(address, ())):
            if dependent in ready_addresses and dependent not in trail:
                wave, step = slot(dependent, trail | {address})
                best = max(best, (wave, step + 1))
            elif dependent in wave_now:
                best = max(best, (wave_now[dependent], 0))
            # a dependent that is removed but held, or gone: nothing of it is applied in this run
        slots[address] = best
        return best

    for address in sorted(ready_addresses):
        slot(address, frozenset())
    return slots


def hold_what_held_stacks_read(current: Manifest, base: Manifest | None, ready: list[Removed],
                               held: list[str]) -> tuple[list[Removed], list[str]]:
    """Hold a removed stack that a held removed stack still reads (a pool under a retained tenant).

    Destroying it would break the held stack's later destroy. With the base graph only the stacks the
    held one depended on are held; without it, every removed pool is held while a removed tenant is.
    """
    held_addresses = {r.address for r in current.removed} - {r.address for r in ready}
    if not held_addresses:
        return ready, held
    if base is None:
        reads = {r.address: ({x.address for x in current.removed if x.kind == "pool"} if r.kind == "tenant" else set())
                 for r in current.removed}
    else:
        reads = {s.address: set(s.depends_on) for s in base.stacks}
    blocked = set(held_addresses)
    changed = True
    while changed:
        changed = False
        for address in sorted(blocked):
            for dependency in sorted(reads.get(address, ())):
                if dependency not in blocked and any(r.address == dependency for r in ready):
                    blocked.add(dependency)
                    held.append(f"{dependency}: held, removed stack {address} still reads it and is not "
                                "destroyed yet")
                    changed = True
    return [r for r in ready if r.address not in blocked], held


# ---------------------------------------------------------------------------------------------- pack


def pack(units: list[Unit], shards: int) -> list[list[Unit]]:
    """``units`` in at most ``shards`` groups of near-equal total weight (LPT), deterministically.

    Heaviest first onto the currently lightest shard (ties: lower index); each shard then lists its
    units by address so a shard's log reads in a stable order.
    """
    count = max(1, min(shards, len(units)))
    ordered = sorted(units, key=lambda u: (-u.weight, u.address, u.action))
    heap = [(0, i) for i in range(count)]
    groups: list[list[Unit]] = [[] for _ in range(count)]
    for unit in ordered:
        load, index = heapq.heappop(heap)
        groups[index].append(unit)
        heapq.heappush(heap, (load + unit.weight, index))
    return [sorted(g, key=lambda u: (u.address, u.action)) for g in groups if g]


def allocate(sizes: list[int], budget: int) -> list[int]:
    """Shards per phase: at least one each, the rest of ``budget`` in proportion to the phase's units
    (largest remainders first, ties to the earlier phase), never more shards than units."""
    counts = [1 if n else 0 for n in sizes]
    spare = budget - sum(counts)
    total = sum(sizes)
    if spare <= 0 or total == 0:
        return counts
    shares = [spare * n / total for n in sizes]
    for i, share in enumerate(shares):
        counts[i] = min(sizes[i], counts[i] + int(share))
    left = budget - sum(counts)
    order = sorted(range(len(sizes)), key=lambda i: (-(shares[i] - int(shares[i])), i))
    while left > 0:
        progressed = False
        for i in order:
            if left and counts[i] < sizes[i]:
                counts[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return counts


def plan_jobs(current: Manifest, base: Manifest | None, *, today: datetime.date,
              max_jobs: int = DEFAULT_MAX_JOBS, max_phases: int = DEFAULT_MAX_PHASES,
              shards_per_phase: int | None = None, manifest_path: str = "generated/manifest.json",
              base_revision: str | None = None, commit: str | None = None,
              comment_only: Collection[str] = ()) -> JobPlan:
    """The whole job plan, or :class:`ApplyError` (PB1203, PB1204) when it cannot fit the run.
    ``comment_only``: changed stacks not to apply (see :func:`changed_stacks`)."""
    changed = changed_stacks(current, base, comment_only)
    migrate = migrations(current, base, changed)
    changed_addresses = {s.address for s in changed}
    by_key: dict[tuple[int, int], list[Unit]] = {}
    for stack in current.stacks:
        if stack.address in changed_addresses:
            unit = Unit("apply", stack.address, stack.hash, stack.resources, migrate.get(stack.address))
        elif stack.address in migrate:
            unit = Unit("migrate", stack.address, stack.hash, 0, migrate[stack.address])
        else:
            continue
        by_key.setdefault((stack.wave, 0), []).append(unit)
    ready, held = ready_to_destroy(current, today)
    ready, held = hold_what_held_stacks_read(current, base, ready, held)
    slots = destroy_slots(current, base, ready)
    for entry in ready:
        wave, step = slots[entry.address]
        by_key.setdefault((wave, 1 + step), []).append(
            Unit("destroy", entry.address, entry.hash, entry.resources, None, entry.unprotect, entry.sources))
    keys = sorted(by_key)
    if len(keys) > max_phases:
        raise ApplyError([Problem(TOO_MANY_PHASES, manifest_path,
                                  f"this apply needs {len(keys)} phases (waves and destroy steps) but the workflow "
                                  f"runs at most {max_phases}",
                                  "add phase jobs to .github/workflows/paybill-apply.yml and raise --max-phases, "
                                  "or split the change into several merges")])
    if len(keys) > max_jobs:
        raise ApplyError([Problem(TOO_MANY_JOBS, manifest_path,
                                  f"{len(keys)} phases need at least {len(keys)} jobs but the budget is {max_jobs}",
                                  "raise --max-jobs")])
    sizes = [len(by_key[k]) for k in keys]
    if shards_per_phase is not None:
        counts = [min(shards_per_phase, n) for n in sizes]
        if sum(counts) > max_jobs:
            raise ApplyError([Problem(TOO_MANY_JOBS, manifest_path,
                                      f"--shards {shards_per_phase} makes {sum(counts)} jobs but the budget is "
                                      f"{max_jobs}", "lower --shards, or leave it out to fit the budget")])
    else:
        counts = allocate(sizes, max_jobs)
    counts = [min(c, GITHUB_MATRIX_LIMIT) for c in counts]
    phases: list[Phase] = []
    for number, (key, count) in enumerate(zip(keys, counts, strict=True), start=1):
        wave, step = key
        if step == 0:
            action, label = "apply", f"wave {wave}"
        else:
            action, label = "destroy", (f"destroy after wave {wave}" if wave else "destroy") + \
                (f" (step {step})" if step > 1 else "")
        groups = pack(by_key[key], count)
        shards = tuple(Shard(f"{number}.{i}", tuple(g)) for i, g in enumerate(groups, start=1))
        phases.append(Phase(number, action, label, shards))
    return JobPlan(tuple(phases), tuple(held), tuple(vanished_stacks(current, base)), base_revision, commit,
                   max_phases)
