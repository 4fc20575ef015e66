"""Layering: the runtime loads no compiler, and the import contracts in pyproject.toml hold.

Two views of one rule. The contracts (``[tool.importlinter]``, run by ``lint-imports``) read the
source and see every import, including the ones a function makes late; the subprocess tests see
what one ``import`` really loads, third-party packages included. ``make test`` and ``make lint``
run ``lint-imports`` too; these tests make plain ``pytest`` enforce the same contracts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .support import ROOT

PACKAGE = ROOT / "compiler" / "paybill"
COMPILER = ("load", "validate", "resolve", "graph", "emit", "compile", "write", "plan", "propose", "audit",
            "billing", "models", "clouds", "providers", "changes", "gitio", "quotas", "apply", "scaffold", "cli")
"""The compiler's packages: a runtime entry point must load none of them."""
HEAVY = ("networkx", "yaml", "ruamel", "deepdiff", "git")
"""Third-party packages only the compiler needs (graph, YAML, round-trip edits, spec diffs, git)."""
RUNTIME = ("guard", "serve", "authzen", "dbops")
SHARED = ("contract", "diagnostics")
"""What the runtime may import besides itself: the bundle and SQL catalog formats, the problem record."""

ENTRY_POINTS = {
    # module(s) an agent process imports -> may it load pydantic?
    "paybill.guard.db": False,
    "paybill.authzen": False,
    # what `paybill serve` imports; the MCP SDK defines its messages as pydantic models
    "paybill.serve.mcp_app, paybill.serve.transport": True,
}


def loaded_after(modules: str) -> set[str]:
    """Every module in ``sys.modules`` after a fresh interpreter imports ``modules``."""
    code = f"import sys\nimport {modules}\nprint('\\n'.join(sorted(sys.modules)))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                            check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize(("modules", "pydantic_ok"), ENTRY_POINTS.items(), ids=list(ENTRY_POINTS))
def test_runtime_entry_point_loads_no_compiler(modules: str, pydantic_ok: bool) -> None:
    loaded = loaded_after(modules)
    compiler = sorted(m for m in loaded if m.startswith("paybill.") and m.split(".")[1] in COMPILER)
    assert compiler == [], f"{modules} loads compiler modules"
    heavy = sorted({m.split(".")[0] for m in loaded} & {*HEAVY, *(() if pydantic_ok else ("pydantic",))})
    assert heavy == [], f"{modules} loads compiler-only libraries"
    # what it does load is the runtime and its shared formats
    ours = {m.split(".")[1] for m in loaded if m.startswith("paybill.")}
    assert ours <= {*RUNTIME, *SHARED}, sorted(ours - {*RUNTIME, *SHARED})


def lint_imports() -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.fail(f"{command} is missing: install the test extra (make install-test)")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}
    return subprocess.run([str(command), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_import_contracts_hold() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def packages() -> set[str]:
    """Every package and top-level module directly under paybill/ (``paybill.x``)."""
    found = {path.name for path in PACKAGE.iterdir() if path.is_dir() and any(path.glob("*.py"))}
    found |= {path.stem for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    return {f"paybill.{name}" for name in found}


def test_every_package_is_covered_by_the_contracts() -> None:
    """A new package cannot slip past the contracts by not being named in them."""
    by_id = contracts()
    everything = packages()
    assert set(COMPILER) <= {name.split(".")[1] for name in everything}
    runtime_may_use = {f"paybill.{name}" for name in (*RUNTIME, *SHARED)}
    assert everything - set(by_id["runtime"]["forbidden_modules"]) == runtime_may_use
    assert everything - set(by_id["contract-leaf"]["forbidden_modules"]) == {"paybill.contract"}
    layered = {name.strip() for layer in by_id["pipeline"]["layers"] for name in layer.split("|")}
    assert everything - layered == {f"paybill.{name}" for name in RUNTIME} | {"paybill.__main__"}
    for name in everything:
        # a regular package (setuptools' find_packages skips a folder without __init__.py)
        path = PACKAGE / name.split(".")[1]
        assert not path.is_dir() or (path / "__init__.py").is_file(), f"{path} has no __init__.py"
