"""Typed records of ``generated/manifest.json``: the contract between ``compile`` and ``apply``.

``apply`` must not import the compiler, so it reads the manifest the compiler wrote. Reading it once
into frozen records means the scheduler and the runner never look keys up ad hoc, and a manifest
that is not what paybill writes is reported once (PB1201), at its path, instead of as a KeyError
deep inside a CI job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, cast

import orjson

from paybill.apply.errors import MANIFEST, ApplyError, Problem
from paybill.contract.files import read_regular
from paybill.gcpause import gc_paused

JsonObject = dict[str, object]


class Stack(NamedTuple):
    """One live stack: ``terraform/<address>/`` in ``generated/``.

    A NamedTuple rather than a frozen dataclass: 10,000 of them are built per plan, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` per field) was most of the read time."""

    address: str
    wave: int
    resources: int
    hash: str
    kind: str
    sources: tuple[str, ...]
    depends_on: tuple[str, ...]
    files: tuple[str, ...]

    @property
    def folder(self) -> str:
        """The stack's configuration folder, relative to ``generated/``."""
        return f"terraform/{self.address}"

    @property
    def sql_folder(self) -> str:
        """Where ``compile`` puts the SQL of the database this stack creates (``sql/<kind>-<name>``)."""
        return "sql/" + self.address.replace("/", "-")


class Removed(NamedTuple):
    """One removed stack, destroyed from its decommission configuration (``terraform/removed/...``)."""

    address: str
    kind: str
    hash: str
    path: str | None
    retain_until: str | None
    sources: tuple[str, ...]
    unprotect: tuple[str, ...]
    resources: int

    @property
    def folder(self) -> str:
        return f"terraform/removed/{self.address}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parts of the manifest ``apply`` reads."""

    stacks: tuple[Stack, ...]
    removed: tuple[Removed, ...]
    sql_folders: dict[str, str]
    """``sql/<database>`` folder -> its SQL revision as the manifest states it: every ``.sql`` file of the
    folder with its digest (a folder is one that has a ``migrations.json``).

    ``paybill db migrate`` applies a revision, which is the hash of those files' names and digests, so
    this changing is exactly "this database has SQL to migrate", even when the stack that creates it
    did not change. ``migrations.json`` itself is not compared: it also lists the digests of the spec
    files the folder was compiled from, so any edit of a pooled tenant changes it without any SQL to
    apply."""

    def by_address(self) -> dict[str, Stack]:
        return {s.address: s for s in self.stacks}


def _strings(value: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        strings = tuple(value)
        if all(type(v) is str for v in strings):
            return cast(tuple[str, ...], strings)
    problems.append(f"{where} must be a list of strings")
    return ()


def _int(value: object, default: int, where: str, problems: list[str]) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{where} must be a non-negative integer")
        return default
    return value


def _str(value: object, where: str, problems: list[str], *, required: bool = True) -> str:
    if isinstance(value, str) and value:
        return value
    if required or value is not None:
        problems.append(f"{where} must be a non-empty string")
    return ""


def _fast_stack(raw: object) -> Stack | None:
    """The stack when every field has exactly the type paybill writes (the common case), else None
    (the checked path then says what is wrong)."""
    if type(raw) is not dict:
        return None
    get = raw.get
    address, wave, resources, digest = get("address"), get("wave", 1), get("resources", 0), get("hash", "")
    kind, sources, depends, files = get("kind", ""), get("sources", []), get("dependsOn", []), get("files", [])
    if not (type(address) is str and address and type(wave) is int and wave >= 1 and type(resources) is int
            and resources >= 0 and type(digest) is str and type(kind) is str and type(sources) is list
            and type(depends) is list and type(files) is list):
        return None
    sources_t, depends_t, files_t = tuple(sources), tuple(depends), tuple(files)
    for group in (sources_t, depends_t, files_t):
        for value in group:
            if type(value) is not str:
                return None
    return Stack(address, wave, resources, digest, kind, sources_t, depends_t, files_t)


def _sql_revisions(files: JsonObject) -> dict[str, str]:
    """``sql/<database>`` -> one string naming its ``.sql`` files and their digests (see
    :attr:`Manifest.sql_folders`), for every folder with a ``migrations.json``."""
    folders = {name.removesuffix("/migrations.json") for name in files if name.endswith("/migrations.json")}
    parts: dict[str, list[str]] = {folder: [] for folder in folders}
    for name, digest in files.items():
        folder, _, file = name.rpartition("/")
        if file.endswith(".sql") and folder in parts:
            parts[folder].append(f"{file}\0{digest}")
    return {folder: "\n".join(sorted(entries)) for folder, entries in parts.items()}


def parse_manifest(document: object, path: str) -> Manifest:
    """The typed manifest, or :class:`ApplyError` listing every shape problem found."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ApplyError([Problem(MANIFEST, path, "the manifest is not a JSON object",
                                  "run `paybill compile` to write generated/manifest.json")])
    stacks: list[Stack] = []
    raw_stacks = document.get("stacks", [])
    if not isinstance(raw_stacks, list):
        problems.append("'stacks' must be a list")
        raw_stacks = []
    for i, raw in enumerate(raw_stacks):
        fast = _fast_stack(raw)
        if fast is not None:
            stacks.append(fast)
            continue
        where = f"stacks[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where} must be an object")
            continue
        stacks.append(Stack(
            address=_str(raw.get("address"), f"{where}.address", problems),
            wave=max(1, _int(raw.get("wave"), 1, f"{where}.wave", problems)),
            resources=_int(raw.get("resources"), 0, f"{where}.resources", problems),
            hash=_str(raw.get("hash"), f"{where}.hash", problems, required=False),
            kind=_str(raw.get("kind"), f"{where}.kind", problems, required=False),
            sources=_strings(raw.get("sources"), f"{where}.sources", problems),
            depends_on=_strings(raw.get("dependsOn"), f"{where}.dependsOn", problems),
            files=_strings(raw.get("files"), f"{where}.files", problems)))
    removed: list[Removed] = []
    raw_removed = document.get("removed", [])
    if not isinstance(raw_removed, list):
        problems.append("'removed' must be a list")
        raw_removed = []
    for i, raw in enumerate(raw_removed):
        where = f"removed[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where} must be an object")
            continue
        removed.append(Removed(
            address=_str(raw.get("address"), f"{where}.address", problems),
            kind=_str(raw.get("kind"), f"{where}.kind", problems, required=False),
            hash=_str(raw.get("hash"), f"{where}.hash", problems, required=False),
            path=_str(raw.get("path"), f"{where}.path", problems, required=False) or None,
            retain_until=_str(raw.get("retainUntil"), f"{where}.retainUntil", problems, required=False) or None,
            sources=_strings(raw.get("sources"), f"{where}.sources", problems),
            unprotect=_strings(raw.get("unprotect"), f"{where}.unprotect", problems),
            resources=_int(raw.get("resources"), 0, f"{where}.resources", problems)))
    outputs = document.get("outputs", {})
    sql = _sql_revisions(cast(JsonObject, outputs["sql"])) \
        if isinstance(outputs, dict) and isinstance(outputs.get("sql"), dict) else {}
    addresses = [s.address for s in stacks]
    if len(set(addresses)) != len(addresses):
        problems.append("a stack address is listed twice")
    if problems:
        raise ApplyError([Problem(MANIFEST, path, f"the manifest is not what paybill writes: {p}",
                                  "do not edit generated/ by hand: run `paybill compile` again")
                          for p in problems])
    return Manifest(tuple(stacks), tuple(removed), sql)


def parse_manifest_text(text: str | bytes, path: str) -> Manifest:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ApplyError([Problem(MANIFEST, path, f"the manifest is not valid JSON ({error})",
                                  "run `paybill compile` to write generated/manifest.json again")]) from None
    return parse_manifest(document, path)


MAX_MANIFEST_BYTES = 1024 * 1024 * 1024
"""A manifest is read as a regular file up to this size (about 9.5 MB at 10,000 tenants)."""


def read_manifest(path: Path) -> Manifest:
    """The manifest at ``path``; a missing or unreadable file is PB1201.

    Read with the cyclic collector paused (:mod:`paybill.gcpause`): the 10,000-stack manifest is a
    few hundred thousand acyclic containers, and collections walking them doubled the read time.
    """
    try:
        data = read_regular(path, MAX_MANIFEST_BYTES)  # a FIFO or /dev/zero is refused, never waited on
    except OSError as error:
        raise ApplyError([Problem(MANIFEST, path.as_posix(), f"cannot read the manifest: {error.strerror or error}",
                                  "run `paybill compile` first (it writes generated/manifest.json)")]) from None
    with gc_paused():
        return parse_manifest_text(data, path.as_posix())
