"""Manifests and a workspace with the fake ``terraform`` (see fake_terraform.py) for apply tests."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAKE = Path(__file__).with_name("fake_terraform.py")


def stack(address: str, wave: int = 1, resources: int = 10, hash: str | None = None,
          depends_on: tuple[str, ...] = (), sources: tuple[str, ...] | None = None) -> dict[str, Any]:
    kind, name = address.split("/")
    return {"address": address, "wave": wave, "resources": resources, "hash": hash or f"sha256:{address}",
            "kind": kind, "dependsOn": list(depends_on), "files": [f"terraform/{address}/main.tf.json"],
            "sources": list(sources if sources is not None else (f"specs/{kind}s/{name}.yaml",))}


def removed(address: str, until: str | None = "2026-11-09", unprotect: tuple[str, ...] = (),
            path: bool = True, resources: int = 5) -> dict[str, Any]:
    kind, name = address.split("/")
    entry: dict[str, Any] = {"address": address, "kind": kind, "retainUntil": until, "hash": f"sha256:rm-{address}",
                             "sources": [f"specs/{kind}s/{name}.yaml"], "unprotect": list(unprotect),
                             "resources": resources}
    if path:
        entry["path"] = f"terraform/removed/{address}/main.tf.json"
    return entry


def manifest(stacks: list[dict[str, Any]], removed_: list[dict[str, Any]] | None = None,
             sql: dict[str, str] | None = None) -> dict[str, Any]:
    waves: dict[int, list[str]] = {}
    for s in stacks:
        waves.setdefault(s["wave"], []).append(s["address"])
    return {"apiVersion": "paybill.dev/v1alpha1", "kind": "Manifest", "stacks": stacks,
            "waves": [sorted(waves[w]) for w in sorted(waves)], "removed": removed_ or [],
            "outputs": {"sql": {name: value for folder, digest in (sql or {}).items()
                                for name, value in sql_files(folder, digest).items()}}}


def sql_files(folder: str, digest: str, sources: str = "sha256:s") -> dict[str, str]:
    """A database folder's entries in the manifest's outputs: its migration (whose digest is the SQL
    revision) and its migrations.json (whose digest also follows the spec files it lists)."""
    return {f"{folder}/0001_roles.sql": digest, f"{folder}/migrations.json": f"{digest}+{sources}"}


@dataclass
class Workspace:
    """A repository folder with generated/ configurations and the fake terraform."""

    root: Path
    fails: list[dict[str, Any]] = field(default_factory=list)
    states: dict[str, list[str]] = field(default_factory=dict)

    @property
    def generated(self) -> Path:
        return self.root / "generated"

    @property
    def terraform(self) -> str:
        return str(self.root / "bin" / "terraform")

    def write(self, document: dict[str, Any]) -> Path:
        for s in document["stacks"]:
            folder = self.generated / "terraform" / s["address"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "main.tf.json").write_text("{}", encoding="utf-8")
        for r in document.get("removed", []):
            if r.get("path"):
                folder = self.generated / "terraform" / "removed" / r["address"]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "main.tf.json").write_text("{}", encoding="utf-8")
        for name in document.get("outputs", {}).get("sql", {}):
            (self.generated / name).parent.mkdir(parents=True, exist_ok=True)
            (self.generated / name).write_text("{}", encoding="utf-8")
        path = self.generated / "manifest.json"
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        (self.root / "fails.json").write_text(json.dumps(self.fails), encoding="utf-8")
        states = self.root / "states"
        states.mkdir(exist_ok=True)
        for address, resources in self.states.items():
            name = f"generated/terraform/removed/{address}".replace("/", "_")
            (states / name).write_text("".join(f"{r}\n" for r in resources), encoding="utf-8")
        (self.root / "counters").mkdir(exist_ok=True)
        return {**os.environ, "FAKE_LOG": str(self.root / "log"), "FAKE_FAILS": str(self.root / "fails.json"),
                "FAKE_COUNTERS": str(self.root / "counters"), "FAKE_STATES": str(states), **extra}

    def calls(self) -> list[dict[str, Any]]:
        log = self.root / "log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def lines(self) -> list[str]:
        """Each call as '<dir> <args>' (dir relative to the repository), in the order they started."""
        return [f"{c['dir']} {' '.join(c['args'])}" for c in sorted(self.calls(), key=lambda c: c["t0"])]


def make_workspace(root: Path) -> Workspace:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "terraform"
    fake.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.argv[0] = {str(FAKE)!r}\n"
                    f"runpy.run_path({str(FAKE)!r}, run_name='__main__')\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return Workspace(root)
