"""``paybill apply drift --shard K/N``: is the cloud still what git compiled? One shard of the stacks, read only.

``paybill db drift`` compares each database with git; this compares each live stack's resources.
For every stack of the shard it runs ``terraform init``, then ``terraform plan -detailed-exitcode
-lock=false`` with the stack's committed configuration: exit 0 is in sync, exit 2 means applying
would change something. For those, ``terraform show -json`` of the saved plan says what: the
resources changed outside Terraform (``resource_drift``) and what an apply would do to put them
back (``resource_changes``). Only resource addresses and actions are kept: a plan's JSON holds
attribute values, sensitive ones in plain text (Terraform's documentation says so), so neither the
JSON nor ``show``'s output is logged or written anywhere.

Read only by construction: no ``apply``, and ``-lock=false`` so the nightly check never holds a
state lock an apply is waiting for (the saved plan is never applied, so a concurrent apply cannot
make it wrong, only stale). Stacks are split into shards by resource count exactly as ``apply
plan`` packs a wave (:func:`paybill.apply.schedule.pack`), deterministically, so each matrix job of
the workflow can pick its own share from the manifest alone. Failures are retried like ``apply
run``'s (:mod:`paybill.apply.transient`), and a stack that still cannot be planned is a failed
record with its PB12xx code: the report never counts it as in sync.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from paybill.apply.errors import NO_TERRAFORM, TERRAFORM_FAILED, Problem
from paybill.apply.manifest import Manifest, Stack
from paybill.apply.runner import RunOptions, _Failure, _missing_terraform, _run_unit, _Unit
from paybill.apply.schedule import Unit, pack
from paybill.apply.transient import is_transient

RESULTS_KIND = "DriftResults"
SHARD = re.compile(r"^([1-9][0-9]{0,3})/([1-9][0-9]{0,3})$")
MAX_SHARDS = 1000
MAX_SHOWN_JSON = 512 * 1024 * 1024
"""``terraform show -json`` output read at most (a plan of thousands of resources is tens of MB)."""
NOT_CHANGES = frozenset({("no-op",), ("read",)})
"""Actions that change nothing in the cloud: a no-op, and a data source read during apply."""

_HINT = ("read the stack's log group above; fix the cause (credentials, the backend) and run the drift check "
         "again: a stack that cannot be planned is never reported as in sync")


def parse_shard(text: str) -> tuple[int, int] | None:
    """``K/N`` as (K, N) with 1 <= K <= N <= :data:`MAX_SHARDS`; None for anything else."""
    found = SHARD.match(text)
    if found is None:
        return None
    index, count = int(found.group(1)), int(found.group(2))
    return (index, count) if index <= count <= MAX_SHARDS else None


def shard_stacks(manifest: Manifest, index: int, count: int) -> list[Stack]:
    """The live stacks shard ``index`` of ``count`` checks: every stack in exactly one shard, balanced by
    resource count, the same split on every machine (removed stacks are not checked: their
    decommission configuration destroys them, and they are not what git says should run)."""
    groups = pack([_unit(s) for s in manifest.stacks], count)
    chosen = {u.address for u in groups[index - 1]} if index <= len(groups) else set()
    return [s for s in manifest.stacks if s.address in chosen]


@dataclass(frozen=True, slots=True)
class Change:
    """One resource Terraform would touch, or that changed outside it: its address and actions only."""

    address: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DriftRecord:
    address: str
    hash: str
    sources: tuple[str, ...]
    status: str
    """``in-sync``, ``drifted`` or ``failed``."""
    attempts: int = 0
    code: str | None = None
    error: str | None = None
    drift: tuple[Change, ...] = ()
    """Resources changed outside Terraform since the last apply (``resource_drift``)."""
    changes: tuple[Change, ...] = ()
    """What an apply would do (``resource_changes`` other than no-ops): the way back to git."""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DriftOutcome:
    records: tuple[DriftRecord, ...]
    problems: tuple[Problem, ...]


def parse_plan_json(text: str) -> tuple[tuple[Change, ...], tuple[Change, ...]]:
    """(drift, changes) from ``terraform show -json`` of a saved plan; ValueError when it is not one.

    Format 1.x of Terraform's JSON output format: ``resource_drift`` and ``resource_changes`` are lists
    of objects with an ``address`` and ``change.actions``; unknown keys are ignored, as the format's
    compatibility promise asks, and a major version other than 1 is refused.
    """
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    version = str(document.get("format_version", ""))
    if version.split(".")[0] != "1":
        raise ValueError(f"unsupported plan format_version {version!r} (paybill reads 1.x)")

    def entries(key: str, skip_unchanged: bool) -> tuple[Change, ...]:
        found: list[Change] = []
        raw = document.get(key) or []
        if not isinstance(raw, list):
            raise ValueError(f"{key} is not a list")
        for item in raw:
            change = item.get("change") if isinstance(item, dict) else None
            address = item.get("address") if isinstance(item, dict) else None
            actions = change.get("actions") if isinstance(change, dict) else None
            if not isinstance(address, str) or not isinstance(actions, list) \
                    or not all(isinstance(a, str) for a in actions):
                raise ValueError(f"{key} holds an entry without an address and actions")
            if skip_unchanged and tuple(actions) in NOT_CHANGES:
                continue
            found.append(Change(address, tuple(actions)))
        return tuple(sorted(found, key=lambda c: c.address))

    return entries("resource_drift", True), entries("resource_changes", True)


class _DriftCheck(_Unit):
    """One stack's read-only check, in the same working folder ``apply run`` uses for it."""

    drift: tuple[Change, ...] = ()
    changes: tuple[Change, ...] = ()

    def once(self) -> str:
        folder = self._folder(f"terraform/{self.unit.address}")
        with self._working_files(self.unit.address) as work:
            saved = work / "drift.tfplan"
            try:
                self.terraform(folder, "init", "-input=false", "-no-color", hint=_HINT)
                code = self._plan(folder, saved)
                if code == 0:
                    self.drift, self.changes = (), ()
                    return "in-sync"
                self.drift, self.changes = self._show(folder, saved)
                return "drifted"
            finally:  # a saved plan holds attribute values (sensitive ones in clear) and is never applied
                saved.unlink(missing_ok=True)

    def _plan(self, folder: str, saved: Path) -> int:
        """``plan -detailed-exitcode``: 0 no change, 2 changes; anything else fails like any command."""
        done = self.terraform(folder, "plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode",
                              f"-out={saved}", hint=_HINT, success=(0, 2))
        return done.returncode

    def _show(self, folder: str, saved: Path) -> tuple[tuple[Change, ...], tuple[Change, ...]]:
        """What the saved plan changes; the JSON (attribute values, sensitive ones in clear) is never logged."""
        command = [self.options.terraform, f"-chdir={folder}", "show", "-json", "-no-color", str(saved)]
        self.log.append("$ " + " ".join(command[1:]) + "   (output not shown: it holds attribute values)")
        with tempfile.TemporaryFile() as out:
            try:
                done = subprocess.run(command, cwd=self.options.generated.parent, env=self._env(), stdout=out,
                                      stderr=subprocess.PIPE, text=False, check=False)
            except OSError as error:
                raise _Failure(NO_TERRAFORM, f"cannot run {self.options.terraform!r}: {error.strerror or error}",
                               "install Terraform or OpenTofu, or pass --terraform PATH", False) from None
            stderr = done.stderr.decode("utf-8", "replace")
            if done.returncode != 0:
                self.log.append(stderr.rstrip("\n"))
                raise _Failure(TERRAFORM_FAILED, f"terraform show failed for {self.unit.address}: exit status "
                               f"{done.returncode}", _HINT, is_transient(done.returncode, stderr))
            size = out.tell()
            if size > MAX_SHOWN_JSON:
                raise _Failure(TERRAFORM_FAILED, f"terraform show -json for {self.unit.address} printed {size} "
                               f"bytes, more than paybill reads ({MAX_SHOWN_JSON})", _HINT, False)
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
        try:
            return parse_plan_json(text)
        except ValueError as error:
            raise _Failure(TERRAFORM_FAILED, f"terraform show -json for {self.unit.address} is not a plan paybill "
                           f"can read: {error}", _HINT, False) from None


def _unit(stack: Stack) -> Unit:
    """The stack as the unit ``apply run``'s machinery runs (its working folder, retries, records)."""
    return Unit("apply", stack.address, stack.hash, stack.resources, sources=stack.sources)


def _check(options: RunOptions, stack: Stack) -> tuple[DriftRecord, Problem | None, list[str]]:
    unit = _unit(stack)
    made: list[_DriftCheck] = []

    def factory(run_options: RunOptions, which: Unit) -> _Unit:
        check = _DriftCheck(run_options, which)
        made.append(check)
        return check

    record, problem, log, _ = _run_unit(options, unit, factory)
    check = made[0]
    if record.status == "failed":
        return (DriftRecord(stack.address, stack.hash, stack.sources, "failed", record.attempts, record.code,
                            record.error, seconds=record.seconds), problem, log)
    return (DriftRecord(stack.address, stack.hash, stack.sources, record.status, record.attempts,
                        drift=check.drift, changes=check.changes, seconds=record.seconds), None, log)


def write_results(path: Path, shard: str, commit: str | None, records: list[DriftRecord], complete: bool) -> None:
    """The shard's results, atomically (rename over); ``complete`` only once every stack was checked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"kind": RESULTS_KIND, "shard": shard, "commit": commit, "complete": complete,
                "stacks": [asdict(r) for r in sorted(records, key=lambda r: r.address)]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".drift-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def results_file(results: Path, index: int, count: int) -> Path:
    return results / f"drift-{index}-of-{count}.json"


def check_shard(stacks: list[Stack], index: int, count: int, options: RunOptions,
                echo: Callable[[str], None] = print) -> DriftOutcome:
    """Check every stack of the shard (``parallelism`` at once); the results file is rewritten after each.

    ``options`` are ``apply run``'s; a drift check reads the Terraform, retry and results settings only
    (nothing is migrated, resumed or summarised: a check is always made anew)."""
    target = results_file(options.results, index, count)
    shard = f"{index}/{count}"
    records: list[DriftRecord] = []
    problems: list[Problem] = []
    lock = threading.Lock()
    missing = _missing_terraform(options, [_unit(stack) for stack in stacks])
    if missing is not None:  # one problem for the shard, not one per stack: no stack can be planned
        records = [DriftRecord(s.address, s.hash, s.sources, "failed", 0, NO_TERRAFORM, missing.message)
                   for s in stacks]
        write_results(target, shard, options.commit, records, complete=True)
        return DriftOutcome(tuple(records), (missing,))
    write_results(target, shard, options.commit, records, complete=False)

    def work(stack: Stack) -> None:
        try:
            record, problem, log = _check(options, stack)
        except OSError as error:  # its working folder cannot be made: that stack fails, the others go on
            message = f"cannot prepare the check of {stack.address}: {error.strerror or error}"
            record = DriftRecord(stack.address, stack.hash, stack.sources, "failed", 0, TERRAFORM_FAILED, message)
            problem = Problem(TERRAFORM_FAILED, f"{options.generated.name}/terraform/{stack.address}/main.tf.json",
                              message, _HINT)
            log = [message]
        with lock:
            records.append(record)
            if problem is not None:
                problems.append(problem)
            write_results(target, shard, options.commit, records, complete=False)
            echo(f"::group::drift {stack.address}: {record.status}")
            echo("\n".join(log))
            echo("::endgroup::")

    with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
        list(pool.map(work, stacks))
    write_results(target, shard, options.commit, records, complete=True)
    records.sort(key=lambda r: r.address)
    problems.sort(key=lambda p: (p.path, p.code, p.message))
    return DriftOutcome(tuple(records), tuple(problems))
