"""Hostile input is expected input: each hazard gives one clean diagnostic, fast, and nothing runs.

Every case runs the real CLI in a subprocess (``paybill validate specs --format json``) on a
repository holding only the hazard, so a hang, a crash in C code, a traceback or an exit code other
than 1 is caught exactly as a user or CI would meet it. The time budget (2 s) is for the work, on
top of the interpreter's start-up measured once per module on a clean repository. It is measured in
CPU seconds of the child process, so a busy neighbour on a shared machine cannot make it flaky; a
hang (which burns no CPU, like a read blocked on a pipe) is caught by the subprocess timeout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support import run_cli

BUDGET_SECONDS = 2.0
HANG_SECONDS = 30.0

PLAN = """\
apiVersion: paybill.dev/v1alpha1
kind: Plan
metadata:
  name: {name}
spec:
  displayName: Starter
  tier: 1
  price: {{amount: 4900, currency: USD, interval: month}}
  quotas: {{seats: 10, storageGb: 50, apiRequestsPerSecond: 50, agents: 1}}
  isolation: {{allowed: [pooled], default: pooled}}
  sizing:
    compute: small
    database: {{size: small, backupRetentionDays: 7, storageGb: 20}}
    storageGb: 50
"""

DATA_MODEL = """\
apiVersion: paybill.dev/v1alpha1
kind: DataModel
metadata:
  name: crm
spec:
  tables:
    - name: {table}
      primaryKey: [id]
      columns:
        - {{name: id, type: uuid, nullable: false}}
        - {{name: {column}, type: text}}
"""


def plan(name: str) -> str:
    """A valid stand-alone Plan with ``name`` (YAML-quoted, so any string arrives as a string)."""
    return PLAN.format(name=json.dumps(name))


def data_model(table: str = "tickets", column: str = "subject") -> str:
    return DATA_MODEL.format(table=json.dumps(table), column=json.dumps(column))


def _billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["apiVersion: paybill.dev/v1alpha1", "kind: Plan", "metadata:", "  name: lol", "  annotations:",
             "    l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"    l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _python_tag(tag: str, marker: Path) -> str:
    return (
        "apiVersion: paybill.dev/v1alpha1\nkind: Plan\nmetadata:\n  name: evil\n"
        f"spec:\n  displayName: {tag} [\"touch {marker.as_posix()}\"]\n"
    )


@dataclass(frozen=True)
class Hazard:
    """One hostile input: how to plant it in ``specs/``, and the diagnostic code it must produce."""

    id: str
    code: str
    plant: Callable[[Path, Path], None]
    """Called with (specs root, a marker path that must never be created)."""


def write(relative: str, content: str | bytes) -> Callable[[Path, Path], None]:
    def plant(root: Path, marker: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    return plant


def python_tag(tag: str) -> Callable[[Path, Path], None]:
    def plant(root: Path, marker: Path) -> None:
        (root / "evil.yaml").write_text(_python_tag(tag, marker), encoding="utf-8")

    return plant


def symlink(target: str, name: str = "linked.yaml", make_outside: bool = True) -> Callable[[Path, Path], None]:
    def plant(root: Path, marker: Path) -> None:
        if make_outside:
            outside = root.parent / "outside"
            outside.mkdir(exist_ok=True)
            (outside / "secret.yaml").write_text(plan("secret"), encoding="utf-8")
        (root / name).symlink_to(target)

    return plant


def sparse_file(size: int) -> Callable[[Path, Path], None]:
    """A file of ``size`` bytes that costs no disk: only its size may be looked at, never its bytes."""

    def plant(root: Path, marker: Path) -> None:
        with open(root / "huge.yaml", "wb") as handle:
            handle.truncate(size)

    return plant


def fifo(root: Path, marker: Path) -> None:
    os.mkfifo(root / "pipe.yaml")


def symlink_loop(root: Path, marker: Path) -> None:
    (root / "loop.yaml").symlink_to("loop.yaml")


NAME_ATTACKS = {
    # file stem: (metadata.name, expected code). Names become cloud resource names, Terraform
    # addresses, Cedar ids and SQL identifier suffixes: none of these may ever pass.
    "dotdot": ("..", "PB0205"),
    "dotdot-path": ("t/../../etc", "PB0205"),
    "slash": ("acme/corp", "PB0205"),
    "terraform-interpolation": ('${file("/etc/passwd")}', "PB0205"),
    "terraform-directive": ("%{ for x in y }", "PB0205"),
    "double-quote": ('acme"corp', "PB0205"),
    "single-quote": ("acme'corp", "PB0205"),
    "upper-case": ("AcmeCorp", "PB0205"),
    "space": ("acme corp", "PB0205"),
    "sql-injection": ("x'); DROP TABLE t;--", "PB0205"),
    "cedar-injection": ('x" || true || "', "PB0205"),
    "null-byte": ("acme\u0000corp", "PB0205"),
    "newline": ("acme\ncorp", "PB0205"),
    "terminal-escape": ("\u001b[2Jacme", "PB0205"),
    "bidi-override": ("acme\u202eproc", "PB0205"),
    "unicode-lookalike": ("\u0430cme", "PB0205"),  # Cyrillic 'а'
    "empty": ("", "PB0205"),
    "too-long": ("a" * 41, "PB0206"),
    "long-injection": ('x" }; permit(principal, action, resource); //', "PB0206"),
}

HAZARDS = [
    Hazard("malformed-yaml", "PB0101", write("bad.yaml", "kind: Plan\nmetadata: {name: x\nspec: [1, 2\n")),
    Hazard("control-character", "PB0101", write("bad.yaml", "kind: Plan\nmetadata:\n  name: x\x07y\n")),
    Hazard("binary-garbage", "PB0101", write("bad.yaml", b"\x00\x01\x02\x03kind: Plan\n")),
    Hazard("duplicate-keys", "PB0102", write("dup.yaml", plan("starter") + "kind: Tenant\n")),
    Hazard("non-utf8-latin1", "PB0103", write("latin1.yaml", plan("starter").replace("Starter", "Caf\xe9")
                                               .encode("latin-1"))),
    Hazard("non-utf8-utf16", "PB0103", write("utf16.yaml", plan("starter").encode("utf-16"))),
    Hazard("python-object-apply", "PB0104", python_tag("!!python/object/apply:os.system")),
    Hazard("python-object-new", "PB0104", python_tag("!!python/object/new:subprocess.Popen")),
    Hazard("python-name", "PB0104", python_tag("!!python/name:os.system")),
    Hazard("python-module", "PB0104", python_tag("!!python/module:os")),
    Hazard("custom-tag", "PB0104", python_tag("!Ref")),
    Hazard("file-over-limit", "PB0105", sparse_file(64 * 1024 * 1024)),
    Hazard("file-just-over-limit", "PB0105", write("big.yaml", plan("big") + "#" * (1 << 20))),
    Hazard("too-many-documents", "PB0105", write("many.yaml", "---\n{a: 1}\n" * 5000)),
    Hazard("nesting-flow", "PB0106", write("deep.yaml", "a: " + "[" * 64 + "]" * 64 + "\n")),
    Hazard("nesting-flow-parser-limit", "PB0106", write("deep.yaml", "a: " + "[" * 200_000 + "]" * 200_000 + "\n")),
    Hazard("nesting-flow-unclosed", "PB0106", write("deep.yaml", "a: " + "{a: " * 100_000 + "\n")),
    Hazard("nesting-block", "PB0106", write("deep.yaml", "".join("  " * i + f"k{i}:\n" for i in range(64)) + "  " * 64
                                            + "v\n")),
    Hazard("nesting-block-sequence", "PB0106", write("deep.yaml", "a:\n  " + "- " * 100_000 + "x\n")),
    Hazard("billion-laughs", "PB0107", write("lol.yaml", _billion_laughs())),
    Hazard("billion-laughs-wide", "PB0107", write("lol.yaml", _billion_laughs(levels=6, width=40))),
    Hazard("recursive-alias-merge", "PB0107", write("lol.yaml", "a: &a {x: 1}\n" + "".join(
        f"b{i}: &b{i} {{<<: [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 8)}], k{i}: [{', '.join(['*a'] * 8)}]}}\n"
        for i in range(12)))),
    Hazard("tab-indentation", "PB0108", write("tabs.yaml", "kind: Plan\nmetadata:\n\tname: starter\n")),
    Hazard("list-document", "PB0109", write("list.yaml", "- apiVersion: paybill.dev/v1alpha1\n- kind: Plan\n")),
    Hazard("scalar-document", "PB0109", write("scalar.yaml", "just some text\n")),
    Hazard("unknown-api-version", "PB0110", write("v.yaml", plan("starter").replace("v1alpha1", "v2"))),
    Hazard("unknown-kind", "PB0111", write("k.yaml", plan("starter").replace("kind: Plan", "kind: Planet"))),
    Hazard("symlink-file-escape", "PB0112", symlink("../outside/secret.yaml")),
    Hazard("symlink-absolute-escape", "PB0112", symlink("/etc/passwd", make_outside=False)),
    Hazard("symlink-dir-escape", "PB0112", symlink("../outside", name="shared")),
    Hazard("huge-integer", "PB0113", write("n.yaml", plan("starter").replace("seats: 10", "seats: " + "9" * 10_000))),
    Hazard("fifo", "PB0114", fifo),
    Hazard("symlink-loop", "PB0114", symlink_loop),
    Hazard("table-sql-injection", "PB0205", write("crm.yaml", data_model(table="t; DROP TABLE users;--"))),
    Hazard("column-sql-injection", "PB0205", write("crm.yaml", data_model(column="id\" OR 1=1 --"))),
    Hazard("column-cedar-injection", "PB0205", write("crm.yaml", data_model(column="x in Group::\"admins\""))),
]


def timed_cli(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI; return its result and the CPU seconds (user + system) the child used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_cli(*args, cwd=cwd, timeout=HANG_SECONDS)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.fixture(scope="module")
def startup_seconds(tmp_path_factory: pytest.TempPathFactory) -> float:
    """CPU cost of starting the CLI and validating one clean file, best of two."""
    root = tmp_path_factory.mktemp("clean") / "specs"
    root.mkdir()
    (root / "plan.yaml").write_text(plan("starter"), encoding="utf-8")
    times = []
    for _ in range(2):
        result, seconds = timed_cli("validate", "specs", cwd=root.parent)
        assert result.returncode == 0, result.stdout + result.stderr
        times.append(seconds)
    return min(times)


@pytest.mark.parametrize("hazard", HAZARDS, ids=lambda h: h.id)
def test_hazard_gives_one_clean_diagnostic(hazard: Hazard, tmp_path: Path, startup_seconds: float) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    marker = tmp_path / "pwned"
    hazard.plant(root, marker)

    result, elapsed = timed_cli("validate", "specs", "--format", "json", cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == "", "nothing but diagnostics: no traceback, no warning"
    assert "Traceback" not in result.stdout
    diagnostics = json.loads(result.stdout)
    assert [d["code"] for d in diagnostics] == [hazard.code], diagnostics
    (diagnostic,) = diagnostics
    assert diagnostic["path"].startswith("specs/") and diagnostic["line"] >= 1 and diagnostic["col"] >= 1
    assert diagnostic["message"] and "\n" not in diagnostic["message"]
    assert not marker.exists(), "a YAML tag executed code"
    assert elapsed - startup_seconds < BUDGET_SECONDS, f"{elapsed:.2f} s CPU (start-up {startup_seconds:.2f} s)"


def test_text_output_has_no_traceback_for_a_python_tag(tmp_path: Path) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    marker = tmp_path / "pwned"
    python_tag("!!python/object/apply:os.system")(root, marker)
    result = run_cli("validate", "specs", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "specs/evil.yaml:6:16: error[PB0104]: YAML tag '!!python/object/apply:os.system' is not allowed",
        "  hint: specs are plain data: remove the tag (only strings, numbers, booleans, null, mappings and lists "
        "are accepted)",
        "1 error in 1 file checked",
    ]
    assert not marker.exists()


def test_every_hostile_name_gives_one_diagnostic_on_its_own_file(tmp_path: Path, startup_seconds: float) -> None:
    """All name attacks in one repository (one process): each file gets exactly one diagnostic.

    Every value is written as a JSON string (valid YAML), so it reaches the models verbatim.
    """
    root = tmp_path / "specs"
    root.mkdir()
    for stem, (name, _) in NAME_ATTACKS.items():
        (root / f"{stem}.yaml").write_text(plan(name), encoding="utf-8")
    result, elapsed = timed_cli("validate", "specs", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr == ""
    by_file = {d["path"]: (d["code"], d["line"], d["col"]) for d in json.loads(result.stdout)}
    expected = {f"specs/{stem}.yaml": (code, 4, 9) for stem, (_, code) in NAME_ATTACKS.items()}
    assert by_file == expected
    assert len(json.loads(result.stdout)) == len(NAME_ATTACKS)
    assert elapsed - startup_seconds < BUDGET_SECONDS


def test_user_input_cannot_forge_output_lines(tmp_path: Path) -> None:
    """A newline or terminal escape inside a value is shown escaped: one diagnostic, one line."""
    root = tmp_path / "specs"
    root.mkdir()
    forged = json.dumps("Plan\nspecs/x.yaml:1:1: error[PB0000]: forged\u001b[2J")
    (root / "plan.yaml").write_text(plan("starter").replace("kind: Plan", f"kind: {forged}"), encoding="utf-8")
    result = run_cli("validate", "specs", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == ("specs/plan.yaml:2:7: error[PB0111]: unknown kind "
                        "'Plan\\nspecs/x.yaml:1:1: error[PB0000]: forged\\x1b[2J'")
    assert lines[1].startswith("  hint: ")
    assert lines[2:] == ["1 error in 1 file checked"]
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("size", [0, 1, 4095, 65536, 65537, 200_001])
def test_spec_files_are_read_whole_and_never_past_the_limit(tmp_path: Path, size: int) -> None:
    """``_read_upto`` (plain ``os.read`` calls, no buffered file object) returns the file to its end,
    also when it grew after its fstat (a smaller ``size``), and never more than ``limit`` bytes."""
    from paybill.load.reader import _read_upto

    path = tmp_path / "t.yaml"
    data = bytes(i % 251 for i in range(size))
    path.write_bytes(data)
    for seen, limit, expected in [(size, size + 1, data), (size // 2, size + 1, data),
                                  (size, max(1, size // 3), data[:max(1, size // 3)])]:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            assert _read_upto(descriptor, seen, limit) == expected
        finally:
            os.close(descriptor)
