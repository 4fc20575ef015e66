"""``paybill apply run --shard ID``: run one shard's units with Terraform (or OpenTofu).

Each unit is one stack: ``init``, ``plan -out``, ``apply`` of the saved plan (then, when the stack
creates a database whose SQL changed, ``paybill db migrate`` right after it); or, for a removed
stack, ``init``, ``state list``, a targeted apply that lifts protections still in state, and
``destroy``. Units of a shard are independent (one phase, one wave), so up to ``parallelism`` run at
once; each one's output is printed as one group when it ends, so logs do not interleave.

A failed command is retried (the whole unit, from ``init``: a saved plan is stale after a partial
apply) when :func:`paybill.apply.transient.is_transient` says so, with exponential back-off. Every
unit ends as a :class:`~paybill.apply.results.Record`; a unit an earlier attempt finished at the same
commit and hash is skipped, which is what makes a re-run resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from paybill.apply.errors import (
    MIGRATION_FAILED,
    NO_CONFIGURATION,
    NO_TERRAFORM,
    NOT_THIS_PLAN,
    RETRIES_EXHAUSTED,
    TERRAFORM_FAILED,
    ApplyError,
    Problem,
)
from paybill.apply.manifest import read_manifest
from paybill.apply.results import Record, finished_units, write_records
from paybill.apply.schedule import Shard, Unit
from paybill.apply.transient import is_transient
from paybill.contract.files import read_regular

LOCK_FILE = ".terraform.lock.hcl"
"""Terraform's dependency lock file, which ``init`` writes into the configuration folder."""

MIGRATE_RETRY_EXITS = frozenset({3, 4})
"""``paybill db migrate`` exit statuses worth retrying: cannot connect yet (3), lock held (4)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    generated: Path
    results: Path
    terraform: str = "terraform"
    parallelism: int = 4
    retries: int = 3
    backoff: float = 10.0
    """Seconds before the first retry; doubled for each further one."""
    resume: tuple[Path, ...] = ()
    commit: str | None = None
    database_url_command: str | None = None
    migrate_command: tuple[str, ...] = (sys.executable, "-m", "paybill", "db", "migrate")
    by: str | None = None
    summary: Path | None = None
    env: dict[str, str] | None = None
    today: str = ""
    """The day written into destroy summaries (the CLI passes today, UTC)."""
    sleep: Callable[[float], None] = field(default=time.sleep)


_NO_URL_HINT = ("set PAYBILL_DATABASE_URL_COMMAND or --database-url-command (a shell command printing the "
                "admin URL of the database stack $STACK created)")


@dataclass(slots=True)
class _Failure(Exception):
    code: str
    message: str
    hint: str | None
    transient: bool


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    records: tuple[Record, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class _Unit:
    """Runs one unit; collects its output for one log group."""

    def __init__(self, options: RunOptions, unit: Unit) -> None:
        self.options = options
        self.unit = unit
        self.work: Path | None = None
        """Where Terraform keeps this unit's working files (:meth:`_working_files`); None before init."""
        self.log: list[str] = []
        self.summary: list[str] = []

    # -- processes ---------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        base = dict(self.options.env if self.options.env is not None else os.environ)
        base.setdefault("TF_IN_AUTOMATION", "1")
        base.setdefault("TF_INPUT", "0")
        if self.work is not None:
            base["TF_DATA_DIR"] = str(self.work / ".terraform")
        return base

    def terraform(self, folder: str, *args: str, hint: str | None = None, success: tuple[int, ...] = (0,)
                  ) -> subprocess.CompletedProcess[str]:
        """Run ``terraform -chdir=folder args``, logged; an exit status outside ``success`` is a :class:`_Failure`
        (transient or not, from its output), with ``hint`` (default: the apply's)."""
        command = [self.options.terraform, f"-chdir={folder}", *args]
        self.log.append("$ " + " ".join(command[1:]))
        try:
            done = subprocess.run(command, cwd=self.options.generated.parent, env=self._env(),
                                  capture_output=True, text=True, check=False)
        except OSError as error:
            raise _Failure(NO_TERRAFORM, f"cannot run {self.options.terraform!r}: {error.strerror or error}",
                           "install Terraform or OpenTofu, or pass --terraform PATH", False) from None
        output = done.stdout + done.stderr
        self.log.append(output.rstrip("\n"))
        if done.returncode not in success:
            last = next((ln.strip() for ln in reversed(output.splitlines()) if "Error" in ln), "") or \
                f"exit status {done.returncode}"
            raise _Failure(TERRAFORM_FAILED, f"terraform {args[0]} failed for {self.unit.address}: {last}",
                           hint or "read the stack's log group above; fix the cause and re-run the workflow "
                           "(stacks already applied are skipped)", is_transient(done.returncode, output))
        return done

    # -- units -------------------------------------------------------------------------------------

    def _folder(self, relative: str) -> str:
        folder = self.options.generated / relative
        shown = (Path(self.options.generated.name) / relative / "main.tf.json").as_posix()
        if not (folder / "main.tf.json").is_file():
            raise _Failure(NO_CONFIGURATION, f"{self.unit.address} has no configuration at {shown}",
                           "apply the commit the plan was made from (generated/ must match it)", False)
        return (Path(self.options.generated.name) / relative).as_posix()

    @contextlib.contextmanager
    def _working_files(self, relative: str) -> Iterator[Path]:
        """Keep Terraform's working files out of ``generated/``, in ``.paybill/terraform/<stack>/`` beside it.

        ``generated/`` is the compiler's: ``compile --check`` lists anything else in it as stale, and
        ``compile`` replaces the tree, so a local ``apply run`` left ``.terraform/`` (the providers,
        hundreds of MB, downloaded again after every compile), the lock file and ``tfplan`` to be
        deleted, and the check failing until someone ran ``git clean``. ``TF_DATA_DIR`` moves
        ``.terraform/`` and the saved plan is written there too; ``init`` writes the dependency lock
        file into the configuration folder whatever it is told, so the lock kept from the last run is
        put there for ``init`` and taken back when the unit ends (the providers it selected stay the
        same from one local run to the next). The folder is yielded (its ``.terraform/`` is the data dir).
        """
        work = Path(os.path.abspath(self.options.generated.parent / ".paybill" / "terraform" / relative))
        work.mkdir(parents=True, exist_ok=True)
        lock, kept = self.options.generated / "terraform" / relative / LOCK_FILE, work / LOCK_FILE
        if kept.is_file() and not lock.exists():
            shutil.copyfile(kept, lock)
        self.work = work
        try:
            yield work
        finally:
            self.work = None
            with contextlib.suppress(OSError):
                if lock.is_file():
                    os.replace(lock, kept)

    def apply(self) -> str:
        folder = self._folder(f"terraform/{self.unit.address}")
        with self._working_files(self.unit.address) as work:
            plan = str(work / "tfplan")
            self.terraform(folder, "init", "-input=false", "-no-color")
            self.terraform(folder, "plan", "-input=false", "-no-color", f"-out={plan}")
            self.terraform(folder, "apply", "-input=false", "-no-color", plan)
        return "applied"

    def destroy(self) -> str:
        folder = self._folder(f"terraform/removed/{self.unit.address}")
        with self._working_files(f"removed/{self.unit.address}"):
            return self._destroy(folder)

    def _destroy(self, folder: str) -> str:
        self.terraform(folder, "init", "-input=false", "-no-color")
        # A failing `state list` fails the unit: an unreadable state is never "already destroyed".
        present = [line.strip() for line in self.terraform(folder, "state", "list").stdout.splitlines() if line.strip()]
        targets = [f"-target={a}" for a in self.unit.unprotect if a in set(present)]
        if targets:
            self.terraform(folder, "apply", "-input=false", "-no-color", "-auto-approve", *targets)
        if present:
            self.terraform(folder, "destroy", "-input=false", "-no-color", "-auto-approve")
        source = self.unit.sources[0] if self.unit.sources else "its spec"
        self.summary.append(f"- `{self.unit.address}` destroyed (state empty) on {self.options.today}: record it in "
                            f"`{source}` with\n  `decommission: {{destroyedAt: \"{self.options.today}\"}}` under "
                            "`spec`; it stays listed until then.\n" + self._pooled_rows())
        return "destroyed"

    def _pooled_rows(self) -> str:
        """For a tenant whose database layer was pooled: its rows are in the pool's database, not in the stack
        just destroyed, and ``paybill db erase`` needs ``generated/tenants/<t>.json`` (lifecycle deleted) at
        HEAD, which removing the tenant's spec file takes away. Said here, where the destroy is recorded."""
        kind, _, name = self.unit.address.partition("/")
        if kind != "tenant":
            return ""
        try:
            entitlements = json.loads(read_regular(self.options.generated / "tenants" / f"{name}.json", 1 << 20))
        except (OSError, ValueError):
            return ""
        isolation = entitlements.get("isolation") if isinstance(entitlements, dict) else None
        layers = isolation.get("layers") if isinstance(isolation, dict) else None
        placement = entitlements.get("placement")
        pool = placement.get("pool") if isinstance(placement, dict) else None
        if not isinstance(layers, dict) or layers.get("database") != "pooled" or not isinstance(pool, str):
            return ""
        folder = f"{self.options.generated.name}/sql/pool-{pool}"
        return (f"  Its rows in pool {pool}'s database are not part of that stack: export and erase them before "
                f"removing its spec file\n  (`paybill db export --tenant {name} --database-url URL {folder} --out "
                f"DIR`, then `paybill db erase --tenant {name} --database-url URL {folder} --export-manifest "
                "DIR/manifest.json`;\n  erase needs the tenant deleted at HEAD).\n")

    def migrate(self) -> str:
        assert self.unit.migrate is not None
        folder = self.options.generated / self.unit.migrate
        if not self.options.database_url_command:
            raise _Failure(MIGRATION_FAILED, f"{self.unit.address} has SQL migrations ({self.unit.migrate}) but no "
                           "database URL command is set",
                           _NO_URL_HINT, False)
        env = {**self._env(), "STACK": self.unit.address}
        found = subprocess.run(["bash", "-c", self.options.database_url_command], env=env, capture_output=True,
                               text=True, check=False)
        url = found.stdout.strip()
        if found.returncode != 0 or not url:
            raise _Failure(MIGRATION_FAILED, f"the database URL command printed no URL for {self.unit.address} "
                           f"(exit status {found.returncode})",
                           "check PAYBILL_DATABASE_URL_COMMAND with STACK set to this stack", False)
        if env.get("GITHUB_ACTIONS") == "true":
            print(f"::add-mask::{url}", flush=True)
        command = [*self.options.migrate_command, *(("--by", self.options.by) if self.options.by else ()),
                   folder.as_posix()]
        self.log.append(f"$ paybill db migrate {folder.as_posix()}")
        done = subprocess.run(command, env={**env, "PAYBILL_DATABASE_URL": url}, capture_output=True, text=True,
                              check=False, cwd=self.options.generated.parent)
        self.log.append((done.stdout + done.stderr).rstrip("\n"))
        if done.returncode != 0:
            raise _Failure(MIGRATION_FAILED, f"paybill db migrate {self.unit.migrate} failed for {self.unit.address} "
                           f"(exit status {done.returncode})",
                           "its PB11xx diagnostics are in the log group above (docs/errors.md)",
                           done.returncode in MIGRATE_RETRY_EXITS)
        return "migrated"

    def once(self) -> str:
        if self.unit.action == "destroy":
            return self.destroy()
        status = self.apply() if self.unit.action == "apply" else "migrated"
        if self.unit.migrate:
            self.migrate()
        return status


def _config_path(options: RunOptions, unit: Unit) -> str:
    """The configuration file a unit's problems point at (its removed one for a destroy)."""
    folder = "terraform/removed" if unit.action == "destroy" else "terraform"
    return f"{options.generated.name}/{folder}/{unit.address}/main.tf.json"


def _run_unit(options: RunOptions, unit: Unit, factory: Callable[[RunOptions, Unit], _Unit] | None = None
              ) -> tuple[Record, Problem | None, list[str], list[str]]:
    """Run ``unit`` (made by ``factory``, :class:`_Unit` by default; ``apply drift`` passes its read-only
    check) with retries of transient failures and back-off; its record, problem, log and summary lines."""
    started = time.monotonic()
    attempts = 0
    runner = (factory or _Unit)(options, unit)
    while True:
        attempts += 1
        runner.log.append(f"-- attempt {attempts}")
        runner.summary = []
        try:
            status = runner.once()
        except _Failure as failure:
            if failure.transient and attempts <= options.retries:
                delay = options.backoff * (2 ** (attempts - 1))
                runner.log.append(f"-- transient failure, retrying in {delay:g} s: {failure.message}")
                options.sleep(delay)
                continue
            code = RETRIES_EXHAUSTED if failure.transient else failure.code
            message = (f"{failure.message} (still failing after {attempts} attempts)" if failure.transient
                       else failure.message)
            record = Record(unit.address, unit.action, unit.hash, options.commit, "failed", attempts, code,
                            message, round(time.monotonic() - started, 3))
            path = _config_path(options, unit)
            hint = ("the error kept coming back: wait for the cloud API and re-run the workflow"
                    if failure.transient else failure.hint)
            return record, Problem(code, path, message, hint), runner.log, []
        record = Record(unit.address, unit.action, unit.hash, options.commit, status, attempts, None, None,
                        round(time.monotonic() - started, 3))
        return record, None, runner.log, runner.summary


def _missing_terraform(options: RunOptions, units: list[Unit]) -> Problem | None:
    """A problem when some unit needs Terraform and ``options.terraform`` is no executable (looked up on the
    runner's PATH, as ``subprocess`` will), else None."""
    if not any(unit.action in ("apply", "destroy") for unit in units):
        return None
    env = options.env if options.env is not None else os.environ
    if shutil.which(options.terraform, path=env.get("PATH", os.defpath)) is not None:
        return None
    first = next(unit for unit in units if unit.action in ("apply", "destroy"))
    return Problem(NO_TERRAFORM, _config_path(options, first),
                   f"cannot run {options.terraform!r}: not an executable on PATH; nothing in this shard was run",
                   "install Terraform or OpenTofu, or pass --terraform PATH")


def _not_this_plan(options: RunOptions, units: list[Unit]) -> list[Problem]:
    """PB1213 for each unit whose stack ``generated/manifest.json`` states with another hash than the job plan
    (or not at all): the folder is not the output the plan was made from. The manifest's hashes are over
    the files' bytes and ``compile --check`` holds the two together, so this is what a checkout of another
    commit, or a compile since the plan, looks like. Nothing in the shard is run then."""
    if not units:
        return []
    path = options.generated / "manifest.json"
    try:
        current = read_manifest(path)
    except ApplyError as error:
        return list(error.problems)
    live = {s.address: s.hash for s in current.stacks}
    removed = {r.address: r.hash for r in current.removed}
    shown = (Path(options.generated.name) / "manifest.json").as_posix()
    problems = []
    for unit in units:
        now = (removed if unit.action == "destroy" else live).get(unit.address)
        if now == unit.hash:
            continue
        what = "does not list it" if now is None else f"states it with hash {now}"
        problems.append(Problem(NOT_THIS_PLAN, shown,
                                f"the job plan has {unit.action} {unit.address} with hash {unit.hash}, but "
                                f"{shown} {what}: generated/ is not what the plan was made from (another commit "
                                "checked out, or compiled since); nothing in this shard was run",
                                f"check out the plan's commit ({options.commit or 'the one it was made at'}) with "
                                "its generated/ as committed, or make the plan again here"))
    return problems


def _stopped(results_file: Path, shard: Shard, records: list[Record], problems: list[Problem]) -> ShardOutcome:
    """The outcome of a shard refused before any unit ran, its results file written."""
    write_records(results_file, shard.id, records)
    records.sort(key=lambda r: (r.address, r.action))
    problems.sort(key=lambda p: (p.path, p.code, p.message))
    return ShardOutcome(tuple(records), tuple(problems))


@contextlib.contextmanager
def _shard_lock(options: RunOptions, shard: Shard, echo: Callable[[str], None]) -> Iterator[None]:
    """Hold ``DIR/.shard-<id>.lock`` (``flock``) for a whole run of ``shard`` into results ``DIR``.

    Two runs of one shard into one results folder would run Terraform twice at once in the same
    stack folders (each ``plan -out=tfplan`` overwriting the other's saved plan) and overwrite each
    other's results file. The second run waits instead, then skips what the first finished (the
    results folder is always read for finished units). The kernel releases the lock of a killed run.
    """
    options.results.mkdir(parents=True, exist_ok=True)
    fd = os.open(options.results / f".shard-{shard.id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            echo(f"shard {shard.id}: another paybill apply run of this shard is writing to {options.results}; "
                 "waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def run_shard(shard: Shard, options: RunOptions, *, echo: Callable[[str], None] = print) -> ShardOutcome:
    """Run every unit of ``shard``; write the results file after each; return records and problems.

    Runs of one shard into one results folder take turns (``_shard_lock``).
    """
    with _shard_lock(options, shard, echo):
        return _run_shard(shard, options, echo)


def _run_shard(shard: Shard, options: RunOptions, echo: Callable[[str], None]) -> ShardOutcome:
    done_before = finished_units([*options.resume, options.results])
    results_file = options.results / f"shard-{shard.id}.json"
    records: list[Record] = []
    problems: list[Problem] = []
    summaries: dict[str, list[str]] = {}
    lock = threading.Lock()
    todo: list[Unit] = []
    for unit in shard.units:
        if (unit.address, unit.action, unit.hash, options.commit) in done_before:
            records.append(Record(unit.address, unit.action, unit.hash, options.commit, "skipped"))
            echo(f"{unit.action} {unit.address}: done by an earlier attempt at this commit, skipped")
        else:
            todo.append(unit)
    mismatched = _not_this_plan(options, todo)
    if mismatched:
        # generated/ is another commit's (checked out or compiled since the plan was made): applying the
        # plan's units from it would apply other configuration than the plan reviewed, under its hashes.
        for unit in todo:
            records.append(Record(unit.address, unit.action, unit.hash, options.commit, "failed", 0,
                                  NOT_THIS_PLAN, mismatched[0].message))
        return _stopped(results_file, shard, records, mismatched)
    missing = _missing_terraform(options, todo)
    if missing is not None:
        # One problem for the shard, not one per stack: no unit can run (each would fail its `init`).
        for unit in todo:
            records.append(Record(unit.address, unit.action, unit.hash, options.commit, "failed", 0, NO_TERRAFORM,
                                  missing.message))
        return _stopped(results_file, shard, records, [missing])
    unmigratable = [unit for unit in todo if unit.migrate and not options.database_url_command]
    if unmigratable:
        # Known before any Terraform call: applying the stacks first would change the cloud and then
        # fail the same way, leaving databases created and not migrated.
        for unit in unmigratable:
            message = (f"{unit.address} has SQL migrations ({unit.migrate}) but no database URL command is set; "
                       "nothing in this shard was run")
            records.append(Record(unit.address, unit.action, unit.hash, options.commit, "failed", 0,
                                  MIGRATION_FAILED, message))
            problems.append(Problem(MIGRATION_FAILED, _config_path(options, unit), message, _NO_URL_HINT))
        return _stopped(results_file, shard, records, problems)
    write_records(results_file, shard.id, records)

    def work(unit: Unit) -> None:
        record, problem, log, summary = _run_unit(options, unit)
        with lock:
            records.append(record)
            if problem is not None:
                problems.append(problem)
            summaries[unit.address] = summary
            write_records(results_file, shard.id, records)
            echo(f"::group::{unit.action} {unit.address}: {record.status} ({record.attempts} attempt"
                 f"{'s' if record.attempts != 1 else ''})")
            echo("\n".join(log))
            echo("::endgroup::")

    with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
        list(pool.map(work, todo))
    if options.summary is not None:
        lines = [line for unit in shard.units for line in summaries.get(unit.address, [])]
        if lines:
            with options.summary.open("a", encoding="utf-8") as handle:
                handle.writelines(lines)
    records.sort(key=lambda r: (r.address, r.action))
    problems.sort(key=lambda p: (p.path, p.code, p.message))
    return ShardOutcome(tuple(records), tuple(problems))

