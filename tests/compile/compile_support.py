"""Helpers for the compile/graph/write tests.

A uniquely named module (not conftest) so test modules can import it without clashing with other
folders' helpers; ``conftest.py`` re-exports the fixtures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from paybill.clouds import registry
from paybill.compile import CompileResult, compile_repository
from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers import CLOUD_EMITTERS

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path -> bytes)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_paybill(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "paybill", *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, check=False)


def invoke(*args: str, cwd: Path) -> Any:
    """Run the CLI in this process (faster than a subprocess); returns click's ``Result``."""
    from click.testing import CliRunner

    from paybill.cli.main import cli

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)


class FakeCloud:
    """A stand-in cloud emitter of the real :class:`CloudEmitter` shape.

    It lets these tests exercise stacks, waves, manifest entries and escaping end to end whatever
    the state of the real per-cloud emitters. It deliberately routes user text (the tenant's display
    name) into the stack, as real emitters do with descriptions and tags, so escaping is observable.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def configure(self, stack: Any, cloud: Any, region: str, tags: dict[str, str]) -> None:
        stack.required_providers["null"] = {"source": "hashicorp/null", "version": "~> 3.2"}

    def emit_pool(self, ctx: Any, stack: Any) -> None:
        stack.resource("terraform_data", "pool", {"input": {"pool": ctx.name, "cidr": ctx.network_cidr}})
        stack.output("pool_id", Expr("${terraform_data.pool.id}"), "the pool")

    def emit_tenant(self, ctx: Any, stack: Any) -> None:
        body: dict[str, Any] = {"input": {"display_name": ctx.tenant.spec.display_name, "tags": ctx.tags}}
        if ctx.pool is not None and ctx.layers.needs_pool:
            body["input"]["pool_id"] = Expr("${data.terraform_remote_state.pool.outputs.pool_id}")
        stack.resource("terraform_data", "tenant", body)


@pytest.fixture
def fake_clouds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace every provider's cloud emitter with :class:`FakeCloud` for one test."""
    for provider in registry.provider_ids():
        monkeypatch.setitem(CLOUD_EMITTERS, provider, FakeCloud(provider))


@pytest.fixture
def spec_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy the example specs under ``tmp_path/<name>/specs`` and apply text edits.

    ``make({"tenants/acme-corp.yaml": fn_or_text}, name="a")``; a callable edit must change the file.
    """

    def make(edits: dict[str, Callable[[str], str] | str] | None = None, name: str = "repo") -> Path:
        root = tmp_path / name / "specs"
        shutil.copytree(SPECS, root)
        for rel, edit in (edits or {}).items():
            path = root / rel
            if callable(edit):
                old = path.read_text(encoding="utf-8")
                new = edit(old)
                assert new != old, f"edit of {rel} changed nothing"
            else:
                new = edit
            path.write_text(new, encoding="utf-8")
        return root

    return make


def compiled(specs: Path = SPECS, **kwargs: Any) -> CompileResult:
    result = compile_repository(specs, **kwargs)
    assert result.ok, [f"{d.path}:{d.position.line}: {d.code} {d.message}" for d in result.diagnostics]
    return result


def touch_output(out: Path) -> None:
    """Give one output file another mtime (as a checkout would), so the next cached compile writes.

    A compile whose tree is exactly what ``out`` holds writes nothing (paybill.write.current) and so
    keeps no spare tree; tests that need a spare (paybill.write.spare) touch a file in between.
    """
    target = out / "manifest.json"
    info = target.stat()
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns - 10**9))


def exit_probe(report: str, argv: str) -> str:
    """A ``python -c`` script that runs ``paybill`` with ``sys.argv = <argv>`` and, as the process ends,
    prints the expression ``report`` (e.g. over ``sys.modules``) to standard error.

    It reports from :func:`paybill.gcpause.exit_process` (a one-shot process that succeeded ends there,
    without running ``atexit``) and from ``atexit`` (a command that exits otherwise), never both.
    """
    return ("import atexit, sys\n"
            "import paybill.gcpause as _g\n"
            f"_report = lambda: print({report}, file=sys.stderr)\n"
            "atexit.register(_report)\n"
            "_real = _g.exit_process\n"
            "_g.exit_process = lambda code: (_report(), _real(code))\n"
            "from paybill.cli.main import main\n"
            f"sys.argv = {argv}\n"
            "main()\n")
